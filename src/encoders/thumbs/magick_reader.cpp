#include "magick_reader.hpp"

#include <Magick++.h>

#include <cstring>

#include "mediabatch/errors.hpp"

namespace mediabatch::thumbs {

void magick_init() {
  Magick::InitializeMagick(nullptr);
  // The scheduler owns parallelism: no OpenMP team inside each task.
  Magick::ResourceLimits::thread(1);
}

bool is_magick_format(const std::uint8_t* d, std::size_t n) noexcept {
  auto starts = [&](const char* sig, std::size_t len, std::size_t at = 0) {
    return n >= at + len && std::memcmp(d + at, sig, len) == 0;
  };
  return starts("\x89PNG\r\n\x1a\n", 8) || starts("GIF87a", 6) || starts("GIF89a", 6) ||
         starts("II\x2a\x00", 4) || starts("MM\x00\x2a", 4) || (starts("RIFF", 4) && starts("WEBP", 4, 8));
}

MagickDecoded magick_decode(const std::uint8_t* data, std::size_t size) {
  MagickDecoded out;
  try {
    const Magick::Blob blob(data, size);
    Magick::Image img;
    img.subRange(1);  // first frame of a GIF or page of a TIFF
    try {
      img.read(blob);
    } catch (const Magick::Warning& w) {  // the image is read; the warning is a note
      out.warnings.emplace_back(w.what());
    }
    if (img.columns() == 0 || img.rows() == 0)
      throw Error("reading image with ImageMagick: " + (out.warnings.empty() ? "no image in the file" : out.warnings[0]));
    img.autoOrient();

    const bool gray = img.colorSpace() == Magick::GRAYColorspace || img.type() == Magick::GrayscaleType ||
                      img.type() == Magick::GrayscaleMatteType;
    const bool cmyk = !gray && img.colorSpace() == Magick::CMYKColorspace;
    if (img.matte()) {
      img.backgroundColor(Magick::Color(cmyk ? "cmyk(0,0,0,0)" : "white"));
      img.alphaChannel(Magick::RemoveAlphaChannel);
    }
    if (!gray && !cmyk && img.colorSpace() != Magick::sRGBColorspace)  // e.g. linear RGB, Lab, YCbCr
      img.colorSpace(Magick::sRGBColorspace);

    const Magick::Blob profile = img.iccColorProfile();
    if (profile.length() > 0) {
      const auto* p = static_cast<const std::uint8_t*>(profile.data());
      out.icc.assign(p, p + profile.length());
    }
    out.image = Image(static_cast<int>(img.columns()), static_cast<int>(img.rows()), gray ? 1 : cmyk ? 4 : 3);
    img.write(0, 0, img.columns(), img.rows(), gray ? "I" : cmyk ? "CMYK" : "RGB", Magick::CharPixel,
              out.image.pixels.data());
  } catch (const Magick::Exception& e) {
    throw Error(std::string("reading image with ImageMagick: ") + e.what());
  }
  return out;
}

}  // namespace mediabatch::thumbs
