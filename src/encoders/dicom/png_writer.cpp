#include "png_writer.hpp"

#include <libdeflate.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::dicom {

namespace {

struct CompressorFree {
  void operator()(libdeflate_compressor* c) const noexcept { libdeflate_free_compressor(c); }
};
using Compressor = std::unique_ptr<libdeflate_compressor, CompressorFree>;

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_chunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data,
               std::size_t size) {
  put32(out, static_cast<std::uint32_t>(size));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  if (size > 0) out.insert(out.end(), data, data + size);
  put32(out, libdeflate_crc32(0, out.data() + start, size + 4));
}

std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
  return static_cast<std::uint8_t>(pb <= pc ? b : c);
}

// Filters one row into out (rowbytes bytes, the filter-type byte written by the caller).
// prev is the previous row, or nullptr for the first.
void filter_row(PngFilter filter, const std::uint8_t* row, const std::uint8_t* prev,
                std::size_t rowbytes, std::size_t bpp, std::uint8_t* out) {
  switch (filter) {
    case PngFilter::adaptive:  // chosen per row by the caller; never reaches here
    case PngFilter::none:
      std::memcpy(out, row, rowbytes);
      return;
    case PngFilter::sub:
      for (std::size_t i = 0; i < bpp; ++i) out[i] = row[i];
      for (std::size_t i = bpp; i < rowbytes; ++i)
        out[i] = static_cast<std::uint8_t>(row[i] - row[i - bpp]);
      return;
    case PngFilter::up:
      if (!prev) { std::memcpy(out, row, rowbytes); return; }
      for (std::size_t i = 0; i < rowbytes; ++i) out[i] = static_cast<std::uint8_t>(row[i] - prev[i]);
      return;
    case PngFilter::average:
      for (std::size_t i = 0; i < rowbytes; ++i) {
        const int left = i >= bpp ? row[i - bpp] : 0;
        const int up = prev ? prev[i] : 0;
        out[i] = static_cast<std::uint8_t>(row[i] - ((left + up) >> 1));
      }
      return;
    case PngFilter::paeth:
      for (std::size_t i = 0; i < rowbytes; ++i) {
        const int left = i >= bpp ? row[i - bpp] : 0;
        const int up = prev ? prev[i] : 0;
        const int upleft = (prev && i >= bpp) ? prev[i - bpp] : 0;
        out[i] = static_cast<std::uint8_t>(row[i] - paeth(left, up, upleft));
      }
      return;
  }
}

// The filtered scanlines, each led by its filter-type byte.
std::vector<std::uint8_t> filter_scanlines(const PngImage& image, PngFilter filter) {
  const std::size_t bpp = static_cast<std::size_t>(image.channels) * (image.depth / 8);
  const std::size_t rowbytes = bpp * image.width;
  std::vector<std::uint8_t> raw((rowbytes + 1) * image.height);
  const std::uint8_t filter_byte = static_cast<std::uint8_t>(filter);
  std::vector<std::uint8_t> candidate(filter == PngFilter::adaptive ? rowbytes : 0);
  for (std::uint32_t y = 0; y < image.height; ++y) {
    const std::uint8_t* row = image.pixels + y * image.stride;
    const std::uint8_t* prev = y > 0 ? row - image.stride : nullptr;
    std::uint8_t* out = raw.data() + y * (rowbytes + 1);
    if (filter != PngFilter::adaptive) {
      out[0] = filter_byte;
      filter_row(filter, row, prev, rowbytes, bpp, out + 1);
      continue;
    }
    std::uint64_t best_cost = ~std::uint64_t{0};
    for (int f = 0; f <= 4; ++f) {
      filter_row(static_cast<PngFilter>(f), row, prev, rowbytes, bpp, candidate.data());
      std::uint64_t cost = 0;
      for (std::size_t i = 0; i < rowbytes; ++i) {
        const int v = static_cast<std::int8_t>(candidate[i]);
        cost += static_cast<std::uint64_t>(v < 0 ? -v : v);
      }
      if (cost < best_cost) {
        best_cost = cost;
        out[0] = static_cast<std::uint8_t>(f);
        std::memcpy(out + 1, candidate.data(), rowbytes);
      }
    }
  }
  return raw;
}

std::vector<std::uint8_t> zlib_compress(const std::vector<std::uint8_t>& raw, int level) {
  Compressor compressor(libdeflate_alloc_compressor(level));
  if (!compressor) throw Error("PNG: libdeflate could not allocate a level " +
                               std::to_string(level) + " compressor");
  std::vector<std::uint8_t> zdata(libdeflate_zlib_compress_bound(compressor.get(), raw.size()));
  const std::size_t zsize =
      libdeflate_zlib_compress(compressor.get(), raw.data(), raw.size(), zdata.data(), zdata.size());
  if (zsize == 0) throw Error("PNG: libdeflate compression failed");
  zdata.resize(zsize);
  return zdata;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const PngImage& image, const PngOptions& options) {
  if (image.width == 0 || image.height == 0) throw Error("PNG: empty image");
  // raw is kept until the PNG is assembled: freed before `out` is allocated, glibc hands the
  // pages back and faults them in again for every frame (measured: 18% more CPU on CR images).
  const std::vector<std::uint8_t> raw = filter_scanlines(image, options.filter);
  const std::vector<std::uint8_t> zdata = zlib_compress(raw, options.level);
  const std::size_t zsize = zdata.size();

  std::vector<std::uint8_t> out;
  out.reserve(zsize + 128);
  static const std::uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  out.insert(out.end(), signature, signature + 8);

  std::vector<std::uint8_t> ihdr;
  put32(ihdr, image.width);
  put32(ihdr, image.height);
  ihdr.push_back(static_cast<std::uint8_t>(image.depth));
  ihdr.push_back(image.channels == 3 ? 2 : 0);  // colour type: truecolour or greyscale
  ihdr.push_back(0);                             // deflate
  ihdr.push_back(0);                             // adaptive filtering (per-row filter bytes)
  ihdr.push_back(0);                             // no interlace
  put_chunk(out, "IHDR", ihdr.data(), ihdr.size());

  if (options.density_dpi > 0) {
    std::vector<std::uint8_t> phys;
    const auto ppm = static_cast<std::uint32_t>(std::lround(options.density_dpi / 0.0254));
    put32(phys, ppm);
    put32(phys, ppm);
    phys.push_back(1);  // unit: metre
    put_chunk(out, "pHYs", phys.data(), phys.size());
  }

  // IDAT chunks of at most 1 MiB keep every chunk length far from the 2^31 limit.
  constexpr std::size_t idat_max = std::size_t{1} << 20;
  for (std::size_t pos = 0; pos < zsize; pos += idat_max)
    put_chunk(out, "IDAT", zdata.data() + pos, std::min(idat_max, zsize - pos));
  put_chunk(out, "IEND", nullptr, 0);
  return out;
}

void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  File file = open_file(path.string(), "wb");
  if (!file) {
    const int error = errno;
    throw Error("cannot create " + path.string() + ": " + errno_text(error));
  }
  if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    const int error = errno;
    throw Error("writing " + path.string() + ": " + errno_text(error));
  }
  close_file(std::move(file), path.string());
}

}  // namespace mediabatch::dicom
