#include "input.hpp"

#include <algorithm>
#include <cmath>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

extern "C" {
#include <libavutil/mathematics.h>
}

namespace mediabatch::video {

std::string time_text(std::int64_t us) { return media_time_text(static_cast<double>(us) / AV_TIME_BASE); }

InputFormat open_input(const std::string& path, const StopFlags& stop) {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error("out of memory");
  raw->interrupt_callback = stop.callback();
  int r = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);  // frees raw on failure
  if (r < 0) fail("opening the input", r);
  InputFormat in(raw);
  r = avformat_find_stream_info(in.get(), nullptr);
  if (r < 0) fail("reading the stream parameters", r);
  return in;
}

InputStreams select_streams(const AVFormatContext* in, bool all_audio) {
  InputStreams streams;
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    AVStream* st = in->streams[i];
    const AVMediaType type = st->codecpar->codec_type;
    if (type == AVMEDIA_TYPE_VIDEO && !streams.video && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
      streams.video = st;
    else if (type == AVMEDIA_TYPE_AUDIO && (all_audio || streams.audio.empty()))
      streams.audio.push_back(st);
  }
  if (!streams.video && streams.audio.empty()) throw Error("no audio or video stream in the input");
  return streams;
}

std::int64_t Timeline::output_us(std::int64_t ts, AVRational time_base) const {
  return av_rescale_q(ts, time_base, kMicroseconds) - origin_us;
}

Timeline start_timeline(AVFormatContext* in, const Settings& settings, EncodeContext& ctx) {
  Timeline time;
  time.origin_us = in->start_time != AV_NOPTS_VALUE ? in->start_time : 0;
  if (settings.start > 0) {
    time.origin_us += std::llround(settings.start * AV_TIME_BASE);
    time.trim_start = true;
    // Like ffmpeg's -ss before -i: seek to the key frame before, decode from there, drop
    // what comes before the start.
    const int r = seek_key_frame(in, time.origin_us);
    if (r < 0) {
      if (r == AVERROR_EXIT) fail("seeking", r);
      ctx.warn("could not seek to " + time_text(time.origin_us) + " (" + av_error(r) +
               "), decoding from the beginning");
    }
  }
  if (settings.duration >= 0) time.end_us = std::llround(settings.duration * AV_TIME_BASE);
  return time;
}

std::int64_t expected_end_us(const AVFormatContext* in, const Timeline& time) {
  const std::int64_t declared_us = (in->start_time != AV_NOPTS_VALUE ? in->start_time : 0) + in->duration;
  return std::min(declared_us - time.origin_us, time.end_us);
}

int seek_key_frame(AVFormatContext* in, std::int64_t us) {
  return avformat_seek_file(in, -1, std::numeric_limits<std::int64_t>::min(), us, us, 0);
}

int read_packet(AVFormatContext* in, AVPacket* packet) {
  const int r = av_read_frame(in, packet);
  if (r == AVERROR(ENOMEM) || r == AVERROR_EXIT) fail("reading the input", r);
  return r < 0 ? r : 0;
}

}  // namespace mediabatch::video
