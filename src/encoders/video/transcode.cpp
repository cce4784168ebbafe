// Demux -> decode -> swscale / swresample -> libtheora / libvorbis -> Matroska or Ogg, the way
// the ffmpeg CLI does it with `-c:v libtheora -q:v N -c:a libvorbis -q:a N -sn`, but in-process.
// This file is the one place that knows the whole pipeline of a file, as fftools/ffmpeg_sched.c
// is; the stages are input.cpp (demux), decoder.cpp, video_track.cpp, audio_track.cpp,
// output.cpp (mux) and video_parts.cpp.
#include "transcode.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "audio_track.hpp"
#include "decoder.hpp"
#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "mediabatch/errors.hpp"
#include "output.hpp"
#include "verify_output.hpp"
#include "video_parts.hpp"
#include "video_track.hpp"

namespace mediabatch::video {

namespace {

// How one attempt at the file ended, when it did not throw.
enum class Attempt { written, parts_do_not_join };

// How the main reading ended.
struct Reading {
  enum End { end_of_input, broken_off, tracks_done, part_failed } end;
  int error = 0;  // broken_off: FFmpeg's reason
};

// The tracks the main reading feeds, and which input stream goes to which.
class Tracks {
 public:
  explicit Tracks(const AVFormatContext* in) : route_(in->nb_streams, kDropped) {}

  VideoTrack& add_video(std::unique_ptr<VideoTrack> track, const AVStream* from) {
    route_[static_cast<std::size_t>(from->index)] = kVideo;
    video_ = std::move(track);
    return *video_;
  }
  void add_audio(std::unique_ptr<AudioTrack> track, const AVStream* from) {
    route_[static_cast<std::size_t>(from->index)] = static_cast<int>(audio_.size());
    audio_.push_back(std::move(track));
  }
  VideoTrack* video() { return video_.get(); }

  // Sends a packet to the track of its stream, unless that is done or there is none.
  void send(const AVPacket* packet, AVFrame* frame, const Timeline& time, const EncodeContext& ctx) {
    const int index = packet->stream_index;
    const int target = index >= 0 && static_cast<std::size_t>(index) < route_.size()
                           ? route_[static_cast<std::size_t>(index)]
                           : kDropped;
    if (target == kDropped) return;
    if (target == kVideo) {
      if (!video_->done()) video_->decode(packet, frame, time, ctx);
    } else if (AudioTrack& audio = *audio_[static_cast<std::size_t>(target)]; !audio.done()) {
      audio.decode(packet, frame, time);
    }
  }

  // Drains the decoders.
  void drain(AVFrame* frame, const Timeline& time, const EncodeContext& ctx) {
    if (video_ && !video_->done()) video_->decode(nullptr, frame, time, ctx);
    for (auto& audio : audio_)
      if (!audio->done()) audio->decode(nullptr, frame, time);
  }
  // Drains the audio encoders; `until_us` as AudioTrack::flush.
  void flush_audio(std::int64_t until_us) {
    for (auto& audio : audio_) audio->flush(until_us);
  }
  // What the decoders skipped or concealed, a note each.
  std::vector<std::string> damage_notes() const {
    std::vector<std::string> notes;
    if (video_) notes = video_->decode_log().notes();
    for (const auto& audio : audio_) {
      const std::vector<std::string> more = audio->decode_log().notes();
      notes.insert(notes.end(), more.begin(), more.end());
    }
    return notes;
  }

  bool all_done() const {
    if (video_ && !video_->done()) return false;
    return std::all_of(audio_.begin(), audio_.end(), [](const auto& audio) { return audio->done(); });
  }
  std::int64_t packets() const {
    std::int64_t written = video_ ? video_->packets() : 0;
    for (const auto& audio : audio_) written += audio->packets();
    return written;
  }
  // What each stream of `out` was given, for --verify.
  WrittenFile written(const AVFormatContext* out, bool ogg) const {
    WrittenFile file;
    file.ogg = ogg;
    file.streams.resize(out->nb_streams);
    auto put = [&file](const WrittenStream& stream) {
      file.streams.at(static_cast<std::size_t>(stream.index)) = stream;
    };
    if (video_) put(video_->written());
    for (const auto& audio : audio_) put(audio->written());
    return file;
  }
  // Output time where the coded tracks end.
  std::int64_t reached_us() const {
    std::int64_t reached = video_ ? video_->span.reached_us : 0;
    for (const auto& audio : audio_)
      if (audio->reached_us() != AV_NOPTS_VALUE) reached = std::max(reached, audio->reached_us());
    return reached;
  }

 private:
  static constexpr int kDropped = -1;
  static constexpr int kVideo = -2;  // else the number of an audio track
  std::unique_ptr<VideoTrack> video_;
  std::vector<std::unique_ptr<AudioTrack>> audio_;
  std::vector<int> route_;  // by input stream
};

Reading read_input(AVFormatContext* in, Tracks& tracks, const VideoParts& parts, const Timeline& time, bool strict,
                   const EncodeContext& ctx, AVPacket* packet, AVFrame* frame) {
  for (;;) {
    ctx.throw_if_stopped();
    if (parts.failed()) return {Reading::part_failed};
    const int r = read_packet(in, packet);
    if (r == AVERROR_EOF) return {Reading::end_of_input};
    // As with the ffmpeg CLI, an input that breaks off ends there, and what was read is kept.
    if (r < 0) {
      if (strict) fail("reading the input", r);
      return {Reading::broken_off, r};
    }
    tracks.send(packet, frame, time, ctx);
    av_packet_unref(packet);
    if (tracks.all_done()) return {Reading::tracks_done};
  }
}

// The warning for an input that ends before its end (it broke off, or was cut short), else
// empty. Under --strict such an input throws Error instead.
std::string missing_end(const AVFormatContext* in, const Tracks& tracks, const Timeline& time, const Reading& reading,
                        bool strict) {
  // The container's own length, not a guess from the bit rate.
  const bool known_length = in->duration > 0 && in->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
  const std::int64_t reached_us = tracks.reached_us();
  const std::int64_t expected_us = known_length ? expected_end_us(in, time) : 0;
  const std::string ends =
      "the input ends at " + time_text(reached_us) + (known_length ? " of " + time_text(expected_us) : "");
  if (reading.end == Reading::broken_off) return ends + ": the rest is missing (" + av_error(reading.error) + ")";
  // A file cut short may demux and decode to its end without an error: only its length tells.
  if (reading.end != Reading::end_of_input || !known_length ||
      reached_us >= expected_us - std::max<std::int64_t>(AV_TIME_BASE / 2, expected_us / 10))
    return {};
  if (strict) throw Error(ends + ": truncated or damaged");
  return ends + ": the rest is missing";
}

// Throws Error when nothing was coded, with what the decoders met.
void check_decoded(const Tracks& tracks, const Settings& settings) {
  if (tracks.packets() > 0) return;
  if (settings.start > 0)
    throw Error("nothing to encode after --start " + time_text(std::llround(settings.start * AV_TIME_BASE)));
  std::string reason = "no audio or video could be decoded";
  const std::vector<std::string> notes = tracks.damage_notes();
  for (std::size_t i = 0; i < notes.size(); ++i) reason += (i == 0 ? ": " : "; ") + notes[i];
  throw Error(reason);
}

// One attempt at the file; with in_parts, the video may be coded in parts on ctx.threads().
Attempt transcode_file(EncodeContext& ctx, const Settings& settings, bool in_parts) {
  const std::string input_path = ctx.input().string();
  StopFlags stop(ctx);
  InputFormat in = open_input(input_path, stop);
  const InputStreams streams = select_streams(in.get(), settings.all_audio);
  const Timeline time = start_timeline(in.get(), settings, ctx);
  const int threads = std::max(1, ctx.threads());
  // Matroska only: Ogg's constant rate carries state from frame to frame.
  const std::vector<std::int64_t> part_starts = in_parts && streams.video && !settings.ogg
                                                    ? plan_parts(in.get(), time, threads)
                                                    : std::vector<std::int64_t>{};

  const std::string output_path = ctx.temp_output().string();
  OutputFormat out = open_output(output_path, settings.ogg, in.get(), stop);
  copy_chapters(out.get(), in.get(), time);
  Packet packet(av_packet_alloc());
  Packet out_packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !out_packet || !frame) throw Error("out of memory");

  Tracks tracks(in.get());
  VideoParts parts(stop, ctx);
  if (streams.video) {
    const int video_threads = part_starts.empty() ? threads : 1;  // each part takes one of them
    CodecContext decoder = open_decoder(streams.video, video_threads, "video");
    const VideoParams params = video_params(in.get(), streams.video, decoder.get(), settings);
    VideoTrack& video = tracks.add_video(
        std::make_unique<VideoTrack>(streams.video, std::move(decoder), params, video_threads, settings.strict),
        streams.video);
    video.write_to(out.get(), out_packet.get(), params);
    if (time.trim_start) video.span.begin_us = 0;
    video.span.end_us = part_starts.empty() ? time.end_us : part_starts.front();
    parts.start(part_starts, PartSource{input_path, streams.video->index, params, time},
                ctx.temp_output().parent_path());
  }
  // Audio runs ahead of the video while later parts wait in their spill files: the muxer keeps
  // it until the video catches up, however far that is.
  if (!parts.empty()) out->max_interleave_delta = 0;
  for (AVStream* st : streams.audio)
    tracks.add_audio(std::make_unique<AudioTrack>(st, out.get(), out_packet.get(), settings, threads, ctx), st);
  start_output(out.get(), output_path);

  const Reading reading = read_input(in.get(), tracks, parts, time, settings.strict, ctx, packet.get(), frame.get());
  if (reading.end == Reading::part_failed) return Attempt::parts_do_not_join;
  tracks.drain(frame.get(), time, ctx);
  if (tracks.video() && !parts.join_onto(*tracks.video())) return Attempt::parts_do_not_join;
  const std::string missing = missing_end(in.get(), tracks, time, reading, settings.strict);
  // Streams of an input cut short end together: audio that stops first is filled with silence.
  tracks.flush_audio(missing.empty() ? AV_NOPTS_VALUE : tracks.reached_us());
  check_decoded(tracks, settings);
  for (const std::string& note : tracks.damage_notes()) ctx.warn(note);
  if (!missing.empty()) ctx.warn(missing);
  // FFmpeg's Ogg muxer writes chapters for Opus and FLAC streams only.
  if (settings.ogg && out->nb_chapters > 0)
    ctx.warn("chapters are not kept in Ogg: FFmpeg writes none for Theora and Vorbis");
  finish_output(out.get());
  if (ctx.verify()) {
    // The engine runs the check after encode() returns, on this thread and within the job
    // whose context ctx is (run_job), so the reference stays good; it is for the stop flags.
    WrittenFile written = tracks.written(out.get(), settings.ogg);
    ctx.check_output(ctx.temp_output(), [written = std::move(written), threads, &ctx](const fs::path& temp) {
      verify_output(temp, written, threads, ctx);
    });
  }
  return Attempt::written;
}

}  // namespace

void transcode(EncodeContext& ctx, const Settings& settings) {
  if (transcode_file(ctx, settings, true) == Attempt::parts_do_not_join) transcode_file(ctx, settings, false);
}

}  // namespace mediabatch::video
