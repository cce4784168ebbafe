#pragma once
// Each built-in encoder's one-line description, for --help: here, so that the program can list
// the commands without loading a module (registry.cpp), and each encoder's description()
// returns the same text.
#include <string_view>

namespace mediabatch::descriptions {

inline constexpr std::string_view thumbs =
    "JPEG, PNG or WebP thumbnails of photos (JPEG; HEIC and AVIF through libheif; PNG, TIFF, WebP and GIF "
    "through ImageMagick)";
inline constexpr std::string_view dicom =
    "DICOM images to PNG: windowed, cropped, with density (every transfer syntax)";
inline constexpr std::string_view video =
    "Videos to Theora + Vorbis in Matroska (.mkv) or Ogg (.ogv), in-process with FFmpeg's libraries";
inline constexpr std::string_view flac =
    "WAV to FLAC (libFLAC), with album tags, cue sheet splitting, cover art and ReplayGain";

}  // namespace mediabatch::descriptions
