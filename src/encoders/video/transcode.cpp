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
#include <vector>

#include "audio_track.hpp"
#include "decoder.hpp"
#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "mediabatch/errors.hpp"
#include "output.hpp"
#include "video_parts.hpp"
#include "video_track.hpp"

namespace mediabatch::video {

namespace {

// How one attempt at the file ended, when it did not throw.
enum class Attempt { written, parts_do_not_join };

// How the main reading ended.
enum class Reading { end_of_input, tracks_done, part_failed };

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
  void send(const AVFormatContext* in, const AVPacket* packet, AVFrame* frame, const Timeline& time,
            const EncodeContext& ctx) {
    const int index = packet->stream_index;
    const int target = index >= 0 && static_cast<std::size_t>(index) < route_.size()
                           ? route_[static_cast<std::size_t>(index)]
                           : kDropped;
    if (target == kDropped) return;
    check_intact(in, packet, time);
    if (target == kVideo) {
      if (!video_->done()) video_->decode(packet, frame, time, ctx);
    } else if (AudioTrack& audio = *audio_[static_cast<std::size_t>(target)]; !audio.done()) {
      audio.decode(packet, frame, time);
    }
  }

  // Drains the decoders, then the encoders.
  void drain(AVFrame* frame, const Timeline& time, const EncodeContext& ctx) {
    if (video_ && !video_->done()) video_->decode(nullptr, frame, time, ctx);
    for (auto& audio : audio_) {
      if (!audio->done()) audio->decode(nullptr, frame, time);
      audio->flush();
    }
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

Reading read_input(AVFormatContext* in, Tracks& tracks, const VideoParts& parts, const Timeline& time,
                   const EncodeContext& ctx, AVPacket* packet, AVFrame* frame) {
  for (;;) {
    ctx.throw_if_stopped();
    if (parts.failed()) return Reading::part_failed;
    if (!read_packet(in, packet)) return Reading::end_of_input;
    tracks.send(in, packet, frame, time, ctx);
    av_packet_unref(packet);
    if (tracks.all_done()) return Reading::tracks_done;
  }
}

// Throws Error when nothing was coded, or when the file ends well before its container says.
void check_complete(const AVFormatContext* in, const Tracks& tracks, const Timeline& time, const Settings& settings,
                    Reading reading) {
  if (tracks.packets() == 0)
    throw Error(settings.start > 0 ? "nothing to encode after --start " + time_text(std::llround(settings.start * AV_TIME_BASE))
                                   : "no audio or video could be decoded");
  // A file cut short demuxes and decodes without an error; the container's own length
  // (not a guess from the bit rate) tells that data is missing.
  if (reading != Reading::end_of_input || in->duration <= 0 ||
      in->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE)
    return;
  const std::int64_t reached_us = tracks.reached_us();
  const std::int64_t expected_us = expected_end_us(in, time);
  if (reached_us < expected_us - std::max<std::int64_t>(AV_TIME_BASE / 2, expected_us / 10))
    throw Error("the input ends at " + time_text(reached_us) + " of " + time_text(expected_us) +
                ": truncated or damaged");
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
  Packet packet(av_packet_alloc());
  Packet out_packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !out_packet || !frame) throw Error("out of memory");

  Tracks tracks(in.get());
  VideoParts parts(stop, ctx);
  if (streams.video) {
    CodecContext decoder = open_decoder(streams.video, part_starts.empty() ? threads : 1, "video");
    const TheoraParams params = theora_params(in.get(), streams.video, decoder.get(), settings);
    VideoTrack& video =
        tracks.add_video(std::make_unique<VideoTrack>(streams.video, std::move(decoder), params), streams.video);
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

  const Reading reading = read_input(in.get(), tracks, parts, time, ctx, packet.get(), frame.get());
  if (reading == Reading::part_failed) return Attempt::parts_do_not_join;
  tracks.drain(frame.get(), time, ctx);
  if (tracks.video() && !parts.join_onto(*tracks.video())) return Attempt::parts_do_not_join;
  check_complete(in.get(), tracks, time, settings, reading);
  finish_output(out.get());
  return Attempt::written;
}

}  // namespace

void transcode(EncodeContext& ctx, const Settings& settings) {
  if (transcode_file(ctx, settings, true) == Attempt::parts_do_not_join) transcode_file(ctx, settings, false);
}

}  // namespace mediabatch::video
