// mediabatch thumbs: a small JPEG, PNG or WebP of each photo. JPEGs are decoded by
// libjpeg-turbo straight from the DCT at reduced scale, resampled with Lanczos-3, turned upright
// and encoded; HEIC and AVIF (libheif, from a stored thumbnail item when one is large enough)
// and the other formats ImageMagick reads take the same route after their decode. Under
// --verify each thumbnail is decoded again (thumb_verify) and compared with what was encoded.
#include <CLI/CLI.hpp>
#include <lcms2.h>
#include <libheif/heif.h>
#include <png.h>
#include <webp/encode.h>

#include <cstdint>
#include <cstdio>  // before jpeglib.h, which needs FILE
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <jpeglib.h>  // LIBJPEG_TURBO_VERSION_NUMBER

#include "../descriptions.hpp"
#include "colour.hpp"
#include "heif_reader.hpp"
#include "image.hpp"
#include "jpeg_codec.hpp"
#include "magick_reader.hpp"
#include "thumb_verify.hpp"
#include "thumb_writer.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace {

using thumbs::Image;
using thumbs::Size;

// Parses --size: "N" (a square box) or "WxH".
Size parse_size(const std::string& text) {
  auto number = [&](const std::string& s) {
    if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("--size: expected N or WxH in pixels, got '" + text + "'");
    const int v = std::stoi(s);
    if (v < 1 || v > 65500) throw UsageError("--size: " + s + " is outside 1-65500");
    return v;
  };
  const auto x = text.find_first_of("xX");
  if (x == std::string::npos) {
    const int n = number(text);
    return {n, n};
  }
  return {number(text.substr(0, x)), number(text.substr(x + 1))};
}

class ThumbsEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "thumbs"; }
  std::string_view description() const override {
    return descriptions::thumbs;
  }
  std::vector<std::string> library_versions() const override {
    const int webp = WebPGetEncoderVersion();
    const int lcms = cmsGetEncodedCMMversion();  // 2140: 2.14
    return {"libjpeg-turbo " + version_text(LIBJPEG_TURBO_VERSION_NUMBER / 1000000,
                                            LIBJPEG_TURBO_VERSION_NUMBER / 1000 % 1000,
                                            LIBJPEG_TURBO_VERSION_NUMBER % 1000),
            "libheif " + std::string(heif_get_version()), thumbs::magick_version(),
            "libpng " + std::string(png_get_libpng_ver(nullptr)),
            "libwebp " + version_text(webp >> 16, (webp >> 8) & 0xff, webp & 0xff),
            "lcms2 " + std::to_string(lcms / 1000) + "." + std::to_string(lcms / 10 % 100)};
  }

  void add_options(CLI::App& command) override {
    command.add_option("--size", size_text_, "Fit inside N or WxH pixels, aspect kept, never enlarged")
        ->capture_default_str();
    command
        .add_option_function<std::string>(
            "--format",
            [this](const std::string& format) {
              format_ = format == "png" ? thumbs::Format::png : format == "webp" ? thumbs::Format::webp : thumbs::Format::jpg;
            },
            "Thumbnail format (png and webp keep transparency)")
        ->transform(CLI::IsMember({"jpg", "png", "webp"}, CLI::ignore_case))  // "PNG" becomes "png"
        ->default_str("jpg");
    command
        .add_option("--background", background_text_,
                    "Colour under transparent pixels in JPEG thumbnails: a name, #RRGGBB or RRGGBB")
        ->capture_default_str();
    command.add_option("--quality", quality_, "JPEG and WebP quality of the thumbnails")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    command
        .add_option("--max-pixels", max_pixels_,
                    "Refuse an image whose header claims more pixels than this (0: no limit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  }

  void validate() override {
    box_ = parse_size(size_text_);
    if (quality_ < 1 || quality_ > 100) throw UsageError("--quality: must be 1-100");
    const auto background = thumbs::parse_colour(background_text_);
    if (!background)
      throw UsageError("--background: expected an opaque colour such as white, black, #RRGGBB or RRGGBB, got '" +
                       background_text_ + "'");
    background_ = *background;
  }

  bool accepts(const Probe& probe) const override {
    const auto* d = reinterpret_cast<const std::uint8_t*>(probe.head.data());
    return thumbs::is_jpeg(d, probe.head.size()) || thumbs::is_magick_format(d, probe.head.size()) ||
           thumbs::is_heif(d, probe.head.size());
  }

  bool claims(const Probe& probe) const override {
    static const char* const photo_extensions[] = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".tif",
                                                   ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif"};
    const std::string ext = lower_extension(probe.path.filename().string());
    for (const char* known : photo_extensions)
      if (ext == known) return true;
    return false;
  }

  std::string reject_reason(const Probe&) const override {
    return "not a JPEG, HEIC, AVIF, PNG, TIFF, WebP or GIF image";
  }

  fs::path output_name(const fs::path& input) const override {
    return input.stem().string() + "_thumbnail." + thumbs::extension(format_);
  }

  void encode(EncodeContext& ctx) const override {
    const auto check_stop = [&ctx] { ctx.throw_if_stopped(); };
    const FileBytes file = read_whole_file(ctx.input());
    const std::uint8_t* bytes = file.data.get();
    check_stop();

    Image image;
    std::vector<std::uint8_t> icc;
    if (thumbs::is_jpeg(bytes, file.size)) {
      thumbs::DecodedJpeg d = thumbs::decode_jpeg(bytes, file.size, box_, max_pixels_, check_stop);
      for (const auto& w : d.warnings) ctx.warn(w);
      const Size shown = thumbs::fit_inside(thumbs::oriented_size(d.full, d.orientation), box_);
      const Size stored = thumbs::oriented_size(shown, d.orientation);
      // Rotating after the resize moves 40x fewer pixels than before it.
      image = thumbs::orient(thumbs::resize(d.image, stored.width, stored.height), d.orientation);
      icc = std::move(d.icc);
    } else if (thumbs::is_magick_format(bytes, file.size)) {
      thumbs::MagickDecoded d = thumbs::magick_decode(bytes, file.size, max_pixels_);
      for (const auto& w : d.warnings) ctx.warn(w);
      check_stop();
      const Size shown = thumbs::fit_inside({d.image.width, d.image.height}, box_);
      image = thumbs::resize(d.image, shown.width, shown.height);
      icc = std::move(d.icc);
    } else if (thumbs::is_heif(bytes, file.size)) {
      thumbs::HeifDecoded d = thumbs::heif_decode(bytes, file.size, box_, max_pixels_, ctx.threads());
      for (const auto& w : d.warnings) ctx.warn(w);
      check_stop();
      // Fitted from the primary image's size, as shown: a stored thumbnail item's own size
      // can round the other way.
      const Size shown = thumbs::fit_inside(d.full, box_);
      image = thumbs::resize(d.image, shown.width, shown.height);
      icc = std::move(d.icc);
    } else {
      throw Error("not a JPEG, HEIC, AVIF, PNG, TIFF, WebP or GIF image");
    }
    check_stop();

    std::string note;
    image = thumbs::to_output_colour(std::move(image), icc, &note);
    if (!note.empty()) ctx.warn(note);
    const thumbs::WriteOptions options{format_, quality_, background_};
    Image encoded = thumbs::as_written(std::move(image), options);
    const std::vector<std::uint8_t> thumbnail = thumbs::write_thumbnail(encoded, options);
    write_whole_file(ctx.temp_output(), thumbnail.data(), thumbnail.size());
    // A thumbnail is small: its check keeps the pixels that were encoded, to measure the PSNR.
    if (ctx.verify())
      ctx.check_output(ctx.temp_output(), [encoded = std::move(encoded), format = format_, quality = quality_](const fs::path& written) {
        thumbs::check_thumbnail(written, encoded, format, quality);
      });
  }

 private:
  std::string size_text_ = "128";
  thumbs::Format format_ = thumbs::Format::jpg;
  std::string background_text_ = "white";
  thumbs::Rgb background_{255, 255, 255};
  int quality_ = 85;
  // Pillow warns above 89 megapixels and refuses twice that (MAX_IMAGE_PIXELS). 250 megapixels
  // is a 20000x12500 panorama; libjpeg's coefficients of a progressive one take about 1 GB.
  std::uint64_t max_pixels_ = 250000000;
  Size box_{128, 128};
};

}  // namespace

std::unique_ptr<Encoder> make_thumbs_encoder() {
  static std::once_flag magick_once;
  std::call_once(magick_once, thumbs::magick_init);
  static std::once_flag heif_once;
  std::call_once(heif_once, thumbs::heif_library_init);
  return std::make_unique<ThumbsEncoder>();
}

}  // namespace mediabatch
