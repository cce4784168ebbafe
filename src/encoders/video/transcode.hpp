#pragma once
// One file through FFmpeg's libraries: demux, decode, convert, encode to Theora + Vorbis, mux.
#include "mediabatch/encoder.hpp"

namespace mediabatch::video {

// --deinterlace: auto deinterlaces what the stream or its frames say is interlaced.
enum class Deinterlace { automatic, on, off };

struct Settings {
  bool ogg = false;          // Ogg (.ogv) instead of Matroska
  double video_quality = 6;  // Theora 0..10, as ffmpeg -q:v
  double audio_quality = 3;  // Vorbis -1..10, as ffmpeg -q:a
  int speed = 2;             // --speed 0..3: libtheora's levels, see video_encoder.cpp
  double start = 0;          // seconds skipped at the beginning (like -ss before -i)
  double duration = -1;      // seconds kept; negative: to the end
  int max_height = 0;        // scale down to at most this height; 0: keep the size
  bool all_audio = false;    // every audio stream instead of the first
  bool strict = false;       // fail on the first damage instead of converting what decodes
  bool autorotate = true;    // turn pictures upright by the stream's display matrix
  Deinterlace deinterlace = Deinterlace::automatic;
  bool tonemap = true;       // PQ and HLG input to SDR BT.709
};

// Converts ctx.input() into ctx.temp_output(). Throws Error with FFmpeg's reason, or
// Cancelled when ctx.should_stop() turns true. Thread-safe: all state is per call.
void transcode(EncodeContext& ctx, const Settings& settings);

}  // namespace mediabatch::video
