#include "image.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace mediabatch::thumbs {

namespace {

constexpr int kBits = 14;  // fixed-point weights: 1.0 == 1 << kBits
constexpr int kOne = 1 << kBits;
constexpr double kPi = 3.14159265358979323846;

// For each output sample: the first input sample of its window and `taps` fixed-point weights.
// Every window has the same length so the inner loops have a constant trip count; samples
// past the edges are folded onto the edge sample (edge extension).
struct Filter {
  int taps = 0;
  std::vector<int> start;
  std::vector<std::int32_t> weights;  // out_size * taps
};

Filter make_filter(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double widen = std::max(scale, 1.0);
  const double radius = 3.0 * widen;
  Filter f;
  f.taps = std::min(in_size, static_cast<int>(std::ceil(radius)) * 2 + 1);
  f.start.resize(out_size);
  f.weights.assign(static_cast<std::size_t>(out_size) * f.taps, 0);
  std::vector<double> w(f.taps);
  const double rot1s = std::sin(kPi / widen), rot1c = std::cos(kPi / widen);
  const double rot3s = std::sin(kPi / widen / 3), rot3c = std::cos(kPi / widen / 3);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;  // sample i covers [i, i + 1)
    const int lo = static_cast<int>(std::floor(center - radius));
    const int hi = static_cast<int>(std::ceil(center + radius));
    const int start = std::clamp(lo, 0, in_size - f.taps);
    f.start[o] = start;
    std::fill(w.begin(), w.end(), 0.0);
    double sum = 0;
    // Lanczos-3 at x = (i + 0.5 - center) / widen is 3 sin(pi x) sin(pi x / 3) / (pi x)^2. x moves
    // by a fixed step from tap to tap, so both sines advance by rotation: four sin/cos calls
    // per output sample instead of two per tap.
    const double x0 = (lo + 0.5 - center) / widen, dx = 1.0 / widen;
    double s1 = std::sin(kPi * x0), c1 = std::cos(kPi * x0);
    double s3 = std::sin(kPi * x0 / 3), c3 = std::cos(kPi * x0 / 3);
    for (int i = lo; i <= hi; ++i) {
      const double x = x0 + (i - lo) * dx;
      double k = 0;
      if (std::fabs(x) < 1e-8) k = 1;
      else if (std::fabs(x) < 3) k = 3 * s1 * s3 / (kPi * kPi * x * x);
      const double ns1 = s1 * rot1c + c1 * rot1s, nc1 = c1 * rot1c - s1 * rot1s;
      const double ns3 = s3 * rot3c + c3 * rot3s, nc3 = c3 * rot3c - s3 * rot3s;
      s1 = ns1, c1 = nc1, s3 = ns3, c3 = nc3;
      if (k == 0.0) continue;
      const int at = std::clamp(i, 0, in_size - 1) - start;
      if (at < 0 || at >= f.taps) continue;  // cannot happen: the window covers the clamp range
      w[at] += k;
      sum += k;
    }
    std::int32_t* out = f.weights.data() + static_cast<std::size_t>(o) * f.taps;
    int total = 0, biggest = 0;
    for (int t = 0; t < f.taps; ++t) {
      out[t] = static_cast<std::int32_t>(std::lround(w[t] / sum * kOne));
      total += out[t];
      if (out[t] > out[biggest]) biggest = t;
    }
    out[biggest] += kOne - total;  // exact unit gain: flat areas stay flat
  }
  return f;
}

inline std::uint8_t clamp_round(std::int32_t acc) noexcept {
  acc = (acc + (1 << (kBits - 1))) >> kBits;
  return static_cast<std::uint8_t>(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

template <int C>
void horizontal(const Image& in, Image& out, const Filter& f) {
  const int taps = f.taps;
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* src = in.row(y);
    std::uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      const std::uint8_t* s = src + static_cast<std::size_t>(f.start[x]) * C;
      const std::int32_t* w = f.weights.data() + static_cast<std::size_t>(x) * taps;
      // Separate scalar accumulators: GCC keeps them in registers, an array it spills.
      std::int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;
      for (int t = 0; t < taps; ++t, s += C) {
        const std::int32_t wt = w[t];
        a0 += wt * s[0];
        if constexpr (C > 1) a1 += wt * s[1];
        if constexpr (C > 2) a2 += wt * s[2];
        if constexpr (C > 3) a3 += wt * s[3];
        if constexpr (C > 4) a4 += wt * s[4];
      }
      std::uint8_t* d = dst + x * C;
      d[0] = clamp_round(a0);
      if constexpr (C > 1) d[1] = clamp_round(a1);
      if constexpr (C > 2) d[2] = clamp_round(a2);
      if constexpr (C > 3) d[3] = clamp_round(a3);
      if constexpr (C > 4) d[4] = clamp_round(a4);
    }
  }
}

void vertical(const Image& in, Image& out, const Filter& f) {
  const std::size_t n = out.stride();
  std::vector<std::int32_t> acc(n);
  for (int y = 0; y < out.height; ++y) {
    std::fill(acc.begin(), acc.end(), 0);
    const std::int32_t* w = f.weights.data() + static_cast<std::size_t>(y) * f.taps;
    std::int32_t* a = acc.data();
    int t = 0;
    // Two taps per sweep, 16-bit operands (weights are at most 1 << kBits): SSE2 multiplies
    // 16-bit lanes natively (pmaddwd), 32-bit ones it has to emulate.
    for (; t + 1 < f.taps; t += 2) {
      const std::uint8_t* s0 = in.row(f.start[y] + t);
      const std::uint8_t* s1 = s0 + in.stride();
      const auto w0 = static_cast<std::int16_t>(w[t]), w1 = static_cast<std::int16_t>(w[t + 1]);
      for (std::size_t i = 0; i < n; ++i)
        a[i] += static_cast<std::int16_t>(s0[i]) * w0 + static_cast<std::int16_t>(s1[i]) * w1;
    }
    for (; t < f.taps; ++t) {
      const std::uint8_t* s0 = in.row(f.start[y] + t);
      const auto w0 = static_cast<std::int16_t>(w[t]);
      for (std::size_t i = 0; i < n; ++i) a[i] += static_cast<std::int16_t>(s0[i]) * w0;
    }
    std::uint8_t* dst = out.row(y);
    for (std::size_t i = 0; i < n; ++i) dst[i] = clamp_round(a[i]);
  }
}

Image resize_horizontal(const Image& in, int out_w) {
  if (out_w == in.width) return in;
  const Filter f = make_filter(in.width, out_w);
  Image out(out_w, in.height, in.channels, in.alpha);
  switch (in.channels) {
    case 1: horizontal<1>(in, out, f); break;
    case 3: horizontal<3>(in, out, f); break;
    case 4: horizontal<4>(in, out, f); break;
    case 5: horizontal<5>(in, out, f); break;
    default: horizontal<2>(in, out, f); break;
  }
  return out;
}

Image resize_vertical(const Image& in, int out_h) {
  if (out_h == in.height) return in;
  Image out(in.width, out_h, in.channels, in.alpha);
  vertical(in, out, make_filter(in.height, out_h));
  return out;
}

// Averages kx x ky blocks; the last partial block of a row or column averages what it has.
Image box_shrink(const Image& in, int kx, int ky) {
  const int ow = (in.width + kx - 1) / kx, oh = (in.height + ky - 1) / ky, c = in.channels;
  Image out(ow, oh, c, in.alpha);
  std::vector<std::uint32_t> sum(static_cast<std::size_t>(ow) * c);
  for (int oy = 0; oy < oh; ++oy) {
    std::fill(sum.begin(), sum.end(), 0u);
    const int y0 = oy * ky, y1 = std::min(in.height, y0 + ky);
    for (int y = y0; y < y1; ++y) {
      const std::uint8_t* s = in.row(y);
      for (int x = 0; x < in.width; ++x)
        for (int ch = 0; ch < c; ++ch) sum[static_cast<std::size_t>(x / kx) * c + ch] += s[x * c + ch];
    }
    std::uint8_t* d = out.row(oy);
    for (int ox = 0; ox < ow; ++ox) {
      const std::uint32_t n = static_cast<std::uint32_t>((std::min(in.width, (ox + 1) * kx) - ox * kx) * (y1 - y0));
      for (int ch = 0; ch < c; ++ch)
        d[ox * c + ch] = static_cast<std::uint8_t>((sum[static_cast<std::size_t>(ox) * c + ch] + n / 2) / n);
    }
  }
  return out;
}

Image resample(const Image& in, int out_w, int out_h) {
  // A box shrink by k first, leaving a factor >= 2 to Lanczos: same quality class, far fewer taps.
  const int kx = std::max(1, in.width / (out_w * 2));
  const int ky = std::max(1, in.height / (out_h * 2));
  if (kx > 1 || ky > 1) {
    const Image shrunk = box_shrink(in, kx, ky);
    return resize_horizontal(resize_vertical(shrunk, out_h), out_w);
  }
  // Vertical first: it runs along whole rows (vectorised) and leaves fewer rows for the
  // horizontal pass, which cannot be.
  return resize_horizontal(resize_vertical(in, out_h), out_w);
}

// Colour times alpha. Eight bits are enough: whatever the image is later laid over, the
// rounding moves the result by at most half a level.
Image premultiplied(Image im) {
  const int colour = im.colour_channels();
  const std::size_t n = static_cast<std::size_t>(im.width) * im.height;
  std::uint8_t* p = im.pixels.data();
  for (std::size_t i = 0; i < n; ++i, p += im.channels) {
    const unsigned a = p[colour];
    for (int ch = 0; ch < colour; ++ch) p[ch] = static_cast<std::uint8_t>((p[ch] * a + 127u) / 255u);
  }
  return im;
}

// Back to straight alpha. Lanczos lobes can leave a colour above its alpha; it is clamped. A
// pixel whose alpha came out 0 has no colour to recover.
void unpremultiply(Image& im) {
  const int colour = im.colour_channels();
  const std::size_t n = static_cast<std::size_t>(im.width) * im.height;
  std::uint8_t* p = im.pixels.data();
  for (std::size_t i = 0; i < n; ++i, p += im.channels) {
    const unsigned a = p[colour];
    for (int ch = 0; ch < colour; ++ch)
      p[ch] = a == 0 ? 0 : static_cast<std::uint8_t>(std::min(255u, (p[ch] * 255u + a / 2) / a));
  }
}

}  // namespace

Size fit_inside(Size image, Size box) noexcept {
  if (image.width <= box.width && image.height <= box.height) return image;
  const double sx = static_cast<double>(box.width) / image.width;
  const double sy = static_cast<double>(box.height) / image.height;
  Size out;
  if (sx <= sy) {  // width is the limit
    out.width = box.width;
    out.height = static_cast<int>(std::lround(image.height * sx));
  } else {
    out.height = box.height;
    out.width = static_cast<int>(std::lround(image.width * sy));
  }
  out.width = std::clamp(out.width, 1, box.width);
  out.height = std::clamp(out.height, 1, box.height);
  return out;
}

Image resize(const Image& in, int out_w, int out_h) {
  if (out_w == in.width && out_h == in.height) return in;
  if (!in.alpha) return resample(in, out_w, out_h);
  // Straight alpha would let the colour of invisible pixels bleed into the edges (a dark
  // fringe where transparent black meets white); libvips premultiplies for the same reason.
  Image out = resample(premultiplied(in), out_w, out_h);
  unpremultiply(out);
  return out;
}

Image flatten(Image in, Rgb background) {
  if (!in.alpha) return in;
  const int in_colour = in.colour_channels();
  const bool gray = in_colour == 1 && background.r == background.g && background.g == background.b;
  const int colour = gray ? 1 : 3;
  const unsigned back[3] = {background.r, background.g, background.b};
  Image out(in.width, in.height, colour);
  const std::size_t n = static_cast<std::size_t>(in.width) * in.height;
  const std::uint8_t* s = in.pixels.data();
  std::uint8_t* d = out.pixels.data();
  for (std::size_t i = 0; i < n; ++i, s += in.channels, d += colour) {
    const unsigned a = s[in_colour];
    for (int ch = 0; ch < colour; ++ch) {
      const unsigned v = s[in_colour == 1 ? 0 : ch];
      d[ch] = static_cast<std::uint8_t>((v * a + back[ch] * (255u - a) + 127u) / 255u);
    }
  }
  return out;
}

Size oriented_size(Size stored, int orientation) noexcept {
  if (orientation >= 5 && orientation <= 8) return {stored.height, stored.width};
  return stored;
}

Image orient(Image in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height, c = in.channels;
  const Size os = oriented_size({w, h}, orientation);
  Image out(os.width, os.height, c, in.alpha);
  for (int y = 0; y < os.height; ++y) {
    std::uint8_t* d = out.row(y);
    for (int x = 0; x < os.width; ++x) {
      int sx = x, sy = y;  // where output (x, y) comes from in the stored image
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                      // mirror horizontal
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;      // rotate 180
        case 4: sy = h - 1 - y; break;                      // mirror vertical
        case 5: sx = y; sy = x; break;                      // transpose
        case 6: sx = y; sy = h - 1 - x; break;              // rotate 90 clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;      // transverse
        case 8: sx = w - 1 - y; sy = x; break;              // rotate 270 clockwise
      }
      const std::uint8_t* s = in.row(sy) + static_cast<std::size_t>(sx) * c;
      for (int ch = 0; ch < c; ++ch) d[x * c + ch] = s[ch];
    }
  }
  return out;
}

}  // namespace mediabatch::thumbs
