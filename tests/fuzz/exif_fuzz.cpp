// The EXIF orientation reader (exif_orientation in src/encoders/thumbs/jpeg_codec.cpp): the
// TIFF header and first IFD of an APP1 "Exif\0\0" payload, as decode_jpeg hands it over.
#include <cstddef>
#include <cstdint>

#include "thumbs/jpeg_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int orientation = mediabatch::thumbs::exif_orientation(data, size);
  // orient() and oriented_size() take anything outside 1-8 as 1, but the reader promises 1-8.
  if (orientation < 1 || orientation > 8) __builtin_trap();
  return 0;
}
