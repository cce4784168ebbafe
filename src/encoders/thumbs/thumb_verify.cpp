#include "thumb_verify.hpp"

#include <png.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"

namespace mediabatch::thumbs {

namespace {

// How far a decoded thumbnail is from the encoded one, measured on luma (Rec. 601) and, where
// there is alpha, on luma as seen (times the opacity) and on the alpha itself. Not on RGB:
// JPEG and WebP keep chroma at half resolution by design, and on saturated edges (colour bars,
// signs) that alone puts a sound quality-85 thumbnail near 24 dB RGB PSNR, while its luma
// PSNR is above 40. Damage (a flipped run of bytes, a cut) desynchronises the entropy decoding
// of every block after it, luma as much as chroma.
struct SquaredError {
  double sum = 0;
  std::uint64_t samples = 0;

  static double luma(const std::uint8_t* p, int colour) noexcept {
    return colour == 1 ? p[0] : 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
  }
  // One pixel of each: `colour` channels (1 or 3) then, when `alpha`, the opacity.
  void add(const std::uint8_t* decoded, int decoded_colour, const std::uint8_t* encoded, int encoded_colour,
           bool alpha) noexcept {
    double d = luma(decoded, decoded_colour), e = luma(encoded, encoded_colour);
    if (alpha) {
      const int da = decoded[decoded_colour], ea = encoded[encoded_colour];
      // WebP may change the colour under transparent pixels (it is invisible).
      d = d * da / 255.0;
      e = e * ea / 255.0;
      sum += static_cast<double>((da - ea) * (da - ea));
      ++samples;
    }
    sum += (d - e) * (d - e);
    ++samples;
  }
  double psnr() const noexcept {
    if (sum == 0) return INFINITY;
    return 10 * std::log10(255.0 * 255.0 * static_cast<double>(samples) / sum);
  }
};

std::string size_text(int width, int height) { return std::to_string(width) + "x" + std::to_string(height); }

void check_size(const char* kind, int width, int height, const Image& encoded) {
  if (width == encoded.width && height == encoded.height) return;
  throw Error(std::string(kind) + " is " + size_text(width, height) + ", " + size_text(encoded.width, encoded.height) +
              " was planned");
}

void check_psnr(const SquaredError& error, double min_db) {
  const double db = error.psnr();
  if (db > min_db) return;
  char text[128];
  std::snprintf(text, sizeof text, "luma PSNR %.1f dB against the encoded thumbnail, below %.0f", db, min_db);
  throw Error(text);
}

// ---- JPEG: TurboJPEG ---------------------------------------------------------------------

struct TjFree {
  void operator()(void* handle) const noexcept { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjFree>;

void check_jpeg(const std::uint8_t* data, std::size_t size, const Image& encoded, double min_db) {
  TjHandle tj(tjInitDecompress());
  if (!tj) throw Error(std::string("decoding JPEG: ") + tjGetErrorStr2(nullptr));
  int width = 0, height = 0, subsampling = 0, colourspace = 0;
  if (tjDecompressHeader3(tj.get(), data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                          &colourspace) != 0)
    throw Error(std::string("decoding JPEG: ") + tjGetErrorStr2(tj.get()));
  check_size("JPEG", width, height, encoded);
  const bool gray = encoded.channels == 1;
  if ((colourspace == TJCS_GRAY) != gray)
    throw Error(std::string("JPEG is ") + (gray ? "colour" : "grayscale") + ", a " + (gray ? "grayscale" : "colour") +
                " thumbnail was encoded");
  std::vector<std::uint8_t> pixels(encoded.pixels.size());
  // A warning (corrupt data, premature end) stops the decode: under --verify it is a failure.
  if (tjDecompress2(tj.get(), data, static_cast<unsigned long>(size), pixels.data(), width, 0, height,
                    gray ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0)
    throw Error(std::string("decoding JPEG: ") + tjGetErrorStr2(tj.get()));
  SquaredError error;
  const std::size_t channels = static_cast<std::size_t>(encoded.channels);
  for (std::size_t i = 0; i < pixels.size(); i += channels)
    error.add(pixels.data() + i, encoded.channels, encoded.pixels.data() + i, encoded.channels, false);
  check_psnr(error, min_db);
}

// ---- PNG: libpng's read API -----------------------------------------------------------------

// libpng's fatal errors are thrown through its frames, as the writer does (thumb_writer.cpp);
// warnings are kept, and fail the check.
struct PngFailure {
  std::string message;
};

struct PngSource {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::size_t at = 0;
  std::string warning;  // the first one
};

[[noreturn]] void png_failed(png_structp, png_const_charp message) { throw PngFailure{message}; }

void png_warned(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  if (source->warning.empty()) source->warning = message;
}

void png_read_bytes(png_structp png, png_bytep out, png_size_t size) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (size > source->size - source->at) png_error(png, "the file ends early");
  std::memcpy(out, source->data + source->at, size);
  source->at += size;
}

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  explicit PngReader(PngSource* source) {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, png_failed, png_warned);
    if (png) info = png_create_info_struct(png);
  }
  ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
};

void check_png(const std::uint8_t* data, std::size_t size, const Image& encoded) {
  static constexpr int kColourType[5] = {-1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                         PNG_COLOR_TYPE_RGB_ALPHA};
  PngSource source;
  source.data = data;
  source.size = size;
  PngReader r(&source);
  if (!r.info) throw Error("decoding PNG: out of memory");
  SquaredError error;
  bool exact = true;
  try {
    png_set_read_fn(r.png, &source, png_read_bytes);
    png_set_crc_action(r.png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_benign_errors(r.png, 0);
    png_read_info(r.png, r.info);
    check_size("PNG", static_cast<int>(png_get_image_width(r.png, r.info)),
               static_cast<int>(png_get_image_height(r.png, r.info)), encoded);
    const int depth = png_get_bit_depth(r.png, r.info), type = png_get_color_type(r.png, r.info);
    if (depth != 8 || encoded.channels < 1 || encoded.channels > 4 || type != kColourType[encoded.channels] ||
        png_get_interlace_type(r.png, r.info) != PNG_INTERLACE_NONE)
      throw Error("PNG has colour type " + std::to_string(type) + " at " + std::to_string(depth) +
                  " bits, not what was encoded (" + std::to_string(encoded.channels) + " channels of 8 bits)");
    png_start_read_image(r.png);
    std::vector<std::uint8_t> row(png_get_rowbytes(r.png, r.info));
    if (row.size() != encoded.stride()) throw Error("PNG rows are " + std::to_string(row.size()) + " bytes");
    for (int y = 0; y < encoded.height; ++y) {
      png_read_row(r.png, row.data(), nullptr);
      const std::uint8_t* e = encoded.row(y);
      const int colour = encoded.colour_channels();
      for (std::size_t i = 0; i < row.size(); i += static_cast<std::size_t>(encoded.channels))
        error.add(row.data() + i, colour, e + i, colour, encoded.alpha);
      exact = exact && std::memcmp(row.data(), e, row.size()) == 0;
    }
    png_read_end(r.png, nullptr);
  } catch (const PngFailure& f) {
    throw Error("decoding PNG: " + f.message);
  }
  if (!source.warning.empty()) throw Error("decoding PNG: " + source.warning);
  if (source.at != source.size) throw Error("PNG has " + std::to_string(source.size - source.at) + " bytes after IEND");
  check_psnr(error, kMinPsnr);
  // PNG is lossless: a pixel off is a wrong file, however high the PSNR.
  if (!exact) throw Error("pixels differ from those encoded (PNG is lossless)");
}

// ---- WebP: libwebp's decoder ----------------------------------------------------------------

// libwebp's status codes, by the names dwebp prints, and what they mean here.
std::string webp_status(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK: return "OK";
    case VP8_STATUS_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case VP8_STATUS_INVALID_PARAM: return "INVALID_PARAM";
    case VP8_STATUS_BITSTREAM_ERROR: return "BITSTREAM_ERROR (damaged data)";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "UNSUPPORTED_FEATURE";
    case VP8_STATUS_SUSPENDED: return "SUSPENDED";
    case VP8_STATUS_USER_ABORT: return "USER_ABORT";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "NOT_ENOUGH_DATA (the data ends before the picture)";
  }
  return "status " + std::to_string(static_cast<int>(status));
}

// The decoded picture, freed with its config.
struct WebpDecode {
  WebPDecoderConfig config;
  WebpDecode() {
    if (!WebPInitDecoderConfig(&config)) throw Error("decoding WebP: libwebp version mismatch");
  }
  ~WebpDecode() { WebPFreeDecBuffer(&config.output); }
  WebpDecode(const WebpDecode&) = delete;
  WebpDecode& operator=(const WebpDecode&) = delete;
};

void check_webp(const std::uint8_t* data, std::size_t size, const Image& encoded, double min_db) {
  WebpDecode d;
  VP8StatusCode status = WebPGetFeatures(data, size, &d.config.input);
  if (status != VP8_STATUS_OK) throw Error("decoding WebP: " + webp_status(status));
  check_size("WebP", d.config.input.width, d.config.input.height, encoded);
  // The writer gives WebP gray as RGB (WebP has no gray pictures); its alpha plane, when
  // there is one, is lossless.
  d.config.output.colorspace = encoded.alpha ? MODE_RGBA : MODE_RGB;
  status = WebPDecode(data, size, &d.config);
  if (status != VP8_STATUS_OK) throw Error("decoding WebP: " + webp_status(status));
  const WebPRGBABuffer& out = d.config.output.u.RGBA;
  const int channels = encoded.alpha ? 4 : 3, colour = encoded.colour_channels();
  SquaredError error;
  for (int y = 0; y < encoded.height; ++y) {
    const std::uint8_t* decoded = out.rgba + static_cast<std::size_t>(y) * static_cast<std::size_t>(out.stride);
    const std::uint8_t* e = encoded.row(y);
    for (int x = 0; x < encoded.width; ++x, decoded += channels, e += encoded.channels)
      error.add(decoded, 3, e, colour, encoded.alpha);
  }
  check_psnr(error, min_db);
}

}  // namespace

double min_psnr(int quality) noexcept { return quality >= 20 ? kMinPsnr : kMinPsnrBelowQuality20; }

void check_thumbnail(const std::filesystem::path& path, const Image& encoded, Format format, int quality) {
  const FileBytes file = read_whole_file(path.string());
  if (file.size == 0) throw Error("the thumbnail is empty (0 bytes)");
  if (encoded.width < 1 || encoded.height < 1) throw Error("an empty thumbnail was encoded");
  switch (format) {
    case Format::jpg: return check_jpeg(file.data.get(), file.size, encoded, min_psnr(quality));
    case Format::png: return check_png(file.data.get(), file.size, encoded);
    case Format::webp: return check_webp(file.data.get(), file.size, encoded, min_psnr(quality));
  }
}

}  // namespace mediabatch::thumbs
