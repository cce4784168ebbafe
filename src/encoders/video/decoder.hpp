#pragma once
// Decoding (libavcodec), the first stage of both tracks.
#include <cstdint>
#include <string>

#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"

namespace mediabatch::video {

// A decoder for `stream` on `threads` threads; `kind` ("video", "audio") names it in reasons.
CodecContext open_decoder(const AVStream* stream, int threads, const std::string& kind);

// Throws Error when the decoder concealed damage in `frame`.
void check_intact(const AVFrame* frame, const std::string& kind, std::int64_t count);

// Sends one packet (or the end, when packet is null) to a decoder and hands on every frame;
// `count` is the number of frames decoded so far, for reasons. Throws Error, Cancelled.
template <typename OnFrame>
void decode(AVCodecContext* dec, const AVPacket* packet, AVFrame* frame, const std::string& kind,
            const std::int64_t& count, OnFrame&& on_frame) {
  int r = avcodec_send_packet(dec, packet);
  if (r < 0 && r != AVERROR_EOF) fail("decoding " + kind + " frame " + std::to_string(count + 1), r);
  for (;;) {
    r = avcodec_receive_frame(dec, frame);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail("decoding " + kind + " frame " + std::to_string(count + 1), r);
    check_intact(frame, kind, count);
    on_frame(frame);
    av_frame_unref(frame);
  }
}

}  // namespace mediabatch::video
