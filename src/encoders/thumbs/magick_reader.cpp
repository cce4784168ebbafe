#include "magick_reader.hpp"

#include <Magick++.h>

#include <cstring>
#include <optional>
#include <string>

#include "header.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::thumbs {

namespace {

// The size from the header where we can read it, else from ImageMagick's ping, which reads
// the header only. Either way before a pixel is allocated.
Dimensions stored_size(const std::uint8_t* data, std::size_t size, const Magick::Blob& blob) {
  if (const auto dims = header_size(data, size)) return *dims;
  Magick::Image probe;
  probe.subRange(1);
  try {
    probe.ping(blob);
  } catch (const Magick::Warning&) {  // the size is known; read() reports the warning
  }
  return {static_cast<std::uint32_t>(probe.columns()), static_cast<std::uint32_t>(probe.rows())};
}

// ImageMagick's policy.xml (Debian's: 16K pixels a side, 128 megapixels) refuses big images
// with messages that name no size ("No image was loaded"): say which limit it was.
std::string magick_limit_note(Dimensions d) {
  using Limits = Magick::ResourceLimits;
  const std::string size = std::to_string(d.width) + "x" + std::to_string(d.height);
  if (d.width > Limits::width() || d.height > Limits::height())
    return " (the image is " + size + ", above ImageMagick's width and height limits " +
           std::to_string(Limits::width()) + "x" + std::to_string(Limits::height()) + " in its policy.xml)";
  if (std::uint64_t{d.width} * d.height > Limits::area())
    return " (the image is " + size + ", above ImageMagick's area limit of " + std::to_string(Limits::area()) +
           " pixels in its policy.xml)";
  return {};
}

}  // namespace

void magick_init() {
  Magick::InitializeMagick(nullptr);
  // The scheduler owns parallelism: no OpenMP team inside each task.
  Magick::ResourceLimits::thread(1);
}

std::string magick_version() {
  std::size_t number = 0;
  const std::string text = MagickCore::GetMagickVersion(&number);  // "ImageMagick 6.9.11-60 Q16 x86_64 ..."
  const auto arch = text.find(' ', text.find(" Q"));
  return text.substr(0, arch == std::string::npos ? text.size() : arch);
}

bool is_magick_format(const std::uint8_t* d, std::size_t n) noexcept {
  auto starts = [&](const char* sig, std::size_t len, std::size_t at = 0) {
    return n >= at + len && std::memcmp(d + at, sig, len) == 0;
  };
  return starts("\x89PNG\r\n\x1a\n", 8) || starts("GIF87a", 6) || starts("GIF89a", 6) ||
         starts("II\x2a\x00", 4) || starts("MM\x00\x2a", 4) || (starts("RIFF", 4) && starts("WEBP", 4, 8));
}

MagickDecoded magick_decode(const std::uint8_t* data, std::size_t size, std::uint64_t max_pixels) {
  MagickDecoded out;
  std::optional<Dimensions> stored;
  const auto failure = [&](const std::string& why) {
    return Error("reading image with ImageMagick: " + why + (stored ? magick_limit_note(*stored) : std::string()));
  };
  try {
    const Magick::Blob blob(data, size);
    stored = stored_size(data, size, blob);
    check_max_pixels(*stored, max_pixels);
    Magick::Image img;
    img.subRange(1);  // first frame of a GIF or page of a TIFF
    try {
      img.read(blob);
    } catch (const Magick::Warning& w) {  // the image is read; the warning is a note
      out.warnings.emplace_back(w.what());
    }
    if (img.columns() == 0 || img.rows() == 0)
      throw failure(out.warnings.empty() ? "no image in the file" : out.warnings[0]);
    img.autoOrient();

    const bool gray = img.colorSpace() == Magick::GRAYColorspace || img.type() == Magick::GrayscaleType ||
                      img.type() == Magick::GrayscaleMatteType;
    const bool cmyk = !gray && img.colorSpace() == Magick::CMYKColorspace;
    // PNGs and TIFFs often carry an alpha channel that is opaque throughout. Dropped, it costs
    // no premultiplied resampling, and the PNG or WebP thumbnail holds no alpha plane.
    const bool alpha = img.matte() && !img.isOpaque();
    if (!gray && !cmyk && img.colorSpace() != Magick::sRGBColorspace)  // e.g. linear RGB, Lab, YCbCr
      img.colorSpace(Magick::sRGBColorspace);

    const Magick::Blob profile = img.iccColorProfile();
    if (profile.length() > 0) {
      const auto* p = static_cast<const std::uint8_t*>(profile.data());
      out.icc.assign(p, p + profile.length());
    }
    const std::string map = std::string(gray ? "I" : cmyk ? "CMYK" : "RGB") + (alpha ? "A" : "");
    out.image = Image(static_cast<int>(img.columns()), static_cast<int>(img.rows()), static_cast<int>(map.size()), alpha);
    img.write(0, 0, img.columns(), img.rows(), map, Magick::CharPixel, out.image.pixels.data());
  } catch (const Magick::Exception& e) {
    throw failure(e.what());
  }
  return out;
}

}  // namespace mediabatch::thumbs
