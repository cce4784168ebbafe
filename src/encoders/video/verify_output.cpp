#include "verify_output.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "matroska_crc.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::video {

namespace {

constexpr std::int64_t kAudioSlackUs = 50'000;
// Matroska keeps times to the millisecond.
constexpr std::int64_t kRoundingUs = 1'000;

std::string frames_text(std::int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string size_text(int width, int height) { return std::to_string(width) + "x" + std::to_string(height); }

// One output stream as it is read back.
struct Reading {
  const WrittenStream* written = nullptr;
  std::string name;  // "video", "audio", "audio stream 2" (of several)
  AVRational time_base{1, 1};
  CodecContext decoder;
  std::int64_t frames = 0;  // decoded
  std::int64_t samples = 0;
  std::int64_t first_us = AV_NOPTS_VALUE;  // the first packet's time
  std::int64_t end_us = AV_NOPTS_VALUE;    // where the last decoded frame ends

  bool video() const { return written->type == AVMEDIA_TYPE_VIDEO; }
  void ends_at(std::int64_t us) { end_us = end_us == AV_NOPTS_VALUE ? us : std::max(end_us, us); }
  // Packet to frame: the first packet only primes a Vorbis decoder, so the stream's start is
  // taken from the packets (as it was written) and its end from the frames.
  std::int64_t lasts_us() const {
    return first_us == AV_NOPTS_VALUE || end_us == AV_NOPTS_VALUE ? 0 : end_us - first_us;
  }
};

InputFormat open_output_file(const fs::path& file, const StopFlags& stop) {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error("out of memory");
  raw->interrupt_callback = stop.callback();
  const int r = avformat_open_input(&raw, file.c_str(), nullptr, nullptr);  // frees raw on failure
  if (r < 0) fail("opening the output", r);
  return InputFormat(raw);
}

// "video", "audio", or "audio stream 2" when there are several.
std::string stream_name(const std::vector<WrittenStream>& written, std::size_t index) {
  const AVMediaType type = written[index].type;
  const char* kind = type == AVMEDIA_TYPE_VIDEO ? "video" : "audio";
  const auto same =
      std::count_if(written.begin(), written.end(), [type](const WrittenStream& w) { return w.type == type; });
  if (same <= 1) return kind;
  const auto nth = std::count_if(written.begin(), written.begin() + static_cast<std::ptrdiff_t>(index),
                                 [type](const WrittenStream& w) { return w.type == type; });
  return std::string(kind) + " stream " + std::to_string(nth + 1);
}

// libavcodec's own decoders, by name: "libvorbis" would be the library that wrote the stream.
CodecContext open_checking_decoder(const AVStream* st, const Reading& reading, int threads) {
  const char* name = reading.video() ? "theora" : "vorbis";
  const AVCodec* codec = avcodec_find_decoder_by_name(name);
  if (!codec) throw Error(std::string("this FFmpeg has no ") + name + " decoder");
  CodecContext dec(avcodec_alloc_context3(codec));
  if (!dec) throw Error("out of memory");
  int r = avcodec_parameters_to_context(dec.get(), st->codecpar);
  if (r < 0) fail("setting up the " + reading.name + " decoder", r);
  dec->pkt_timebase = st->time_base;
  dec->thread_count = reading.video() ? threads : 1;
  // Report damage instead of concealing it.
  dec->err_recognition = AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER | AV_EF_EXPLODE;
  r = avcodec_open2(dec.get(), codec, nullptr);
  if (r < 0) fail(std::string("opening the ") + name + " decoder", r);
  return dec;
}

// Stream count, codecs and picture size, from the headers.
std::vector<Reading> check_streams(const AVFormatContext* in, const WrittenFile& file, int threads) {
  const std::string format = in->iformat->name;
  if (format.find(file.ogg ? "ogg" : "matroska") == std::string::npos)
    throw Error("output is " + format + ", not " + (file.ogg ? "Ogg" : "Matroska"));
  const std::vector<WrittenStream>& written = file.streams;
  if (in->nb_streams != written.size())
    throw Error("output has " + frames_text(in->nb_streams, "stream") + ", " + std::to_string(written.size()) +
                (written.size() == 1 ? " was" : " were") + " written");
  std::vector<Reading> readings(written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    Reading& reading = readings[i];
    const AVStream* st = in->streams[i];
    const AVCodecParameters* par = st->codecpar;
    reading.written = &written[i];
    reading.name = stream_name(written, i);
    reading.time_base = st->time_base;
    if (par->codec_type != written[i].type || par->codec_id != written[i].codec)
      throw Error("output stream " + std::to_string(i) + " is " + avcodec_get_name(par->codec_id) + ", " +
                  avcodec_get_name(written[i].codec) + " was written");
    if (reading.video() && (par->width != written[i].width || par->height != written[i].height))
      throw Error("video is " + size_text(par->width, par->height) + ", " +
                  size_text(written[i].width, written[i].height) + " was encoded");
    if (!reading.video() &&
        (par->sample_rate != written[i].sample_rate || par->ch_layout.nb_channels != written[i].channels))
      throw Error(reading.name + " is " + std::to_string(par->ch_layout.nb_channels) + " channels at " +
                  std::to_string(par->sample_rate) + " Hz, " + std::to_string(written[i].channels) + " at " +
                  std::to_string(written[i].sample_rate) + " Hz were encoded");
    reading.decoder = open_checking_decoder(st, reading, threads);
  }
  return readings;
}

void on_frame(Reading& reading, const AVFrame* f) {
  if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT))
    throw Error("decoding " + reading.name + " frame " + std::to_string(reading.frames + 1) + ": " +
                av_error(AVERROR_INVALIDDATA) + " (damaged data concealed)");
  const std::int64_t ts = f->best_effort_timestamp;
  const std::int64_t us = ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(ts, reading.time_base, kMicroseconds);
  ++reading.frames;
  if (reading.video()) {
    const WrittenStream& w = *reading.written;
    if (f->width != w.width || f->height != w.height)
      throw Error("video frame " + std::to_string(reading.frames) + " is " + size_text(f->width, f->height) + ", " +
                  size_text(w.width, w.height) + " was encoded");
    if (us != AV_NOPTS_VALUE) reading.ends_at(us + w.frame_us);
    return;
  }
  reading.samples += f->nb_samples;
  if (us != AV_NOPTS_VALUE && f->sample_rate > 0)
    reading.ends_at(us + av_rescale(f->nb_samples, AV_TIME_BASE, f->sample_rate));
}

// Decodes one packet (null: the end) of a stream.
// A decoding failure. FFmpeg's VP3/Theora decoder returns a bare -1 for a frame it cannot
// parse, which av_strerror() would call "Operation not permitted".
void fail_decoding(const Reading& reading, int code) {
  const std::string what = "decoding " + reading.name + " frame " + std::to_string(reading.frames + 1);
  if (code == -1) throw Error(what + ": the decoder rejects it (damaged data)");
  fail(what, code);
}

void decode(Reading& reading, const AVPacket* packet, AVFrame* frame) {
  // An empty Theora packet repeats the frame before it (Ogg drops it): nothing to decode, and
  // libavcodec would take it for the end of the stream.
  if (packet && packet->size == 0) return;
  if (packet && reading.first_us == AV_NOPTS_VALUE) {
    const std::int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    if (ts != AV_NOPTS_VALUE) reading.first_us = av_rescale_q(ts, reading.time_base, kMicroseconds);
  }
  int r = avcodec_send_packet(reading.decoder.get(), packet);
  if (r < 0 && r != AVERROR_EOF) fail_decoding(reading, r);
  for (;;) {
    r = avcodec_receive_frame(reading.decoder.get(), frame);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail_decoding(reading, r);
    on_frame(reading, frame);
    av_frame_unref(frame);
  }
}

// Every packet of every stream through its decoder.
void read_all(AVFormatContext* in, std::vector<Reading>& readings, const StopFlags& stop) {
  Packet packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !frame) throw Error("out of memory");
  for (;;) {
    stop.throw_if_stopped();
    const int r = av_read_frame(in, packet.get());
    if (r == AVERROR_EOF) break;
    if (r < 0) fail("reading the output", r);
    const auto index = static_cast<std::size_t>(packet->stream_index);
    if (index >= readings.size()) throw Error("reading the output: a packet of an unknown stream");
    Reading& reading = readings[index];
    if (packet->flags & AV_PKT_FLAG_CORRUPT) {
      const std::int64_t us =
          packet->pts == AV_NOPTS_VALUE ? 0 : av_rescale_q(packet->pts, reading.time_base, kMicroseconds);
      throw Error("reading the output: a damaged " + reading.name + " packet at " + time_text(us));
    }
    decode(reading, packet.get(), frame.get());
    av_packet_unref(packet.get());
  }
  // A read error that the demuxer took for the end of the file.
  if (in->pb && in->pb->error < 0) fail("reading the output", in->pb->error);
  for (Reading& reading : readings) decode(reading, nullptr, frame.get());
}

// What was read against what was written. Durations, not times: the muxer moves every stream
// by the same few milliseconds when audio starts before 0 (a Vorbis encoder's priming).
void compare(const Reading& reading) {
  const WrittenStream& w = *reading.written;
  const std::string& name = reading.name;
  const std::int64_t written_us = w.packets > 0 ? w.end_us - w.first_us : 0;
  if (reading.video()) {
    if (reading.frames != w.packets)
      throw Error("output has " + frames_text(reading.frames, "video frame") + ", " + std::to_string(w.packets) +
                  (w.packets == 1 ? " was" : " were") + " encoded");
    // Matroska rounds both ends to the millisecond.
    if (std::llabs(reading.lasts_us() - written_us) > w.frame_us + 2 * kRoundingUs)
      throw Error("video lasts " + time_text(reading.lasts_us()) + ", " + time_text(written_us) + " were encoded");
    return;
  }
  // The first packet only primes a Vorbis decoder: its samples are not output.
  const std::int64_t expected = w.samples - w.first_samples;
  const std::int64_t slack = av_rescale(kAudioSlackUs, w.sample_rate, AV_TIME_BASE);
  if (std::llabs(reading.samples - expected) > slack)
    throw Error(name + " has " + std::to_string(reading.samples) + " samples (" +
                time_text(av_rescale(reading.samples, AV_TIME_BASE, w.sample_rate)) + "), " + std::to_string(expected) +
                " (" + time_text(av_rescale(expected, AV_TIME_BASE, w.sample_rate)) + ") were encoded");
  if (std::llabs(reading.lasts_us() - written_us) > kAudioSlackUs)
    throw Error(name + " lasts " + time_text(reading.lasts_us()) + ", " + time_text(written_us) + " were encoded");
}

}  // namespace

void verify_output(const fs::path& file, const WrittenFile& written, int threads, const EncodeContext& ctx) {
  StopFlags stop(ctx);
  InputFormat in = open_output_file(file, stop);
  std::vector<Reading> readings = check_streams(in.get(), written, std::max(1, threads));
  read_all(in.get(), readings, stop);
  for (const Reading& reading : readings) compare(reading);
  if (!written.ogg) check_matroska_crcs(file);
}

}  // namespace mediabatch::video
