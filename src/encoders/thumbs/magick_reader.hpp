#pragma once
// The general path for inputs that are not JPEG (PNG, TIFF, WebP, GIF): ImageMagick decodes
// the first frame and applies its orientation; transparency is kept. Thread-safe
// (one Magick::Image per call); throws mediabatch::Error with ImageMagick's message.
#include <cstdint>
#include <string>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

struct MagickDecoded {
  Image image;                        // upright; gray, RGB or CMYK inks, alpha unless opaque
  std::vector<std::uint8_t> icc;      // embedded ICC profile, empty when none
  std::vector<std::string> warnings;  // ImageMagick warnings met while reading
};

// One-time ImageMagick start-up; call once per process before magick_decode().
void magick_init();

// "ImageMagick 6.9.11-60 Q16", as loaded.
std::string magick_version();

// Whether the first bytes are a PNG, GIF, TIFF or WebP signature.
bool is_magick_format(const std::uint8_t* data, std::size_t size) noexcept;

// Fails with the size before anything is decoded when the image holds more than max_pixels
// pixels (0: no limit).
MagickDecoded magick_decode(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels);

}  // namespace mediabatch::thumbs
