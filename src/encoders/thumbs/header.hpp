#pragma once
// The size an image file's header claims, read before any decoder allocates for it, and the
// --max-pixels rule. Pure functions; thread-safe. check_max_pixels throws mediabatch::Error.
#include <cstddef>
#include <cstdint>
#include <optional>

namespace mediabatch::thumbs {

// A size as a header states it: TIFF and PNG allow more than an int holds.
struct Dimensions {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

// Width and height from the header of a PNG (IHDR), GIF (the larger of the logical screen and
// the first image descriptor, in each direction), WebP (VP8, VP8L or VP8X canvas) or classic
// TIFF (first IFD); nothing when the bytes are none of these or the header is cut short.
std::optional<Dimensions> header_size(const std::uint8_t* data, std::size_t size) noexcept;

// Throws Error("image is 60000x60000 (3600 megapixels), above --max-pixels 250000000") when
// the image holds more than max_pixels pixels; 0 means no limit.
void check_max_pixels(Dimensions size, std::uint64_t max_pixels);

}  // namespace mediabatch::thumbs
