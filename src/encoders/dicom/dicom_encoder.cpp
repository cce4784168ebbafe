// mediabatch dicom: DICOM images to PNG as a viewer shows them. This file holds the command's
// options, how inputs are recognised and outputs named, and the per-file driver; the stages
// are dicom_read (GDCM), dicom_render (windowing, colour, crop), png_writer and, under
// --verify, png_verify (libpng reads each PNG back).
#include <CLI/CLI.hpp>
#include <gdcmVersion.h>
#include <libdeflate.h>
#include <png.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../descriptions.hpp"
#include "dicom_read.hpp"
#include "dicom_render.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"
#include "png_verify.hpp"
#include "png_writer.hpp"

namespace mediabatch {

namespace {

using dicom::Crop;
using dicom::WindowMode;

// The one naming rule of the outputs: <stem>.png, and <stem>_0001.png... for the frames of a
// multi-frame file under --frames all (frame counts from 1).
std::string png_file_name(const fs::path& named_after, unsigned frame = 0) {
  std::string name = named_after.stem().string();
  if (frame > 0) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "_%04u", frame);
    name += suffix;
  }
  return name + ".png";
}

// Frame `frame` (from 1) of a multi-frame file under --frames all, beside the planned output.
fs::path frame_path(const fs::path& output, unsigned frame) {
  return output.parent_path() / png_file_name(output, frame);
}

// ImageMagick geometry WxH+X+Y (offsets optional).
std::optional<Crop> parse_crop(const std::string& text) {
  unsigned w = 0, h = 0, x = 0, y = 0;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%ux%u+%u+%u%c", &w, &h, &x, &y, &tail);
  if (n == 4 || (n == 2 && text.find('+') == std::string::npos)) {
    if (w == 0 || h == 0) return std::nullopt;
    return Crop{w, h, x, y};
  }
  return std::nullopt;
}

// A cheap structural parse of a file without the 128-byte preamble: a run of data elements
// with ascending tags (explicit or implicit VR little endian) that starts in group 0002 or 0008.
bool looks_like_bare_dicom(std::string_view head) {
  auto u16 = [&](std::size_t p) {
    return static_cast<unsigned>(static_cast<unsigned char>(head[p]) |
                                 static_cast<unsigned char>(head[p + 1]) << 8);
  };
  auto u32 = [&](std::size_t p) { return u16(p) | (static_cast<std::uint32_t>(u16(p + 2)) << 16); };
  static const char* const vrs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS",
                                    "LO", "LT", "OB", "OD", "OF", "OL", "OW", "PN", "SH", "SL",
                                    "SQ", "SS", "ST", "TM", "UC", "UI", "UL", "UN", "UR", "US",
                                    "UT", "OV", "SV", "UV"};
  if (head.size() < 8) return false;
  const unsigned first_group = u16(0);
  if (first_group != 0x0002 && first_group != 0x0008) return false;
  std::size_t pos = 0;
  std::uint32_t last_tag = 0;
  int elements = 0;
  while (pos + 8 <= head.size()) {
    const std::uint32_t tag = (static_cast<std::uint32_t>(u16(pos)) << 16) | u16(pos + 2);
    if (tag < last_tag || (tag >> 16) > 0x7fe0) return false;
    last_tag = tag;
    const std::string_view vr = head.substr(pos + 4, 2);
    bool explicit_vr = false;
    for (const char* v : vrs) explicit_vr = explicit_vr || vr == v;
    std::uint64_t length = 0;
    std::size_t header = 8;
    if (explicit_vr) {
      if (vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN" ||
          vr == "OD" || vr == "OL" || vr == "UC" || vr == "UR" || vr == "OV" || vr == "SV" ||
          vr == "UV") {
        if (pos + 12 > head.size()) break;
        length = u32(pos + 8);
        header = 12;
      } else {
        length = u16(pos + 6);
      }
    } else {
      length = u32(pos + 4);
    }
    ++elements;
    if (length == 0xffffffffu) break;  // undefined length (a sequence): enough seen
    if (length > (std::uint64_t{1} << 31)) return false;
    pos += header + length;
  }
  return elements >= 2 || pos >= head.size();
}

class DicomEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "dicom"; }
  std::string_view description() const override {
    return descriptions::dicom;
  }
  std::vector<std::string> library_versions() const override {
    return {"GDCM " + std::string(gdcm::Version::GetVersion()), "libpng " + std::string(png_get_libpng_ver(nullptr)),
            "libdeflate " LIBDEFLATE_VERSION_STRING};
  }

  void add_options(CLI::App& app) override {
    app.add_option("--window", window_text_,
                   "file (the file's first Window Center/Width), minmax, or C,W "
                   "(default: file when present, else minmax)");
    app.add_option("--depth", render_.depth, "bits per PNG sample: 8 or 16")->check(CLI::IsMember({8, 16}));
    app.add_option("--crop", crop_text_, "crop after windowing, ImageMagick geometry WxH+X+Y");
    app.add_option("--density", density_, "resolution in dots per inch, written as PNG pHYs")
        ->check(CLI::PositiveNumber);
    app.add_option("--frames", frames_text_, "multi-frame files: first, or all (<stem>_0001.png ...)")
        ->check(CLI::IsMember({"first", "all"}));
    app.add_option("--png-level", png_level_,
                   "deflate level 0-12 (libdeflate; higher is smaller and slower)")
        ->check(CLI::Range(0, 12));
    app.add_option("--max-pixels", max_pixels_,
                   "refuse a file whose Rows x Columns x Number of Frames is more than this (0: no limit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  }

  void validate() override {
    validate_window();
    if (!crop_text_.empty()) {
      render_.crop = parse_crop(crop_text_);
      if (!render_.crop) throw UsageError("--crop: expected WxH+X+Y, got '" + crop_text_ + "'");
    }
    if (render_.depth != 8 && render_.depth != 16) throw UsageError("--depth: 8 or 16");
    if (png_level_ < 0 || png_level_ > 12) throw UsageError("--png-level: 0 to 12");
    if (!(density_ > 0)) throw UsageError("--density must be positive");
  }

  bool accepts(const Probe& probe) const override {
    if (probe.head.size() >= 132 && probe.head.substr(128, 4) == "DICM") return true;
    return looks_like_bare_dicom(probe.head);
  }

  // DICOM exports often name files without an extension (IM00001): only these two claim.
  bool claims(const Probe& probe) const override {
    const std::string ext = lower_extension(probe.path.filename().string());
    return ext == ".dcm" || ext == ".dicom";
  }

  std::string reject_reason(const Probe&) const override {
    return "not DICOM (no DICM preamble, no data elements at the start)";
  }

  fs::path output_name(const fs::path& input) const override { return png_file_name(input); }
  // A multi-frame file under --frames all writes <stem>_0001.png... (one per frame, counted
  // from its header) and not <stem>.png; skip-if-newer needs them all.
  std::vector<fs::path> planned_outputs(const fs::path& input, const fs::path& output) const override {
    const unsigned frames = all_frames() ? dicom::planned_frames(input, max_pixels_) : 1;
    if (frames <= 1) return {output};
    std::vector<fs::path> paths;
    for (unsigned f = 1; f <= frames; ++f) paths.push_back(frame_path(output, f));
    return paths;
  }

  void encode(EncodeContext& ctx) const override;

 private:
  bool all_frames() const { return frames_text_ == "all"; }
  void validate_window();
  dicom::PngOptions png_options(const dicom::DicomImage& image) const;

  double density_ = 300;
  int png_level_ = 2;
  // As thumbs: a few hundred megapixels, in the range of Pillow's and libvips' guards. A
  // 512x512 CT series of 950 frames fits; a 16-bit decode of it is 500 MB.
  std::uint64_t max_pixels_ = 250000000;
  std::string window_text_;
  std::string crop_text_;
  std::string frames_text_ = "first";
  dicom::RenderOptions render_;
};

void DicomEncoder::validate_window() {
  if (window_text_.empty()) {
    render_.window = WindowMode::automatic;
  } else if (window_text_ == "file") {
    render_.window = WindowMode::file;
  } else if (window_text_ == "minmax") {
    render_.window = WindowMode::minmax;
  } else {
    double c = 0, w = 0;
    char tail = 0;
    if (std::sscanf(window_text_.c_str(), "%lf,%lf%c", &c, &w, &tail) != 2 || !(w >= 1))
      throw UsageError("--window: expected file, minmax or C,W with W >= 1, got '" + window_text_ + "'");
    render_.window = WindowMode::given;
    render_.given = dicom::Window{c, w};
  }
}

dicom::PngOptions DicomEncoder::png_options(const dicom::DicomImage& image) const {
  dicom::PngOptions png;
  png.level = png_level_;
  png.density_dpi = density_;
  // Measured on 1568x2048 CR crops: Average at libdeflate level 2 writes files within +-2% of
  // dcmj2pnm's (zlib 6, adaptive filters) at a fraction of its time; level 1 is ~40% faster
  // to compress but up to 9% larger on noisy images. Colour images (ultrasound, photos,
  // secondary captures) mix flat areas with edges, which the adaptive choice suits.
  png.filter = image.gray() ? dicom::PngFilter::average : dicom::PngFilter::adaptive;
  return png;
}

void DicomEncoder::encode(EncodeContext& ctx) const {
  const dicom::DicomImage image = dicom::read_dicom(ctx, max_pixels_);
  const Crop crop = dicom::render_region(image, render_, ctx);
  const dicom::PngOptions png = png_options(image);
  const bool each_frame = all_frames() && image.frames > 1;
  dicom::FrameBuffers buffers;
  for (unsigned f = 0; f < (each_frame ? image.frames : 1); ++f) {
    ctx.throw_if_stopped();
    const dicom::PngImage frame = dicom::render_frame(image, f, crop, render_, buffers, ctx);
    const auto bytes = dicom::encode_png(frame, png);
    const fs::path temp = each_frame ? ctx.add_output(frame_path(ctx.output(), f + 1)) : ctx.temp_output();
    dicom::write_bytes(temp, bytes);
    // Only the frame's hash waits for the check: the buffers are the next frame's.
    if (ctx.verify())
      ctx.check_output(temp, [expected = dicom::expect_png(frame, png)](const fs::path& written) {
        dicom::check_png(written, expected);
      });
  }
}

}  // namespace

std::unique_ptr<Encoder> make_dicom_encoder() {
  dicom::prepare_gdcm();
  return std::make_unique<DicomEncoder>();
}

}  // namespace mediabatch
