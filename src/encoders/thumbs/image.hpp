#pragma once
// Pixel buffers and the pixel operations of the thumbs encoder: fitting a size into a box,
// integer box shrink, a separable Lanczos-3 resampler and the eight EXIF orientations.
// Plain values; every function is pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mediabatch::thumbs {

// Interleaved 8-bit pixels, rows packed: 1 (gray), 3 (RGB) or 4 (CMYK) channels.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int w, int h, int c)
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w) * h * c) {}
  std::size_t stride() const noexcept { return static_cast<std::size_t>(width) * channels; }
  std::uint8_t* row(int y) noexcept { return pixels.data() + stride() * y; }
  const std::uint8_t* row(int y) const noexcept { return pixels.data() + stride() * y; }
};

struct Size {
  int width = 0;
  int height = 0;
};

// The largest size with the aspect ratio of `image` that fits inside `box`, never larger than
// `image` itself and at least 1x1.
Size fit_inside(Size image, Size box) noexcept;

// Resamples to exactly out_w x out_h with a Lanczos-3 kernel (widened when shrinking, so it
// also filters out aliasing). Large ratios are first reduced by an integer box shrink that
// leaves at least a factor of two to the kernel, as libvips' vips_resize() does.
Image resize(const Image& in, int out_w, int out_h);

// Applies EXIF orientation 1-8 (the stored image -> how it is meant to be shown). Orientations
// 5-8 swap width and height. Anything else is treated as 1.
Image orient(Image in, int orientation);
// Width and height after orient().
Size oriented_size(Size stored, int orientation) noexcept;

}  // namespace mediabatch::thumbs
