#include "decoder.hpp"

#include <utility>

#include "mediabatch/errors.hpp"

namespace mediabatch::video {

CodecContext open_decoder(const AVStream* stream, int threads, const std::string& kind) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) throw Error("no decoder for the " + kind + " codec " + avcodec_get_name(stream->codecpar->codec_id));
  CodecContext dec(avcodec_alloc_context3(codec));
  if (!dec) throw Error("out of memory");
  int r = avcodec_parameters_to_context(dec.get(), stream->codecpar);
  if (r < 0) fail("setting up the " + kind + " decoder", r);
  dec->pkt_timebase = stream->time_base;
  dec->thread_count = threads;
  r = avcodec_open2(dec.get(), codec, nullptr);
  if (r < 0) fail(std::string("opening the ") + codec->name + " decoder", r);
  return dec;
}

DecodeLog::DecodeLog(std::string kind, AVRational time_base, bool strict)
    : kind_(std::move(kind)), time_base_(time_base), strict_(strict) {}

void DecodeLog::Tally::add(std::int64_t us) {
  ++count;
  if (us == AV_NOPTS_VALUE) return;
  if (first_us == AV_NOPTS_VALUE || us < first_us) first_us = us;
  if (last_us == AV_NOPTS_VALUE || us > last_us) last_us = us;
}

std::string DecodeLog::Tally::note(const std::string& what) const {
  std::string text = std::to_string(count) + " damaged " + what + (count == 1 ? "" : "s");
  if (first_us == AV_NOPTS_VALUE) return text;
  if (first_us == last_us) return text + " at " + time_text(first_us);
  return text + " between " + time_text(first_us) + " and " + time_text(last_us);
}

std::vector<std::string> DecodeLog::notes() const {
  std::vector<std::string> notes;
  if (skipped_.count > 0)
    notes.push_back(skipped_.note(kind_ + " packet") + " skipped (" + av_error(skip_reason_) + ")");
  if (concealed_.count > 0) notes.push_back(concealed_.note(kind_ + " frame") + " concealed");
  return notes;
}

void DecodeLog::sent(const AVPacket* packet, int result, const Timeline& time) {
  const bool corrupt = packet && (packet->flags & AV_PKT_FLAG_CORRUPT);
  if (packet) {
    const std::int64_t ts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    packet_us_ = ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : time.output_us(ts, time_base_);
  }
  // The demuxer read less than the packet should hold: a file cut short, or damage it saw.
  if (corrupt && strict_) throw Error("reading the input: a corrupt packet at " + time_text(packet_us_));
  if (result < 0 && result != AVERROR_EOF) {
    failed(result);
  } else if (corrupt) {
    concealed_.add(packet_us_);
    corrupt_pts_ = packet->pts;
  }
}

void DecodeLog::failed(int code) {
  // No memory is not damage; a stop (AVERROR_EXIT) is not either.
  if (strict_ || code == AVERROR(ENOMEM) || code == AVERROR_EXIT)
    fail("decoding " + kind_ + " frame " + std::to_string(frames_ + 1), code);
  if (skipped_.count == 0) skip_reason_ = code;
  skipped_.add(packet_us_);
}

void DecodeLog::decoded(const AVFrame* frame, const Timeline& time) {
  ++frames_;
  // The decoder concealed damage: what `ffmpeg -xerror` stops on as "corrupt decoded frame".
  if (!frame->decode_error_flags && !(frame->flags & AV_FRAME_FLAG_CORRUPT)) return;
  if (strict_)
    throw Error("decoding " + kind_ + " frame " + std::to_string(frames_) + ": " + av_error(AVERROR_INVALIDDATA) +
                " (damaged data concealed)");
  // The frame of a packet already counted as corrupt is the same damage.
  if (frame->pts != AV_NOPTS_VALUE && frame->pts == corrupt_pts_) return;
  const std::int64_t ts = frame->best_effort_timestamp;
  concealed_.add(ts == AV_NOPTS_VALUE ? packet_us_ : time.output_us(ts, time_base_));
}

}  // namespace mediabatch::video
