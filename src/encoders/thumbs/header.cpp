#include "header.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::thumbs {

namespace {

std::uint32_t le16(const std::uint8_t* p) noexcept { return p[0] | std::uint32_t{p[1]} << 8; }
std::uint32_t le24(const std::uint8_t* p) noexcept { return le16(p) | std::uint32_t{p[2]} << 16; }
std::uint32_t le32(const std::uint8_t* p) noexcept { return le24(p) | std::uint32_t{p[3]} << 24; }
std::uint32_t be16(const std::uint8_t* p) noexcept { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) noexcept { return be16(p) << 16 | be16(p + 2); }

std::optional<Dimensions> png_size(const std::uint8_t* d, std::size_t n) noexcept {
  if (n < 24 || std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0 || std::memcmp(d + 12, "IHDR", 4) != 0) return {};
  return Dimensions{be32(d + 16), be32(d + 20)};
}

// ImageMagick makes the first frame as large as its image descriptor says, which may exceed
// the logical screen; viewers show the screen. Both bound what gets allocated.
std::optional<Dimensions> gif_size(const std::uint8_t* d, std::size_t n) noexcept {
  if (n < 13 || (std::memcmp(d, "GIF87a", 6) != 0 && std::memcmp(d, "GIF89a", 6) != 0)) return {};
  Dimensions screen{le16(d + 6), le16(d + 8)};
  std::size_t at = 13;
  if (d[10] & 0x80) at += 3u << ((d[10] & 7) + 1);  // global colour table
  while (at < n) {
    if (d[at] == 0x2C) {  // image descriptor: left, top, width, height
      if (at + 9 > n) return {};
      return Dimensions{std::max(screen.width, le16(d + at + 5)), std::max(screen.height, le16(d + at + 7))};
    }
    if (d[at] != 0x21 || at + 2 > n) return screen;  // trailer or damage: the screen is all we know
    for (at += 2; at < n && d[at] != 0; at += 1 + std::size_t{d[at]}) {}  // extension sub-blocks
    ++at;
  }
  return screen;
}

std::optional<Dimensions> webp_size(const std::uint8_t* d, std::size_t n) noexcept {
  if (n < 30 || std::memcmp(d, "RIFF", 4) != 0 || std::memcmp(d + 8, "WEBP", 4) != 0) return {};
  const std::uint8_t* c = d + 20;  // the first chunk's payload
  if (std::memcmp(d + 12, "VP8 ", 4) == 0 && std::memcmp(c + 3, "\x9d\x01\x2a", 3) == 0)
    return Dimensions{le16(c + 6) & 0x3FFF, le16(c + 8) & 0x3FFF};
  if (std::memcmp(d + 12, "VP8L", 4) == 0 && c[0] == 0x2F) {
    const std::uint32_t bits = le32(c + 1);
    return Dimensions{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (std::memcmp(d + 12, "VP8X", 4) == 0) return Dimensions{le24(c + 4) + 1, le24(c + 7) + 1};
  return {};
}

std::optional<Dimensions> tiff_size(const std::uint8_t* d, std::size_t n) noexcept {
  if (n < 8) return {};
  const bool le = std::memcmp(d, "II\x2a\x00", 4) == 0;
  if (!le && std::memcmp(d, "MM\x00\x2a", 4) != 0) return {};
  auto u16 = [&](std::size_t at) { return le ? le16(d + at) : be16(d + at); };
  auto u32 = [&](std::size_t at) { return le ? le32(d + at) : be32(d + at); };
  const std::size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return {};
  Dimensions size;
  const std::size_t entries = u16(ifd);
  for (std::size_t i = 0, at = ifd + 2; i < entries && at + 12 <= n; ++i, at += 12) {
    const std::uint32_t tag = u16(at), type = u16(at + 2);
    if ((tag != 256 && tag != 257) || (type != 3 && type != 4)) continue;
    (tag == 256 ? size.width : size.height) = type == 3 ? u16(at + 8) : u32(at + 8);
  }
  if (size.width == 0 || size.height == 0) return {};
  return size;
}

}  // namespace

std::optional<Dimensions> header_size(const std::uint8_t* data, std::size_t size) noexcept {
  for (auto read : {png_size, gif_size, webp_size, tiff_size})
    if (auto found = read(data, size)) return found;
  return {};
}

void check_max_pixels(Dimensions size, std::uint64_t max_pixels) {
  const std::uint64_t pixels = std::uint64_t{size.width} * size.height;
  if (max_pixels == 0 || pixels <= max_pixels) return;
  throw Error("image is " + std::to_string(size.width) + "x" + std::to_string(size.height) + " (" +
              megapixels_text(pixels) + "), above --max-pixels " + std::to_string(max_pixels));
}

}  // namespace mediabatch::thumbs
