#pragma once
// --verify for the dicom encoder: a written PNG read back with libpng's read API (code apart
// from png_writer's) and compared with what was encoded. What was encoded is kept as a few
// numbers and a 64-bit hash of its pixel rows, never as a copy of the image, so a 950-frame
// series costs no memory while its checks wait. Stateless and thread-safe; check_png throws
// mediabatch::Error.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "png_writer.hpp"

namespace mediabatch::dicom {

// A fast 64-bit hash of rows of bytes (four multiply-rotate lanes over 8-byte words), for
// telling a decoded image from the one that was encoded: not cryptographic. Rows must be fed
// with the same lengths on both sides for equal bytes to hash equal.
class RowHash {
 public:
  void add_row(const std::uint8_t* row, std::size_t bytes) noexcept;
  std::uint64_t value() const noexcept;

 private:
  std::uint64_t lanes_[4] = {0x9E3779B97F4A7C15u, 0xC2B2AE3D27D4EB4Fu, 0x165667B19E3779F9u, 0x27D4EB2F165667C5u};
  std::uint64_t rows_ = 0;
};

// What the PNG of one frame must hold.
struct PngExpectation {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int depth = 8;               // bits per sample
  int channels = 1;            // 1: greyscale (colour type 0), 3: truecolour (2)
  std::uint64_t pixels = 0;    // RowHash of the rows as encoded (PNG byte order)
  double density_dpi = 0;      // > 0: a pHYs chunk of that many dots per inch, in dots per metre
};

// The expectation for `image` written with `options`; hashes its rows.
PngExpectation expect_png(const PngImage& image, const PngOptions& options);

// Decodes the PNG at `path` once and throws Error with what differs from `expected`
// ("pixels differ from those encoded", "reading PNG: IDAT: CRC error", ...).
void check_png(const std::filesystem::path& path, const PngExpectation& expected);

}  // namespace mediabatch::dicom
