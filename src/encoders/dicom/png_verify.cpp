#include "png_verify.hpp"

#include <png.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"

namespace mediabatch::dicom {

namespace {

constexpr std::uint64_t kPrime = 0x9FB21C651E98DF25u;

std::uint64_t rotl(std::uint64_t v, int by) noexcept { return (v << by) | (v >> (64 - by)); }

// Each step is a bijection of the lane for a given word, so two inputs that differ in one
// word leave that lane different whatever follows.
std::uint64_t step(std::uint64_t lane, std::uint64_t word) noexcept { return rotl((lane ^ word) * kPrime, 29); }

std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint64_t mix(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDu;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53u;
  return h ^ (h >> 33);
}

// libpng reports fatal errors through a function that must not return: we throw through its
// frames, as thumbs' PNG writer does (x86-64 Linux has unwind tables in them, and libpng keeps
// its state in png_struct, which the destructor below frees). Warnings are remembered, not
// thrown: under --verify a PNG we wrote that libpng warns about is a failed output.
struct PngFailure {
  std::string message;
};

struct ReadState {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t at = 0;
  std::string warning;  // the first one
};

[[noreturn]] void failed(png_structp, png_const_charp message) { throw PngFailure{message}; }

void warned(png_structp png, png_const_charp message) {
  auto* state = static_cast<ReadState*>(png_get_error_ptr(png));
  if (state->warning.empty()) state->warning = message;
}

void read_bytes(png_structp png, png_bytep out, png_size_t size) {
  auto* state = static_cast<ReadState*>(png_get_io_ptr(png));
  if (size > state->size - state->at) png_error(png, "the file ends early");
  std::memcpy(out, state->data + state->at, size);
  state->at += size;
}

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  explicit PngReader(ReadState* state) {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, failed, warned);
    if (png) info = png_create_info_struct(png);
  }
  ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
};

const char* colour_type_name(int type) {
  switch (type) {
    case PNG_COLOR_TYPE_GRAY: return "greyscale";
    case PNG_COLOR_TYPE_RGB: return "truecolour";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "greyscale with alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "truecolour with alpha";
    default: return "unknown";
  }
}

std::uint32_t dots_per_metre(double dpi) { return static_cast<std::uint32_t>(std::lround(dpi / 0.0254)); }

void check_header(png_structp png, png_infop info, const PngExpectation& e) {
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  if (width != e.width || height != e.height)
    throw Error("PNG is " + std::to_string(width) + "x" + std::to_string(height) + ", " + std::to_string(e.width) +
                "x" + std::to_string(e.height) + " was encoded");
  const int depth = png_get_bit_depth(png, info);
  if (depth != e.depth)
    throw Error("PNG has " + std::to_string(depth) + "-bit samples, " + std::to_string(e.depth) + "-bit were encoded");
  const int type = png_get_color_type(png, info);
  const int expected_type = e.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
  if (type != expected_type)
    throw Error(std::string("PNG colour type is ") + colour_type_name(type) + ", " + colour_type_name(expected_type) +
                " was encoded");
  if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) throw Error("PNG is interlaced, it was encoded without");

  png_uint_32 x = 0, y = 0;
  int unit = 0;
  const bool has_phys = png_get_pHYs(png, info, &x, &y, &unit) != 0;
  if (e.density_dpi > 0) {
    const std::uint32_t want = dots_per_metre(e.density_dpi);
    if (!has_phys)
      throw Error("PNG has no pHYs chunk, " + std::to_string(want) + " dots per metre were asked (--density)");
    if (unit != PNG_RESOLUTION_METER || x != want || y != want)
      throw Error("PNG pHYs is " + std::to_string(x) + "x" + std::to_string(y) +
                  (unit == PNG_RESOLUTION_METER ? " dots per metre" : " (no unit)") + ", " + std::to_string(want) +
                  " dots per metre were asked (--density)");
  } else if (has_phys) {
    throw Error("PNG has a pHYs chunk, none was asked");
  }
}

}  // namespace

void RowHash::add_row(const std::uint8_t* row, std::size_t bytes) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    lanes_[0] = step(lanes_[0], load64(row + i));
    lanes_[1] = step(lanes_[1], load64(row + i + 8));
    lanes_[2] = step(lanes_[2], load64(row + i + 16));
    lanes_[3] = step(lanes_[3], load64(row + i + 24));
  }
  for (; i + 8 <= bytes; i += 8) lanes_[0] = step(lanes_[0], load64(row + i));
  if (i < bytes) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, row + i, bytes - i);
    lanes_[1] = step(lanes_[1], tail);
  }
  lanes_[2] = step(lanes_[2], bytes);  // where one row ends and the next begins
  ++rows_;
}

std::uint64_t RowHash::value() const noexcept {
  std::uint64_t h = mix(rows_);
  for (const std::uint64_t lane : lanes_) h = mix(h ^ lane) * kPrime;
  return mix(h);
}

PngExpectation expect_png(const PngImage& image, const PngOptions& options) {
  PngExpectation e;
  e.width = image.width;
  e.height = image.height;
  e.depth = image.depth;
  e.channels = image.channels;
  e.density_dpi = options.density_dpi;
  RowHash hash;
  const std::size_t row_bytes = static_cast<std::size_t>(image.width) * image.channels * (image.depth / 8);
  for (std::uint32_t y = 0; y < image.height; ++y) hash.add_row(image.pixels + y * image.stride, row_bytes);
  e.pixels = hash.value();
  return e;
}

void check_png(const std::filesystem::path& path, const PngExpectation& expected) {
  const FileBytes file = read_whole_file(path.string());
  if (file.size == 0) throw Error("the PNG is empty (0 bytes)");
  ReadState state;
  state.data = file.data.get();
  state.size = file.size;
  PngReader r(&state);
  if (!r.info) throw Error("reading PNG: out of memory");
  RowHash hash;
  try {
    png_set_read_fn(r.png, &state, read_bytes);
    // Damage in an ancillary chunk (pHYs) fails too, as do libpng's "benign" errors (extra
    // compressed data, too much image data), which it would otherwise only warn about.
    png_set_crc_action(r.png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_benign_errors(r.png, 0);
    // zlib's Adler-32 sums the same inflated bytes that the row hash compares with what was
    // encoded: skipping it saves a tenth of the inflate time and checks nothing less.
    png_set_option(r.png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
    png_read_info(r.png, r.info);
    check_header(r.png, r.info, expected);
    png_start_read_image(r.png);
    std::vector<std::uint8_t> row(png_get_rowbytes(r.png, r.info));
    for (std::uint32_t y = 0; y < expected.height; ++y) {
      png_read_row(r.png, row.data(), nullptr);
      hash.add_row(row.data(), row.size());
    }
    png_read_end(r.png, nullptr);
  } catch (const PngFailure& f) {
    throw Error("reading PNG: " + f.message);
  }
  if (!state.warning.empty()) throw Error("reading PNG: " + state.warning);
  if (state.at != state.size) throw Error("PNG has " + std::to_string(state.size - state.at) + " bytes after IEND");
  if (hash.value() != expected.pixels) throw Error("pixels differ from those encoded");
}

}  // namespace mediabatch::dicom
