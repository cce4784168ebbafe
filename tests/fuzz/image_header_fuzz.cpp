// The image header reader of the thumbs encoder's pixel limit (header_size and
// check_max_pixels in src/encoders/thumbs/header.*): PNG, GIF, WebP and TIFF headers, read
// from a file of any content before ImageMagick is given it.
#include <cstddef>
#include <cstdint>

#include "mediabatch/errors.hpp"
#include "thumbs/header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace thumbs = mediabatch::thumbs;
  const auto dims = thumbs::header_size(data, size);
  if (!dims) return 0;
  try {
    thumbs::check_max_pixels(*dims, 250000000);
  } catch (const mediabatch::Error&) {
  }
  return 0;
}
