// JPEG markers and colour (src/encoders/thumbs/jpeg_codec.*, colour.*, image.*): decode_jpeg
// with its saved APP1 EXIF and APP2 ICC markers (libjpeg-turbo reassembles the ICC chunks,
// and reads APP14 Adobe for the colour transform: CMYK or YCCK, inverted inks), then what the
// thumbs encoder does with the result: resize, orient, and the ICC profile through Little CMS.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "mediabatch/errors.hpp"
#include "thumbs/colour.hpp"
#include "thumbs/image.hpp"
#include "thumbs/jpeg_codec.hpp"

namespace {

// A JPEG header may claim 65500x65500 in a few hundred bytes. The encoder's --max-pixels
// (250 megapixels by default) refuses more before libjpeg allocates; here the limit is far
// lower, as in libjpeg-turbo's own fuzzers, so the fuzzer spends its time on markers and not
// on clearing memory, and the limit's check is fuzzed along with the rest.
constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 22;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace thumbs = mediabatch::thumbs;
  // The encoder's own test for which decoder a file goes to.
  if (!thumbs::is_jpeg(data, size)) return 0;
  const thumbs::Size box{128, 128};
  try {
    thumbs::DecodedJpeg d = thumbs::decode_jpeg(data, size, box, kMaxPixels);
    if (d.orientation < 1 || d.orientation > 8) __builtin_trap();
    const thumbs::Size shown = thumbs::fit_inside(thumbs::oriented_size(d.full, d.orientation), box);
    const thumbs::Size stored = thumbs::oriented_size(shown, d.orientation);
    // The DCT scale was chosen to cover the thumbnail: the resampler only ever shrinks.
    if (d.image.width < stored.width || d.image.height < stored.height) __builtin_trap();
    thumbs::Image image = thumbs::orient(thumbs::resize(d.image, stored.width, stored.height), d.orientation);
    std::string note;
    image = thumbs::to_output_colour(std::move(image), d.icc, &note);
    if (image.channels != 1 && image.channels != 3) __builtin_trap();
  } catch (const mediabatch::Error&) {
  }
  return 0;
}
