#pragma once
// A minimal PNG writer for the dicom encoder: 8- or 16-bit gray or RGB, one filter for every
// row, zlib data from libdeflate, a pHYs chunk and nothing else (no text chunks, so no DICOM
// attribute can leak into the PNG). Stateless and thread-safe; throws mediabatch::Error.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mediabatch::dicom {

// The PNG filter applied to every row; adaptive picks, per row, the filter whose output has
// the smallest sum of absolute values (libpng's heuristic).
enum class PngFilter { none, sub, up, average, paeth, adaptive };

struct PngImage {
  const std::uint8_t* pixels = nullptr;  // first byte of the first row, samples in PNG order
  std::size_t stride = 0;                // bytes from one row to the next
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int channels = 1;                      // 1 (gray) or 3 (RGB)
  int depth = 8;                         // 8 or 16 bits per sample (16: big-endian bytes)
};

struct PngOptions {
  int level = 2;                // libdeflate level, 0..12
  PngFilter filter = PngFilter::up;
  double density_dpi = 300.0;   // written as pHYs; <= 0 writes no pHYs
};

// Encodes the image to PNG bytes.
std::vector<std::uint8_t> encode_png(const PngImage& image, const PngOptions& options);

// Writes bytes to path, checking every step (including the close).
void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);

}  // namespace mediabatch::dicom
