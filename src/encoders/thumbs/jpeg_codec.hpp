#pragma once
// JPEG decoding straight to thumbnail scale and JPEG encoding, on libjpeg-turbo's classic API.
// Each call owns its libjpeg objects; thread-safe. Failures throw mediabatch::Error with
// libjpeg's own message.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

struct DecodedJpeg {
  Image image;                       // gray (1), RGB (3) or CMYK with ink = 255 (4)
  Size full;                         // stored size before DCT scaling
  int orientation = 1;               // EXIF orientation, 1 when absent or invalid
  std::vector<std::uint8_t> icc;     // embedded ICC profile, empty when none
  std::vector<std::string> warnings; // libjpeg's corrupt-data warnings, deduplicated
};

bool is_jpeg(const std::uint8_t* data, std::size_t size) noexcept;

// Decodes at the smallest DCT scale (1/8, 1/4, 1/2 or 1) that still covers `box` after orientation
// and fitting. check_stop is called between scanline batches and may throw (Cancelled).
// The resampler then has little left to do. A stored size of more than max_pixels pixels
// (0: no limit) fails right after the header, before libjpeg allocates for the image.
DecodedJpeg decode_jpeg(const std::uint8_t* data, std::size_t size, Size box, std::uint64_t max_pixels,
                        const std::function<void()>& check_stop = {});

// The EXIF orientation (1-8) in an APP1 "Exif\0\0" payload, or 1.
int exif_orientation(const std::uint8_t* data, std::size_t size) noexcept;

// Baseline JPEG of a gray or RGB image at `quality` (1-100), colour 4:2:0 below
// quality 90 and 4:4:4 from 90 (as libvips does), with the ICC
// profile embedded when given and no other metadata.
std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality,
                                      const std::vector<std::uint8_t>& icc = {});

}  // namespace mediabatch::thumbs
