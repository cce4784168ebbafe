#include "colour.hpp"

#include <Magick++.h>
#include <lcms2.h>

#include <cmath>
#include <memory>
#include <type_traits>

namespace mediabatch::thumbs {

namespace {

struct ProfileClose {
  void operator()(void* p) const noexcept { cmsCloseProfile(p); }
};
using Profile = std::unique_ptr<std::remove_pointer_t<cmsHPROFILE>, ProfileClose>;

struct TransformDelete {
  void operator()(void* t) const noexcept { cmsDeleteTransform(t); }
};
using Transform = std::unique_ptr<std::remove_pointer_t<cmsHTRANSFORM>, TransformDelete>;

Image cmyk_to_rgb_plain(const Image& in) {
  Image out(in.width, in.height, in.alpha ? 4 : 3, in.alpha);
  const std::size_t n = static_cast<std::size_t>(in.width) * in.height;
  const std::uint8_t* s = in.pixels.data();
  std::uint8_t* d = out.pixels.data();
  for (std::size_t i = 0; i < n; ++i, s += in.channels, d += out.channels) {
    const unsigned k = 255u - s[3];
    for (int c = 0; c < 3; ++c) d[c] = static_cast<std::uint8_t>(((255u - s[c]) * k + 127u) / 255u);
    if (in.alpha) d[3] = s[4];
  }
  return out;
}

double srgb_decode(double v) noexcept { return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); }

// Whether an RGB matrix/shaper profile is sRGB in all but name (the profile cameras and
// editors embed most often): its colorants and tone curves match sRGB's. Building an lcms
// transform costs a few milliseconds, more than the rest of a small thumbnail, so sRGB
// pixels are left as they are.
bool is_srgb(cmsHPROFILE p) {
  const cmsTagSignature colorant[3] = {cmsSigRedColorantTag, cmsSigGreenColorantTag, cmsSigBlueColorantTag};
  const cmsTagSignature trc[3] = {cmsSigRedTRCTag, cmsSigGreenTRCTag, cmsSigBlueTRCTag};
  // sRGB's primaries adapted to D50, as in every ICC v2/v4 sRGB profile.
  const double want[3][3] = {{0.4361, 0.2225, 0.0139}, {0.3851, 0.7169, 0.0971}, {0.1431, 0.0606, 0.7141}};
  for (int c = 0; c < 3; ++c) {
    const auto* xyz = static_cast<const cmsCIEXYZ*>(cmsReadTag(p, colorant[c]));
    const auto* curve = static_cast<const cmsToneCurve*>(cmsReadTag(p, trc[c]));
    if (!xyz || !curve) return false;
    if (std::fabs(xyz->X - want[c][0]) > 0.005 || std::fabs(xyz->Y - want[c][1]) > 0.005 ||
        std::fabs(xyz->Z - want[c][2]) > 0.005)
      return false;
    for (double v : {0.02, 0.1, 0.3, 0.5, 0.7, 0.9})
      if (std::fabs(cmsEvalToneCurveFloat(curve, static_cast<cmsFloat32Number>(v)) - srgb_decode(v)) > 0.003)
        return false;
  }
  return true;
}

// Transforms with the embedded profile; returns false (and the reason) when it does not apply.
bool transform_to_srgb(const Image& in, Image& out, const std::vector<std::uint8_t>& icc, std::string* note) {
  Profile src(cmsOpenProfileFromMem(icc.data(), static_cast<cmsUInt32Number>(icc.size())));
  if (!src) {
    *note = "embedded ICC profile is not readable; ignored";
    return false;
  }
  // As a number: lcms returns the header's four bytes as they are, and a value outside
  // cmsColorSpaceSignature's enumerators is undefined behaviour to load as one.
  const cmsUInt32Number space = cmsGetColorSpace(src.get());
  const int colour = in.colour_channels();
  const bool fits = (colour == 3 && space == cmsSigRgbData) || (colour == 4 && space == cmsSigCmykData);
  if (!fits) {
    *note = "embedded ICC profile does not match the image's colour space; ignored";
    return false;
  }
  if (colour == 3 && is_srgb(src.get())) {
    out = in;
    return true;
  }
  Profile srgb(cmsCreate_sRGBProfile());
  if (!srgb) return false;
  const cmsUInt32Number in_format = colour == 4 ? (in.alpha ? TYPE_CMYKA_8 : TYPE_CMYK_8)
                                                : (in.alpha ? TYPE_RGBA_8 : TYPE_RGB_8);
  // COPY_ALPHA: lcms leaves extra channels of the output unwritten unless told to copy them.
  Transform t(cmsCreateTransform(src.get(), in_format, srgb.get(), in.alpha ? TYPE_RGBA_8 : TYPE_RGB_8,
                                 INTENT_RELATIVE_COLORIMETRIC,
                                 cmsFLAGS_BLACKPOINTCOMPENSATION | (in.alpha ? cmsFLAGS_COPY_ALPHA : 0)));
  if (!t) {
    *note = "embedded ICC profile cannot be used for a transform; ignored";
    return false;
  }
  out = Image(in.width, in.height, in.alpha ? 4 : 3, in.alpha);
  cmsDoTransform(t.get(), in.pixels.data(), out.pixels.data(),
                 static_cast<cmsUInt32Number>(static_cast<std::size_t>(in.width) * in.height));
  return true;
}

}  // namespace

Image to_output_colour(Image image, const std::vector<std::uint8_t>& icc, std::string* note) {
  note->clear();
  const int colour = image.colour_channels();
  if (colour == 1 || (colour == 3 && icc.empty())) return image;
  Image out;
  if (!icc.empty() && transform_to_srgb(image, out, icc, note)) return out;
  return colour == 4 ? cmyk_to_rgb_plain(image) : image;
}

std::optional<Rgb> parse_colour(const std::string& text) {
  // ImageMagick takes an empty name as white; a bare RRGGBB it does not know (vips users
  // and web colours write it so).
  if (text.empty()) return std::nullopt;
  const bool bare_hex = text.size() == 6 && text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  Magick::Color colour;
  try {
    colour = Magick::Color(bare_hex ? "#" + text : text);
  } catch (const Magick::Exception&) {  // "unrecognized color"
    return std::nullopt;
  }
  if (colour.alphaQuantum() != 0) return std::nullopt;  // ImageMagick 6's alpha is opacity: 0 is opaque
  const auto byte = [](Magick::Quantum q) {
    return static_cast<std::uint8_t>(std::lround(Magick::Color::scaleQuantumToDouble(q) * 255));
  };
  return Rgb{byte(colour.redQuantum()), byte(colour.greenQuantum()), byte(colour.blueQuantum())};
}

}  // namespace mediabatch::thumbs
