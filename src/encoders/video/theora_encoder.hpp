#pragma once
// Theora through libtheora itself rather than libavcodec's wrapper, which offers no way to set
// libtheora's speed level. Everything else is set as the wrapper sets it (libavcodec/
// libtheoraenc.c), so at libtheora's default level (1, early skip) with fast_unreferenced off
// the packets are the ones `ffmpeg -c:v libtheora` writes. Owns its libtheora context; one per
// file, not thread-safe. Throws Error.
#include <cstdint>
#include <memory>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/rational.h>
#include <theora/theoraenc.h>
}

struct AVPacket;

namespace mediabatch::video {

struct TheoraEncodeFree {
  void operator()(th_enc_ctx* c) const noexcept { th_encode_free(c); }
};
using TheoraContext = std::unique_ptr<th_enc_ctx, TheoraEncodeFree>;

struct TheoraParams {
  int width = 0;                    // the picture; libtheora codes whole 16x16 blocks around it
  int height = 0;
  AVRational frame_rate{25, 1};
  AVRational sample_aspect{0, 1};   // 0/1: unknown, written as 1:1
  AVColorPrimaries primaries = AVCOL_PRI_UNSPECIFIED;
  double quality = 6;               // 0..10 as `ffmpeg -q:v`, libtheora's 0..63 scale / 6.3
  int keyframe_interval = 12;       // libavcodec's default gop_size, which the CLI keeps
  int speed_level = 1;              // 0 (slowest) up; 1 is libtheora's default, more than it has is its fastest
  // The frame before a forced key frame is the one frame no other frame predicts from, so a
  // cheaper analysis there costs only its own bits: code it at the fastest level. On the bench
  // clips: 2% more bytes, 0.03 dB less PSNR, 5% less work in libtheora.
  bool fast_unreferenced = false;
};

class TheoraEncoder {
 public:
  explicit TheoraEncoder(const TheoraParams& params);

  // The three header packets, each after its 16-bit big-endian size: the codec private data
  // libavformat's Matroska and Ogg muxers take for Theora (what libtheoraenc.c produces).
  const std::vector<std::uint8_t>& headers() const { return headers_; }

  // Encodes one yuv420p frame of the picture size. libtheora is told the 16-aligned frame size
  // but reads only the picture and pads the rest itself (checked under valgrind), so the
  // buffers need not be padded. Fills `packet` with the coded
  // frame: pts = dts = `pts`, duration 1, the key flag set on key frames. Returns false when
  // libtheora has no packet for this frame.
  bool encode(const AVFrame& frame, std::int64_t pts, AVPacket* packet);

 private:
  TheoraContext ctx_;
  std::vector<std::uint8_t> headers_;
  th_ycbcr_buffer planes_{};
  std::int64_t keyframe_mask_ = 0;
  int keyframe_interval_ = 0;
  int speed_level_ = 0;     // for frames others predict from
  int fast_level_ = 0;      // for the frame before a forced key frame
  int current_level_ = 0;   // what libtheora is set to now
  int since_key_ = -1;      // frames since the last key frame, as of the last frame coded
};

}  // namespace mediabatch::video
