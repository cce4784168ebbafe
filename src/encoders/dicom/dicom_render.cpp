#include "dicom_render.hpp"

#include <gdcmLookupTable.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::dicom {

namespace {

using PI = gdcm::PhotometricInterpretation;

// ---- grayscale: modality rescale, VOI window, MONOCHROME1 --------------------------------

// DICOM PS3.3 C.11.2.1.2 VOI functions onto 0..ymax.
inline double apply_window(double x, double c, double w, double ymax, VoiFunction f) {
  switch (f) {
    case VoiFunction::sigmoid:
      return ymax / (1 + std::exp(-4 * (x - c) / w));
    case VoiFunction::linear_exact:
      if (x <= c - w / 2) return 0;
      if (x > c + w / 2) return ymax;
      return ((x - c) / w + 0.5) * ymax;
    case VoiFunction::linear:
      break;
  }
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return ymax;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * ymax;
}

// Where the stored value sits in a sample of type T: Bits Stored bits ending at High Bit.
struct StoredBits {
  unsigned bits = 0;
  unsigned shift = 0;
  std::uint64_t mask = 0;
  bool is_signed = false;
};

template <typename T>
StoredBits stored_bits(const DicomImage& d) {
  StoredBits b;
  b.bits = std::min<unsigned>(d.bits_stored, sizeof(T) * 8);
  b.shift = d.high_bit + 1 >= b.bits ? std::min<unsigned>(d.high_bit + 1 - b.bits, sizeof(T) * 8 - b.bits) : 0;
  b.mask = b.bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << b.bits) - 1;
  b.is_signed = d.is_signed;
  return b;
}

// Stored value of sample i: masked to Bits Stored (and sign-extended).
template <typename T>
inline std::int64_t stored_value(const T* p, std::size_t i, StoredBits b) {
  std::uint64_t v = (static_cast<std::uint64_t>(
                         static_cast<std::make_unsigned_t<T>>(p[i])) >> b.shift) & b.mask;
  if (b.is_signed && (v >> (b.bits - 1)) & 1) return static_cast<std::int64_t>(v) - (std::int64_t{1} << b.bits);
  return static_cast<std::int64_t>(v);
}

struct Voi {
  Window window;
  VoiFunction function = VoiFunction::linear;
};

// As DCMTK's min-max window: the frame's minimum maps to black, its maximum to white.
template <typename T>
Window minmax_window(const DicomImage& d, const T* px, const StoredBits& b) {
  const std::size_t count = static_cast<std::size_t>(d.width) * d.height;
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t v = stored_value(px, i, b);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  double low = lo * d.slope + d.intercept, high = hi * d.slope + d.intercept;
  if (low > high) std::swap(low, high);
  return Window{(low + high + 1) / 2, high - low + 1};
}

template <typename T>
Voi choose_voi(const DicomImage& d, const T* px, const StoredBits& b, const RenderOptions& options) {
  const bool use_minmax = options.window == WindowMode::minmax ||
                          ((options.window == WindowMode::automatic || options.window == WindowMode::file) &&
                           !d.file_window);
  if (use_minmax) return Voi{minmax_window(d, px, b), VoiFunction::linear};
  if (options.window == WindowMode::given) return Voi{options.given, VoiFunction::linear};
  return Voi{*d.file_window, d.file_function};
}

// A stored value to its output sample.
struct GrayMap {
  double slope = 1, intercept = 0;
  Voi voi;
  double ymax = 255;
  bool invert = false;

  std::uint16_t operator()(std::int64_t v) const {
    double y = std::floor(apply_window(v * slope + intercept, voi.window.center, voi.window.width, ymax,
                                       voi.function) + 0.5);
    y = std::clamp(y, 0.0, ymax);
    if (invert) y = ymax - y;
    return static_cast<std::uint16_t>(y);
  }
};

// Sample x of an output row, in PNG byte order (16 bits: big-endian).
inline void put_sample(std::uint8_t* row, std::uint32_t x, std::uint16_t s, std::size_t bytes_per_sample) {
  if (bytes_per_sample == 1) {
    row[x] = static_cast<std::uint8_t>(s);
  } else {
    row[2 * x] = static_cast<std::uint8_t>(s >> 8);
    row[2 * x + 1] = static_cast<std::uint8_t>(s);
  }
}

// Up to 16 stored bits: one table entry per possible stored value, mapped once.
template <typename T>
void map_through_table(const DicomImage& d, const T* px, StoredBits b, const Crop& crop,
                       const GrayMap& map, std::size_t bps, std::vector<std::uint8_t>& out) {
  const std::int64_t first = b.is_signed ? -(std::int64_t{1} << (b.bits - 1)) : 0;
  std::vector<std::uint16_t> table(std::size_t{1} << b.bits);
  for (std::size_t k = 0; k < table.size(); ++k) table[k] = map(first + static_cast<std::int64_t>(k));
  for (std::uint32_t y = 0; y < crop.height; ++y) {
    const T* row = px + static_cast<std::size_t>(crop.y + y) * d.width + crop.x;
    std::uint8_t* o = out.data() + static_cast<std::size_t>(y) * crop.width * bps;
    for (std::uint32_t x = 0; x < crop.width; ++x) {
      const std::int64_t v = stored_value(row, x, b);
      put_sample(o, x, table[static_cast<std::size_t>(v - first)], bps);
    }
  }
}

// More than 16 stored bits: a table would be too large, so every sample is mapped.
template <typename T>
void map_each_sample(const DicomImage& d, const T* px, StoredBits b, const Crop& crop,
                     const GrayMap& map, std::size_t bps, std::vector<std::uint8_t>& out,
                     const EncodeContext& ctx) {
  for (std::uint32_t y = 0; y < crop.height; ++y) {
    if ((y & 255) == 0) ctx.throw_if_stopped();
    const T* row = px + static_cast<std::size_t>(crop.y + y) * d.width + crop.x;
    std::uint8_t* o = out.data() + static_cast<std::size_t>(y) * crop.width * bps;
    for (std::uint32_t x = 0; x < crop.width; ++x) put_sample(o, x, map(stored_value(row, x, b)), bps);
  }
}

// Monochrome frame -> windowed output samples for the crop region.
template <typename T>
void render_gray(const DicomImage& d, const char* frame, const Crop& crop, const RenderOptions& options,
                 std::vector<std::uint8_t>& out, const EncodeContext& ctx) {
  const T* px = reinterpret_cast<const T*>(frame);
  const StoredBits b = stored_bits<T>(d);
  GrayMap map;
  map.slope = d.slope;
  map.intercept = d.intercept;
  map.voi = choose_voi(d, px, b, options);
  map.ymax = options.depth == 16 ? 65535.0 : 255.0;
  map.invert = d.pi == PI::MONOCHROME1;

  const std::size_t bps = options.depth / 8;
  out.resize(static_cast<std::size_t>(crop.width) * crop.height * bps);
  if (b.bits <= 16) map_through_table(d, px, b, crop, map, bps, out);
  else map_each_sample(d, px, b, crop, map, bps, out, ctx);
}

// ---- colour: palette, YBR and RGB to interleaved 8-bit RGB ------------------------------

void apply_palette(const DicomImage& d, const char* frame, std::vector<std::uint8_t>& rgb) {
  if (!d.lut || !d.lut->Initialized()) throw Error("PALETTE COLOR image without a usable palette");
  const std::size_t count = static_cast<std::size_t>(d.width) * d.height;
  const std::size_t in_bytes = count * (d.bits_allocated / 8);
  if (d.lut->GetBitSample() == 8) {
    if (!d.lut->Decode8(reinterpret_cast<char*>(rgb.data()), rgb.size(), frame, in_bytes))
      throw Error("GDCM could not apply the palette");
    return;
  }
  std::vector<std::uint16_t> wide(count * 3);
  if (!d.lut->Decode(reinterpret_cast<char*>(wide.data()), wide.size() * 2, frame, in_bytes))
    throw Error("GDCM could not apply the palette");
  for (std::size_t i = 0; i < wide.size(); ++i) rgb[i] = static_cast<std::uint8_t>(wide[i] >> 8);
}

inline std::uint8_t clamp8(double v) {
  return static_cast<std::uint8_t>(std::clamp(std::floor(v + 0.5), 0.0, 255.0));
}

// Colour frame -> interleaved 8-bit RGB of the whole frame.
void colour_to_rgb8(const DicomImage& d, const char* frame, std::vector<std::uint8_t>& rgb) {
  const std::size_t count = static_cast<std::size_t>(d.width) * d.height;
  rgb.resize(count * 3);
  if (d.pi == PI::PALETTE_COLOR) return apply_palette(d, frame, rgb);
  // Samples as 8-bit values (16-bit colour scaled down from Bits Stored).
  auto sample = [&](std::size_t pixel, unsigned c) -> int {
    const std::size_t idx = d.planar ? c * count + pixel : pixel * 3 + c;
    if (d.bits_allocated == 8) return static_cast<unsigned char>(frame[idx]);
    const auto v = reinterpret_cast<const std::uint16_t*>(frame)[idx];
    const unsigned bs = std::clamp(d.bits_stored, 8u, 16u);
    return (v & ((1u << bs) - 1)) >> (bs - 8);
  };
  const bool ybr_full = d.pi == PI::YBR_FULL || d.pi == PI::YBR_FULL_422;
  const bool ybr_partial = d.pi == PI::YBR_PARTIAL_422 || d.pi == PI::YBR_PARTIAL_420;
  for (std::size_t i = 0; i < count; ++i) {
    const int a = sample(i, 0), b = sample(i, 1), c = sample(i, 2);
    std::uint8_t* o = rgb.data() + 3 * i;
    if (ybr_full) {
      o[0] = clamp8(a + 1.402 * (c - 128));
      o[1] = clamp8(a - 0.344136 * (b - 128) - 0.714136 * (c - 128));
      o[2] = clamp8(a + 1.772 * (b - 128));
    } else if (ybr_partial) {
      const double y = 1.164383 * (a - 16);
      o[0] = clamp8(y + 1.596027 * (c - 128));
      o[1] = clamp8(y - 0.391762 * (b - 128) - 0.812968 * (c - 128));
      o[2] = clamp8(y + 2.017232 * (b - 128));
    } else {  // RGB, and YBR_RCT/YBR_ICT, which the JPEG 2000 decoder already turned into RGB
      o[0] = static_cast<std::uint8_t>(a);
      o[1] = static_cast<std::uint8_t>(b);
      o[2] = static_cast<std::uint8_t>(c);
    }
  }
}

// The crop region of an 8-bit RGB frame widened to 16 bits (v * 257).
void crop_to_rgb16(const DicomImage& d, const std::vector<std::uint8_t>& rgb, const Crop& crop,
                   std::vector<std::uint8_t>& out) {
  out.resize(static_cast<std::size_t>(crop.width) * crop.height * 6);
  for (std::uint32_t y = 0; y < crop.height; ++y)
    for (std::uint32_t x = 0; x < crop.width * 3; ++x) {
      const std::uint8_t v = rgb[(static_cast<std::size_t>(crop.y + y) * d.width + crop.x) * 3 + x];
      const std::size_t o = (static_cast<std::size_t>(y) * crop.width * 3 + x) * 2;
      out[o] = v;
      out[o + 1] = v;
    }
}

// "WxH+X+Y", as ImageMagick writes a geometry.
std::string describe(const Crop& c) {
  return std::to_string(c.width) + "x" + std::to_string(c.height) + "+" + std::to_string(c.x) +
         "+" + std::to_string(c.y);
}

}  // namespace

Crop render_region(const DicomImage& d, const RenderOptions& options, EncodeContext& ctx) {
  Crop crop{d.width, d.height, 0, 0};
  if (options.crop) {
    crop = *options.crop;
    if (std::uint64_t{crop.x} + crop.width > d.width || std::uint64_t{crop.y} + crop.height > d.height)
      throw Error("crop " + describe(crop) + " lies outside the " + std::to_string(d.width) + "x" +
                  std::to_string(d.height) + " image");
  }
  if (d.gray() && options.window == WindowMode::file && !d.file_window)
    ctx.warn("no Window Center/Width in the file: used min-max");
  return crop;
}

PngImage render_frame(const DicomImage& d, unsigned index, const Crop& crop, const RenderOptions& options,
                      FrameBuffers& buffers, const EncodeContext& ctx) {
  const char* frame = d.data + index * d.frame_bytes;
  PngImage img;
  img.width = crop.width;
  img.height = crop.height;
  img.depth = options.depth;
  if (d.gray()) {
    if (d.bits_allocated == 8) render_gray<std::int8_t>(d, frame, crop, options, buffers.out, ctx);
    else if (d.bits_allocated == 16) render_gray<std::int16_t>(d, frame, crop, options, buffers.out, ctx);
    else render_gray<std::int32_t>(d, frame, crop, options, buffers.out, ctx);
    img.channels = 1;
    img.pixels = buffers.out.data();
    img.stride = static_cast<std::size_t>(crop.width) * (options.depth / 8);
    return img;
  }
  colour_to_rgb8(d, frame, buffers.rgb);
  img.channels = 3;
  if (options.depth == 8) {
    img.pixels = buffers.rgb.data() + (static_cast<std::size_t>(crop.y) * d.width + crop.x) * 3;
    img.stride = static_cast<std::size_t>(d.width) * 3;
  } else {
    crop_to_rgb16(d, buffers.rgb, crop, buffers.out);
    img.pixels = buffers.out.data();
    img.stride = static_cast<std::size_t>(crop.width) * 6;
  }
  return img;
}

}  // namespace mediabatch::dicom
