#include "decoder.hpp"

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

void check_intact(const AVFrame* frame, const std::string& kind, std::int64_t count) {
  // The decoder concealed damage (what `ffmpeg -xerror` stops on as "corrupt decoded
  // frame"): the input is broken midway, and the output would show it.
  if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
    throw Error("decoding " + kind + " frame " + std::to_string(count + 1) + ": " + av_error(AVERROR_INVALIDDATA) +
                " (damaged data concealed)");
}

}  // namespace mediabatch::video
