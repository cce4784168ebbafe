#pragma once
// Pixel buffers and the pixel operations of the thumbs encoder: fitting a size into a box,
// integer box shrink, a separable Lanczos-3 resampler, the eight EXIF orientations and
// flattening transparency onto a background.
// Plain values; every function is pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mediabatch::thumbs {

// Interleaved 8-bit pixels, rows packed: gray (1), RGB (3) or CMYK (4) colour channels, then,
// when `alpha` is set, one more channel of straight (not premultiplied) opacity, 255 opaque.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;  // colour channels, plus one with alpha
  bool alpha = false;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int c, bool with_alpha = false)
      : width(w), height(h), channels(c), alpha(with_alpha), pixels(static_cast<std::size_t>(w) * h * c) {}
  int colour_channels() const noexcept { return channels - (alpha ? 1 : 0); }
  std::size_t stride() const noexcept { return static_cast<std::size_t>(width) * channels; }
  std::uint8_t* row(int y) noexcept { return pixels.data() + stride() * y; }
  const std::uint8_t* row(int y) const noexcept { return pixels.data() + stride() * y; }
};

struct Size {
  int width = 0;
  int height = 0;
};

// An opaque sRGB colour.
struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

// The largest size with the aspect ratio of `image` that fits inside `box`, never larger than
// `image` itself and at least 1x1.
Size fit_inside(Size image, Size box) noexcept;

// Resamples to exactly out_w x out_h with a Lanczos-3 kernel (widened when shrinking, so it
// also filters out aliasing). Large ratios are first reduced by an integer box shrink that
// leaves at least a factor of two to the kernel, as libvips' vips_resize() does. An image with
// alpha is resampled premultiplied, so transparent pixels lend no colour to their neighbours.
Image resize(const Image& in, int out_w, int out_h);

// A gray or RGB image with alpha laid over an opaque background: gray stays gray on a gray
// background, else it becomes RGB. An image without alpha is returned as it is.
Image flatten(Image in, Rgb background);

// Applies EXIF orientation 1-8 (the stored image -> how it is meant to be shown). Orientations
// 5-8 swap width and height. Anything else is treated as 1.
Image orient(Image in, int orientation);
// Width and height after orient().
Size oriented_size(Size stored, int orientation) noexcept;

}  // namespace mediabatch::thumbs
