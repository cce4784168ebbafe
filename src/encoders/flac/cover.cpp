#include "cover.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "mediabatch/errors.hpp"

namespace mediabatch::flac {

namespace {

// A PICTURE block's length field has 24 bits, and the block has its own fields besides.
constexpr std::uintmax_t kMaxPicture = (1u << 24) - 64;

std::uint32_t be16(const unsigned char* p) { return static_cast<std::uint32_t>(p[0]) << 8 | p[1]; }
std::uint32_t be32(const unsigned char* p) { return be16(p) << 16 | be16(p + 2); }

bool png_info(Cover& c) {
  const auto& d = c.data;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (d.size() < 33 || !std::equal(sig, sig + 8, d.begin()) || !std::equal(d.begin() + 12, d.begin() + 16, "IHDR"))
    return false;
  c.mime = "image/png";
  c.width = be32(&d[16]);
  c.height = be32(&d[20]);
  const unsigned bit_depth = d[24], color_type = d[25];
  if (color_type == 3) {
    // A palette image: the PNG spec makes its sample depth 8 bits per RGB component.
    c.depth = 24;
    for (std::size_t at = 8; at + 8 <= d.size();) {
      const std::uint32_t len = be32(&d[at]);
      if (std::equal(d.begin() + static_cast<long>(at) + 4, d.begin() + static_cast<long>(at) + 8, "PLTE")) {
        c.colors = len / 3;
        break;
      }
      at += 12 + static_cast<std::size_t>(len);
    }
  } else {
    const unsigned channels = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 4 ? 2 : 4;
    c.depth = bit_depth * channels;
  }
  return true;
}

bool jpeg_info(Cover& c) {
  const auto& d = c.data;
  if (d.size() < 4 || d[0] != 0xFF || d[1] != 0xD8) return false;
  for (std::size_t at = 2; at + 4 <= d.size();) {
    if (d[at] != 0xFF) return false;
    const unsigned marker = d[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      at += 2;
      continue;
    }
    const std::uint32_t len = be16(&d[at + 2]);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && at + 10 <= d.size()) {
      c.mime = "image/jpeg";
      c.height = be16(&d[at + 5]);
      c.width = be16(&d[at + 7]);
      c.depth = d[at + 4] * static_cast<std::uint32_t>(d[at + 9]);
      return true;
    }
    if (marker == 0xD9 || marker == 0xDA) return false;  // no frame header before the scan
    at += 2 + len;
  }
  return false;
}

}  // namespace

Cover read_cover(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--cover: cannot read " + path.string());
  // The size first: a picture too big for FLAC is not read into memory to find that out.
  const auto too_big = [&] {
    return UsageError("--cover " + path.string() + ": larger than the 16 MiB a FLAC metadata block holds");
  };
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxPicture) throw too_big();
  Cover c;
  c.data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (c.data.size() > kMaxPicture) throw too_big();
  if (!png_info(c) && !jpeg_info(c))
    throw UsageError("--cover " + path.string() + ": not a JPEG or PNG image");
  if (c.width == 0 || c.height == 0) throw UsageError("--cover " + path.string() + ": image has no dimensions");
  return c;
}

}  // namespace mediabatch::flac
