#pragma once
// WavReader: a streaming reader of integer PCM WAV (RIFF, RF64/BW64, WAVE_FORMAT_EXTENSIBLE).
// Owns one open file; not thread-safe (one per thread). Throws mediabatch::Error with a
// one-line reason for anything FLAC cannot hold or a damaged file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mediabatch/file_io.hpp"

namespace mediabatch::flac {

struct WavFormat {
  unsigned channels = 0;
  unsigned sample_rate = 0;
  unsigned bits = 0;         // container bits per sample: 8, 16, 24 or 32
  unsigned block_align = 0;  // bytes per frame
  bool extensible = false;
  std::uint32_t channel_mask = 0;  // from WAVE_FORMAT_EXTENSIBLE, 0 when absent
  std::uint64_t data_offset = 0;   // file offset of the first sample byte
  std::uint64_t frames = 0;        // whole frames in the data chunk
};

class WavReader {
 public:
  // Opens and parses the header; throws Error (unsupported format, no audio data). Data cut
  // short is read as far as it goes, with a note; with `strict` it is an Error.
  explicit WavReader(const std::filesystem::path& path, bool strict = false);

  const WavFormat& format() const noexcept { return format_; }
  // Notes about the file that do not stop the encode (a partial last frame).
  const std::vector<std::string>& notes() const noexcept { return notes_; }

  // Positions the reader at a frame (0 = first frame of the data chunk).
  void seek_frame(std::uint64_t frame);
  // Reads up to `frames` frames into `out` (frames * channels signed samples, interleaved).
  // Returns the frames read; 0 at the end of the data. Throws Error on a read failure.
  std::size_t read(std::int32_t* out, std::size_t frames);

 private:
  std::filesystem::path path_;
  File file_;
  WavFormat format_;
  std::vector<std::string> notes_;
  std::uint64_t position_ = 0;  // next frame to read
  std::vector<unsigned char> bytes_;
};

// A one-line description of the format for messages ("16-bit stereo 44100 Hz").
std::string describe(const WavFormat& format);

}  // namespace mediabatch::flac
