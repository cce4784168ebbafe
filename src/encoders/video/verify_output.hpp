#pragma once
// --verify: a written output read back by libavformat's demuxer and libavcodec's own Theora and
// Vorbis decoders (not libtheora and libvorbis, which wrote it), every packet decoded, and
// what it holds compared with what was written. Thread-safe: all state is per call.
#include <cstdint>
#include <vector>

#include "mediabatch/encoder.hpp"

extern "C" {
#include <libavcodec/codec_id.h>
#include <libavutil/avutil.h>
}

namespace mediabatch::video {

// What the encoder handed the muxer for one output stream. Times are output times.
struct WrittenStream {
  int index = -1;  // of the output stream
  AVMediaType type = AVMEDIA_TYPE_UNKNOWN;
  AVCodecID codec = AV_CODEC_ID_NONE;
  // Packets that hold data (video: a coded frame each; an empty packet repeats the frame
  // before it and is not counted here), the first one's time and where the last one ends.
  std::int64_t packets = 0;
  std::int64_t first_us = AV_NOPTS_VALUE;
  std::int64_t end_us = AV_NOPTS_VALUE;
  int width = 0;                           // video: the picture
  int height = 0;
  std::int64_t frame_us = 0;               // video: one frame's length
  int sample_rate = 0;                     // audio
  int channels = 0;
  std::int64_t samples = 0;                // audio: the packets' durations added up
  std::int64_t first_samples = 0;          // audio: the first packet's, which a decoder only primes with
};

// What an output was given.
struct WrittenFile {
  bool ogg = false;                    // Ogg, else Matroska
  std::vector<WrittenStream> streams;  // by output stream index
};

// Reads `file` back and throws Error with a one-line reason when it differs from `written`:
// another container, stream count, codec, picture size or audio format; a demuxing or decoding
// error, or damage the decoder concealed; a video frame count other than written; a stream
// that ends (or, video, starts) more than a frame (audio: 50 ms) away from where it was written
// to; audio with 50 ms of samples more or fewer; in Matroska, a CRC-32 that does not match
// (matroska_crc.hpp). The video decoder runs on `threads` threads. Throws Cancelled when `ctx`
// says stop.
void verify_output(const fs::path& file, const WrittenFile& written, int threads, const EncodeContext& ctx);

}  // namespace mediabatch::video
