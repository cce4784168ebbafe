// Tests of `mediabatch dicom`: DICOM files written here byte by byte (explicit VR little
// endian), converted, then read back with libpng and compared with DCMTK's dcmj2pnm and with
// GDCM's own compressed forms (gdcmconv).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <png.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "support/encoder_harness.hpp"
#include "support/test_support.hpp"

namespace mediabatch {
std::unique_ptr<Encoder> make_dicom_encoder();
}

namespace {

namespace fs = std::filesystem;
using mbtest::TempDir;

// ---- a minimal DICOM writer -------------------------------------------------------------

class DicomWriter {
 public:
  void add(std::uint16_t group, std::uint16_t element, const char vr[2], std::string value) {
    if (value.size() % 2) value.push_back(vr[0] == 'U' && vr[1] == 'I' ? '\0' : ' ');
    Element e{group, element, std::string(vr, 2), std::move(value)};
    (group == 2 ? meta_ : body_).push_back(std::move(e));
  }
  void str(std::uint16_t g, std::uint16_t e, const char vr[2], const std::string& v) { add(g, e, vr, v); }
  void us(std::uint16_t g, std::uint16_t e, std::uint16_t v) {
    add(g, e, "US", std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)});
  }
  void words(std::uint16_t g, std::uint16_t e, const std::vector<std::uint16_t>& v, const char vr[2] = "OW") {
    std::string bytes;
    for (auto w : v) { bytes.push_back(static_cast<char>(w & 0xff)); bytes.push_back(static_cast<char>(w >> 8)); }
    add(g, e, vr, bytes);
  }

  std::string bytes(bool preamble = true, const std::string& ts = "1.2.840.10008.1.2.1") {
    std::vector<Element> meta = meta_;
    std::string ts_value = ts;
    if (ts_value.size() % 2) ts_value.push_back('\0');
    meta.push_back(Element{2, 0x10, "UI", ts_value});
    std::string meta_body;
    for (const auto& e : meta) meta_body += encode(e);
    std::string out;
    if (preamble) out = std::string(128, '\0') + "DICM";
    std::string len;
    for (int i = 0; i < 4; ++i) len.push_back(static_cast<char>((meta_body.size() >> (8 * i)) & 0xff));
    if (preamble) out += encode(Element{2, 0, "UL", len}) + meta_body;
    for (const auto& e : body_) out += encode(e);
    return out;
  }

 private:
  struct Element {
    std::uint16_t group, element;
    std::string vr, value;
  };
  static std::string encode(const Element& e) {
    std::string out;
    auto put16 = [&](std::uint32_t v) { out.push_back(static_cast<char>(v & 0xff)); out.push_back(static_cast<char>((v >> 8) & 0xff)); };
    put16(e.group);
    put16(e.element);
    out += e.vr;
    const bool long_form = e.vr == "OB" || e.vr == "OW" || e.vr == "SQ" || e.vr == "UT" || e.vr == "UN";
    if (long_form) {
      put16(0);
      put16(static_cast<std::uint32_t>(e.value.size() & 0xffff));
      put16(static_cast<std::uint32_t>(e.value.size() >> 16));
    } else {
      put16(static_cast<std::uint32_t>(e.value.size()));
    }
    return out + e.value;
  }
  std::vector<Element> meta_, body_;
};

struct GrayParams {
  unsigned width = 64, height = 48, bits_stored = 12, frames = 1;
  bool is_signed = false;
  std::string photometric = "MONOCHROME2";
  std::string window_center = "2000", window_width = "3000";  // empty: none
  std::string slope = "1", intercept = "0";
  std::string patient = "DOE^JANE";
  std::string voi_function;  // (0028,1056); empty: none
  unsigned claimed_frames = 0;  // Number of Frames written instead of `frames` when not 0
};

// A 16-bit-allocated grayscale image: a gradient plus a fixed pseudo-random texture.
std::string gray_dicom(const GrayParams& p, bool preamble = true) {
  DicomWriter w;
  w.str(2, 1, "OB", std::string("\0\1", 2));
  w.str(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(2, 3, "UI", "1.2.3.4.5.6.7");
  w.str(8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(8, 0x18, "UI", "1.2.3.4.5.6.7");
  w.str(8, 0x60, "CS", "OT");
  w.str(0x10, 0x10, "PN", p.patient);
  w.str(0x10, 0x20, "LO", "PID-31337");
  w.us(0x28, 2, 1);
  w.str(0x28, 4, "CS", p.photometric);
  if (p.frames > 1 || p.claimed_frames > 0) w.str(0x28, 8, "IS", std::to_string(p.claimed_frames ? p.claimed_frames : p.frames));
  w.us(0x28, 0x10, static_cast<std::uint16_t>(p.height));
  w.us(0x28, 0x11, static_cast<std::uint16_t>(p.width));
  w.us(0x28, 0x100, 16);
  w.us(0x28, 0x101, static_cast<std::uint16_t>(p.bits_stored));
  w.us(0x28, 0x102, static_cast<std::uint16_t>(p.bits_stored - 1));
  w.us(0x28, 0x103, p.is_signed ? 1 : 0);
  if (!p.window_center.empty()) {
    w.str(0x28, 0x1050, "DS", p.window_center);
    w.str(0x28, 0x1051, "DS", p.window_width);
  }
  w.str(0x28, 0x1052, "DS", p.intercept);
  w.str(0x28, 0x1053, "DS", p.slope);
  if (!p.voi_function.empty()) w.str(0x28, 0x1056, "CS", p.voi_function);
  std::vector<std::uint16_t> px;
  std::uint32_t seed = 12345;
  const int range = 1 << p.bits_stored;
  for (unsigned f = 0; f < p.frames; ++f)
    for (unsigned y = 0; y < p.height; ++y)
      for (unsigned x = 0; x < p.width; ++x) {
        seed = seed * 1103515245u + 12345u;
        const int noise = static_cast<int>((seed >> 16) % 301) - 150;
        int v = static_cast<int>((static_cast<long>(x + y + 7 * f) * (range - 1)) / (p.width + p.height + 14)) + noise;
        v = std::clamp(v, 0, range - 1);
        if (p.is_signed) v -= range / 2;
        px.push_back(static_cast<std::uint16_t>(v & (range - 1)) | static_cast<std::uint16_t>(p.is_signed && v < 0 ? (0xffffu << p.bits_stored) & 0xffff : 0));
      }
  w.words(0x7fe0, 0x10, px);
  return w.bytes(preamble);
}

// ---- reading PNG back with libpng ---------------------------------------------------------

struct Png {
  unsigned width = 0, height = 0, channels = 0, depth = 0;
  std::vector<unsigned> samples;  // row-major, interleaved
  png_uint_32 res_x = 0, res_y = 0;
  int res_unit = -1;
  int text_chunks = 0;
};

struct PngReadFree {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadFree() { png_destroy_read_struct(&png, &info, nullptr); }
};

Png read_png(const fs::path& path) {
  Png out;
  const mediabatch::File file = mediabatch::open_file(path.string(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path.string());
  PngReadFree h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  h.info = png_create_info_struct(h.png);
  if (setjmp(png_jmpbuf(h.png))) throw std::runtime_error("libpng failed on " + path.string());
  png_init_io(h.png, file.get());
  png_read_png(h.png, h.info, PNG_TRANSFORM_IDENTITY, nullptr);
  out.width = png_get_image_width(h.png, h.info);
  out.height = png_get_image_height(h.png, h.info);
  out.channels = png_get_channels(h.png, h.info);
  out.depth = png_get_bit_depth(h.png, h.info);
  png_get_pHYs(h.png, h.info, &out.res_x, &out.res_y, &out.res_unit);
  png_textp text = nullptr;
  out.text_chunks = png_get_text(h.png, h.info, &text, nullptr);
  png_bytepp rows = png_get_rows(h.png, h.info);
  for (unsigned y = 0; y < out.height; ++y)
    for (unsigned i = 0; i < out.width * out.channels; ++i)
      out.samples.push_back(out.depth == 16 ? (rows[y][2 * i] << 8 | rows[y][2 * i + 1]) : rows[y][i]);
  return out;
}

// ---- running the encoder ------------------------------------------------------------------

// `mediabatch dicom OPTIONS in` with the output named `out`, through the engine's run_job().
void convert(const fs::path& in, const fs::path& out, const std::vector<std::string>& options = {}) {
  mbtest::EncoderHarness(mediabatch::make_dicom_encoder(), options).encode(in, out);
}

// Largest absolute difference between two images of equal shape (fails the test otherwise).
unsigned max_diff(const Png& a, const Png& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.samples.size() != b.samples.size()) return 1u << 20;
  unsigned worst = 0;
  for (std::size_t i = 0; i < a.samples.size(); ++i)
    worst = std::max(worst, static_cast<unsigned>(std::abs(static_cast<int>(a.samples[i]) - static_cast<int>(b.samples[i]))));
  return worst;
}

bool distinct_values_at_least(const Png& p, unsigned n) {
  std::vector<bool> seen(65536);
  unsigned count = 0;
  for (auto v : p.samples) if (!seen[v]) { seen[v] = true; ++count; }
  return count >= n;
}

// window_option: "+Wi" (the file's first window) or "+Wm" (min-max).
Png dcmj2pnm(const fs::path& in, const fs::path& out, const std::string& window_option) {
  std::vector<std::string> argv{"dcmj2pnm", "+on", window_option};
  if (window_option == "+Wi") argv.push_back("1");
  argv.push_back(in.string());
  argv.push_back(out.string());
  const auto r = mbtest::run(argv);
  if (r.exit_code != 0) throw std::runtime_error("dcmj2pnm failed: " + r.err);
  return read_png(out);
}

// ---- tests --------------------------------------------------------------------------------

class DicomTest : public ::testing::Test {
 protected:
  TempDir dir;
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir / name;
    mbtest::write_file(p, bytes);
    return p;
  }
};

TEST_F(DicomTest, FileWindowMatchesDcmj2pnm) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.window_center = "1800\\40";
  p.window_width = "2500\\80";
  const auto in = write("cr.dcm", gray_dicom(p));
  convert(in, dir / "cr.png");
  const Png ours = read_png(dir / "cr.png");
  const Png ref = dcmj2pnm(in, dir / "ref.png", "+Wi");
  EXPECT_EQ(ours.depth, 8u);
  EXPECT_EQ(ours.channels, 1u);
  EXPECT_LE(max_diff(ours, ref), 1u);
  EXPECT_TRUE(distinct_values_at_least(ours, 200));  // the window really spreads the values
}

TEST_F(DicomTest, DefaultsToFileWindowAndFallsBackToMinMax) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.window_center = "1000";
  p.window_width = "400";
  const auto with = write("with.dcm", gray_dicom(p));
  convert(with, dir / "with.png");
  EXPECT_LE(max_diff(read_png(dir / "with.png"), dcmj2pnm(with, dir / "with_ref.png", "+Wi")), 1u);
  // and the explicit --window file gives the same
  convert(with, dir / "with_file.png", {"--window", "file"});
  EXPECT_EQ(max_diff(read_png(dir / "with.png"), read_png(dir / "with_file.png")), 0u);

  p.window_center.clear();
  const auto without = write("without.dcm", gray_dicom(p));
  convert(without, dir / "without.png");
  EXPECT_LE(max_diff(read_png(dir / "without.png"), dcmj2pnm(without, dir / "without_ref.png", "+Wm")), 1u);
}

TEST_F(DicomTest, MinMaxWithRescaleMatchesDcmj2pnm) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.slope = "0.5";
  p.intercept = "-1024";
  p.window_center = "-300";
  p.window_width = "700";
  const auto in = write("ct.dcm", gray_dicom(p));
  convert(in, dir / "mm.png", {"--window", "minmax"});
  EXPECT_LE(max_diff(read_png(dir / "mm.png"), dcmj2pnm(in, dir / "mm_ref.png", "+Wm")), 1u);
  // the file's window applies to rescaled values
  convert(in, dir / "fw.png");
  const Png fw = read_png(dir / "fw.png");
  EXPECT_LE(max_diff(fw, dcmj2pnm(in, dir / "fw_ref.png", "+Wi")), 1u);
  EXPECT_TRUE(distinct_values_at_least(fw, 100));
}

TEST_F(DicomTest, SignedPixelsMatchDcmj2pnm) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.is_signed = true;
  p.bits_stored = 16;
  p.window_center = "0";
  p.window_width = "40000";
  const auto in = write("signed.dcm", gray_dicom(p));
  convert(in, dir / "s.png");
  EXPECT_LE(max_diff(read_png(dir / "s.png"), dcmj2pnm(in, dir / "s_ref.png", "+Wi")), 1u);
  convert(in, dir / "smm.png", {"--window", "minmax"});
  EXPECT_LE(max_diff(read_png(dir / "smm.png"), dcmj2pnm(in, dir / "smm_ref.png", "+Wm")), 1u);
}

TEST_F(DicomTest, Monochrome1IsInverted) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.photometric = "MONOCHROME1";
  const auto in = write("m1.dcm", gray_dicom(p));
  convert(in, dir / "m1.png");
  const Png m1 = read_png(dir / "m1.png");
  EXPECT_LE(max_diff(m1, dcmj2pnm(in, dir / "m1_ref.png", "+Wi")), 1u);
  p.photometric = "MONOCHROME2";
  convert(write("m2.dcm", gray_dicom(p)), dir / "m2.png");
  const Png m2 = read_png(dir / "m2.png");
  ASSERT_EQ(m1.samples.size(), m2.samples.size());
  for (std::size_t i = 0; i < m1.samples.size(); ++i) ASSERT_EQ(m1.samples[i], 255 - m2.samples[i]) << i;
}

TEST_F(DicomTest, SigmoidVoiFunctionMatchesDcmj2pnm) {
  REQUIRE_TOOL("dcmj2pnm");
  GrayParams p;
  p.voi_function = "SIGMOID";
  p.window_center = "1500";
  p.window_width = "1200";
  const auto in = write("sig.dcm", gray_dicom(p));
  convert(in, dir / "sig.png");
  const Png sig = read_png(dir / "sig.png");
  EXPECT_LE(max_diff(sig, dcmj2pnm(in, dir / "sig_ref.png", "+Wi")), 1u);
  p.voi_function.clear();
  convert(write("lin.dcm", gray_dicom(p)), dir / "lin.png");
  EXPECT_GT(max_diff(sig, read_png(dir / "lin.png")), 5u);  // the function did change the curve
}

TEST_F(DicomTest, GivenWindow) {
  REQUIRE_TOOL("dcmj2pnm");
  const auto in = write("g.dcm", gray_dicom(GrayParams{}));
  convert(in, dir / "g.png", {"--window", "1500,1000"});
  const auto r = mbtest::run({"dcmj2pnm", "+on", "+Ww", "1500", "1000", in.string(), (dir / "g_ref.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_diff(read_png(dir / "g.png"), read_png(dir / "g_ref.png")), 1u);
}

TEST_F(DicomTest, CompressedTransferSyntaxesGiveTheSamePixels) {
  REQUIRE_TOOL("gdcmconv");
  GrayParams p;
  p.width = 96;
  p.height = 80;
  const auto raw = write("raw.dcm", gray_dicom(p));
  convert(raw, dir / "raw.png");
  const Png ref = read_png(dir / "raw.png");
  for (const std::string flag : {"--jpeg", "--jpegls", "--j2k", "--rle"}) {
    SCOPED_TRACE(flag);
    const fs::path c = dir / ("c" + flag.substr(2) + ".dcm");
    const auto r = mbtest::run({"gdcmconv", flag, raw.string(), c.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_NE(mbtest::read_file(c), mbtest::read_file(raw));  // really re-encoded
    convert(c, dir / ("c" + flag.substr(2) + ".png"));
    EXPECT_EQ(max_diff(read_png(dir / ("c" + flag.substr(2) + ".png")), ref), 0u);
  }
}

// 8-bit RGB test pattern: r = x*4, g = y*4, b = (x^y)*4 (64x64).
std::string rgb_dicom(const std::string& photometric, const std::vector<std::uint8_t>& pixel_bytes,
                      unsigned width, unsigned height, int planar = 0) {
  DicomWriter w;
  w.str(2, 1, "OB", std::string("\0\1", 2));
  w.str(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(2, 3, "UI", "1.2.3.4.5.6.8");
  w.str(8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(8, 0x18, "UI", "1.2.3.4.5.6.8");
  w.us(0x28, 2, 3);
  w.str(0x28, 4, "CS", photometric);
  w.us(0x28, 6, static_cast<std::uint16_t>(planar));
  w.us(0x28, 0x10, static_cast<std::uint16_t>(height));
  w.us(0x28, 0x11, static_cast<std::uint16_t>(width));
  w.us(0x28, 0x100, 8);
  w.us(0x28, 0x101, 8);
  w.us(0x28, 0x102, 7);
  w.us(0x28, 0x103, 0);
  w.str(0x7fe0, 0x10, "OB", std::string(pixel_bytes.begin(), pixel_bytes.end()));
  return w.bytes();
}

std::vector<std::uint8_t> rgb_pattern(unsigned n) {
  std::vector<std::uint8_t> v;
  for (unsigned y = 0; y < n; ++y)
    for (unsigned x = 0; x < n; ++x) {
      v.push_back(static_cast<std::uint8_t>(x * 4));
      v.push_back(static_cast<std::uint8_t>(y * 4));
      v.push_back(static_cast<std::uint8_t>((x ^ y) * 4));
    }
  return v;
}

TEST_F(DicomTest, RgbPlanarAndYbrFull) {
  const unsigned n = 64;
  const auto rgb = rgb_pattern(n);
  convert(write("rgb.dcm", rgb_dicom("RGB", rgb, n, n)), dir / "rgb.png");
  const Png a = read_png(dir / "rgb.png");
  ASSERT_EQ(a.channels, 3u);
  ASSERT_EQ(a.samples.size(), rgb.size());
  for (std::size_t i = 0; i < rgb.size(); ++i) ASSERT_EQ(a.samples[i], rgb[i]) << i;

  convert(dir / "rgb.dcm", dir / "rgb_crop.png", {"--crop", "10x5+3+2"});
  const Png cropped = read_png(dir / "rgb_crop.png");
  ASSERT_EQ(cropped.width, 10u);
  ASSERT_EQ(cropped.height, 5u);
  for (unsigned y = 0; y < 5; ++y)
    for (unsigned x = 0; x < 30; ++x)
      ASSERT_EQ(cropped.samples[y * 30 + x], rgb[((y + 2) * n + 3) * 3 + x]) << x << "," << y;

  std::vector<std::uint8_t> planar(rgb.size());
  for (std::size_t i = 0; i < n * n; ++i)
    for (int c = 0; c < 3; ++c) planar[c * n * n + i] = rgb[3 * i + c];
  convert(write("planar.dcm", rgb_dicom("RGB", planar, n, n, 1)), dir / "planar.png");
  EXPECT_EQ(max_diff(read_png(dir / "planar.png"), a), 0u);

  std::vector<std::uint8_t> ybr;
  for (std::size_t i = 0; i < n * n; ++i) {
    const double r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    const double y = 0.299 * r + 0.587 * g + 0.114 * b;
    ybr.push_back(static_cast<std::uint8_t>(std::lround(y)));
    ybr.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(128 + (b - y) / 1.772), 0L, 255L)));
    ybr.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(128 + (r - y) / 1.402), 0L, 255L)));
  }
  convert(write("ybr.dcm", rgb_dicom("YBR_FULL", ybr, n, n)), dir / "ybr.png");
  EXPECT_LE(max_diff(read_png(dir / "ybr.png"), a), 2u);

  // Uncompressed YBR_FULL_422 (Y1 Y2 Cb Cr per pair) equals YBR_FULL with the pair's chroma.
  std::vector<std::uint8_t> shared = ybr, packed;
  for (std::size_t i = 0; i < n * n; i += 2) {
    shared[3 * (i + 1) + 1] = shared[3 * i + 1];
    shared[3 * (i + 1) + 2] = shared[3 * i + 2];
    packed.insert(packed.end(), {shared[3 * i], shared[3 * i + 3], shared[3 * i + 1], shared[3 * i + 2]});
  }
  convert(write("shared.dcm", rgb_dicom("YBR_FULL", shared, n, n)), dir / "shared.png");
  convert(write("422.dcm", rgb_dicom("YBR_FULL_422", packed, n, n)), dir / "422.png");
  EXPECT_EQ(max_diff(read_png(dir / "422.png"), read_png(dir / "shared.png")), 0u);
}

TEST_F(DicomTest, CompressedColourGivesTheSamePixels) {
  REQUIRE_TOOL("gdcmconv");
  const unsigned n = 64;
  const auto raw = write("rgb.dcm", rgb_dicom("RGB", rgb_pattern(n), n, n));
  convert(raw, dir / "rgb.png");
  const Png ref = read_png(dir / "rgb.png");
  for (const std::string flag : {"--jpeg", "--jpegls", "--j2k", "--rle"}) {
    SCOPED_TRACE(flag);
    const fs::path c = dir / ("c" + flag.substr(2) + ".dcm");
    const auto r = mbtest::run({"gdcmconv", flag, raw.string(), c.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    convert(c, dir / ("c" + flag.substr(2) + ".png"));
    EXPECT_EQ(max_diff(read_png(dir / ("c" + flag.substr(2) + ".png")), ref), 0u);
  }
}

TEST_F(DicomTest, JpegBaselineYbrFull422MatchesDcmj2pnm) {
  REQUIRE_TOOL("ffmpeg");
  REQUIRE_TOOL("img2dcm");
  REQUIRE_TOOL("dcmj2pnm");
  // img2dcm wraps the JPEG as it is: JPEG Baseline, YBR_FULL_422, as from a camera.
  const fs::path jpg = dir / "tp.jpg", dcm = dir / "tp.dcm";
  auto r = mbtest::run({"ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=96x64", "-frames:v", "1",
                        "-q:v", "2", "-pix_fmt", "yuvj420p", jpg.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = mbtest::run({"img2dcm", jpg.string(), dcm.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(mbtest::read_file(dcm).find("YBR_FULL_422"), std::string::npos);
  convert(dcm, dir / "tp.png");
  r = mbtest::run({"dcmj2pnm", "+on", dcm.string(), (dir / "tp_ref.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Png ours = read_png(dir / "tp.png");
  EXPECT_EQ(ours.channels, 3u);
  EXPECT_LE(max_diff(ours, read_png(dir / "tp_ref.png")), 2u);
}

TEST_F(DicomTest, PaletteColourIsExpanded) {
  const unsigned n = 32;
  DicomWriter w;
  w.str(2, 1, "OB", std::string("\0\1", 2));
  w.str(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(2, 3, "UI", "1.2.3.4.5.6.9");
  w.str(8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(8, 0x18, "UI", "1.2.3.4.5.6.9");
  w.us(0x28, 2, 1);
  w.str(0x28, 4, "CS", "PALETTE COLOR");
  w.us(0x28, 0x10, n);
  w.us(0x28, 0x11, n);
  w.us(0x28, 0x100, 8);
  w.us(0x28, 0x101, 8);
  w.us(0x28, 0x102, 7);
  w.us(0x28, 0x103, 0);
  // 256 entries, first mapped 0, 16-bit entries
  for (std::uint16_t e : {0x1101, 0x1102, 0x1103}) {
    w.add(0x28, e, "US", std::string("\0\1\0\0\x10\0", 6));
  }
  std::vector<std::uint16_t> red, green, blue;
  for (unsigned i = 0; i < 256; ++i) {
    red.push_back(static_cast<std::uint16_t>(i * 257));
    green.push_back(static_cast<std::uint16_t>((255 - i) * 257));
    blue.push_back(static_cast<std::uint16_t>((i % 2) ? 0xffff : 0));
  }
  w.words(0x28, 0x1201, red);
  w.words(0x28, 0x1202, green);
  w.words(0x28, 0x1203, blue);
  std::string px;
  for (unsigned i = 0; i < n * n; ++i) px.push_back(static_cast<char>((i * 7) & 0xff));
  w.str(0x7fe0, 0x10, "OB", px);
  convert(write("pal.dcm", w.bytes()), dir / "pal.png");
  const Png p = read_png(dir / "pal.png");
  ASSERT_EQ(p.channels, 3u);
  ASSERT_EQ(p.samples.size(), n * n * 3);
  for (unsigned i = 0; i < n * n; ++i) {
    const unsigned idx = (i * 7) & 0xff;
    ASSERT_EQ(p.samples[3 * i], idx) << i;
    ASSERT_EQ(p.samples[3 * i + 1], 255 - idx) << i;
    ASSERT_EQ(p.samples[3 * i + 2], (idx % 2) ? 255u : 0u) << i;
  }
}

TEST_F(DicomTest, CropAfterWindowing) {
  GrayParams p;
  p.window_center.clear();  // min-max over the whole image, not the crop
  const auto in = write("c.dcm", gray_dicom(p));
  convert(in, dir / "full.png");
  convert(in, dir / "crop.png", {"--crop", "20x10+30+5"});
  const Png full = read_png(dir / "full.png"), crop = read_png(dir / "crop.png");
  ASSERT_EQ(crop.width, 20u);
  ASSERT_EQ(crop.height, 10u);
  for (unsigned y = 0; y < 10; ++y)
    for (unsigned x = 0; x < 20; ++x)
      ASSERT_EQ(crop.samples[y * 20 + x], full.samples[(y + 5) * full.width + x + 30]) << x << "," << y;

  try {
    convert(in, dir / "bad.png", {"--crop", "40x10+30+5"});
    FAIL() << "a crop outside the image must fail";
  } catch (const mediabatch::Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "bad.png"));
  EXPECT_THROW(convert(in, dir / "x.png", {"--crop", "nonsense"}), mediabatch::UsageError);
}

TEST_F(DicomTest, DensityAndNoTextChunks) {
  const auto in = write("d.dcm", gray_dicom(GrayParams{}));
  convert(in, dir / "d300.png");
  const Png a = read_png(dir / "d300.png");
  EXPECT_EQ(a.res_unit, PNG_RESOLUTION_METER);
  EXPECT_EQ(a.res_x, 11811u);  // 300 dpi
  EXPECT_EQ(a.res_y, 11811u);
  EXPECT_EQ(a.text_chunks, 0);
  const std::string bytes = mbtest::read_file(dir / "d300.png");
  EXPECT_EQ(bytes.find("DOE"), std::string::npos);
  EXPECT_EQ(bytes.find("PID-31337"), std::string::npos);
  convert(in, dir / "d150.png", {"--density", "150"});
  EXPECT_EQ(read_png(dir / "d150.png").res_x, 5906u);
}

TEST_F(DicomTest, Depth16) {
  GrayParams p;
  const auto in = write("d.dcm", gray_dicom(p));
  convert(in, dir / "8.png");
  convert(in, dir / "16.png", {"--depth", "16"});
  const Png a = read_png(dir / "8.png"), b = read_png(dir / "16.png");
  ASSERT_EQ(b.depth, 16u);
  ASSERT_EQ(a.samples.size(), b.samples.size());
  bool finer = false;
  for (std::size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_LE(std::abs(static_cast<int>(b.samples[i] / 257.0 + 0.5) - static_cast<int>(a.samples[i])), 1) << i;
    finer = finer || b.samples[i] % 257 != 0;
  }
  EXPECT_TRUE(finer);
  EXPECT_THROW(convert(in, dir / "x.png", {"--depth", "12"}), CLI::ValidationError);
}

TEST_F(DicomTest, FramesFirstAndAll) {
  GrayParams p;
  p.frames = 3;
  p.window_center.clear();
  const auto in = write("multi.dcm", gray_dicom(p));
  convert(in, dir / "multi.png");
  EXPECT_TRUE(fs::exists(dir / "multi.png"));
  EXPECT_FALSE(fs::exists(dir / "multi_0001.png"));
  convert(in, dir / "multi.png", {"--frames", "all"});
  std::vector<Png> frames;
  for (int f = 1; f <= 3; ++f) {
    const fs::path out = dir / ("multi_000" + std::to_string(f) + ".png");
    ASSERT_TRUE(fs::exists(out)) << out;
    frames.push_back(read_png(out));
  }
  EXPECT_EQ(max_diff(frames[0], read_png(dir / "multi.png")), 0u);
  EXPECT_NE(frames[0].samples, frames[1].samples);
  EXPECT_NE(frames[1].samples, frames[2].samples);
  EXPECT_FALSE(fs::exists(dir / "multi_0004.png"));

  // Skip-if-newer looks for every file a job writes: each frame's under --frames all, named
  // from the header; the one output otherwise.
  mbtest::EncoderHarness all(mediabatch::make_dicom_encoder(), {"--frames", "all"});
  EXPECT_EQ(all.encoder().planned_outputs(in, dir / "multi.png"),
            (std::vector<fs::path>{dir / "multi_0001.png", dir / "multi_0002.png", dir / "multi_0003.png"}));
  const auto single = write("single.dcm", gray_dicom(GrayParams{}));
  EXPECT_EQ(all.encoder().planned_outputs(single, dir / "single.png"), std::vector<fs::path>{dir / "single.png"});
  mbtest::EncoderHarness first(mediabatch::make_dicom_encoder());
  EXPECT_EQ(first.encoder().planned_outputs(in, dir / "multi.png"), std::vector<fs::path>{dir / "multi.png"});
  // A header claiming more frames than the file has bytes (within --max-pixels) is no list of
  // names to make.
  GrayParams liar;
  liar.claimed_frames = 50000;
  const auto lying = write("liar.dcm", gray_dicom(liar));
  EXPECT_EQ(all.encoder().planned_outputs(lying, dir / "liar.png"), std::vector<fs::path>{dir / "liar.png"});
}

TEST_F(DicomTest, AllFramesJobIsRedoneWhenAFrameIsMissing) {
  GrayParams p;
  p.frames = 3;
  const auto in = write("multi.dcm", gray_dicom(p));
  const fs::path out = dir / "out" / "multi.png";
  mbtest::EncoderHarness h(mediabatch::make_dicom_encoder(), {"--frames", "all"});
  mbtest::JobOptions skip_if_newer;
  skip_if_newer.force = false;
  ASSERT_EQ(h.encode(in, out, skip_if_newer).status, mediabatch::Status::ok);
  const fs::path second = dir / "out" / "multi_0002.png";
  const auto written = fs::last_write_time(second);

  const mediabatch::Result again = h.encode(in, out, skip_if_newer);
  EXPECT_EQ(again.status, mediabatch::Status::skipped) << again.error;
  EXPECT_EQ(again.output, (dir / "out" / "multi_0001.png").string());
  EXPECT_EQ(again.more_outputs, (std::vector<std::string>{second.string(), (dir / "out" / "multi_0003.png").string()}));
  EXPECT_EQ(fs::last_write_time(second), written);

  // One frame gone: the job is not done, and is converted again.
  fs::remove(second);
  const mediabatch::Result redone = h.encode(in, out, skip_if_newer);
  EXPECT_EQ(redone.status, mediabatch::Status::ok) << redone.error;
  ASSERT_TRUE(fs::exists(second));
  EXPECT_EQ(read_png(second).samples.size(), 64u * 48u);
  EXPECT_FALSE(fs::exists(out)) << "a multi-frame file writes no <stem>.png";
}

TEST_F(DicomTest, AllFramesAreUpToDateOnTheNextRun) {
  GrayParams p;
  p.frames = 3;
  const auto multi = write("multi.dcm", gray_dicom(p));
  const auto single = write("single.dcm", gray_dicom(GrayParams{}));
  const fs::path out = dir / "out";
  const std::vector<std::string> args{"dicom", "--progress", "never", "--frames", "all", "--report",
                                      (dir / "report.jsonl").string(), multi.string(), single.string(),
                                      "-o", out.string()};
  auto r = mbtest::mediabatch(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(out / "multi_0003.png"));
  EXPECT_FALSE(fs::exists(out / "multi.png"));
  EXPECT_TRUE(fs::exists(out / "single.png"));
  const auto written = fs::last_write_time(out / "multi_0002.png");
  // Second run: both inputs are older than what the first run wrote.
  r = mbtest::mediabatch(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("0 ok, 0 failed, 2 skipped"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(fs::last_write_time(out / "multi_0002.png"), written);
  auto args_forced = args;
  args_forced.insert(args_forced.begin() + 1, "--force");
  r = mbtest::mediabatch(args_forced);
  EXPECT_NE((r.out + r.err).find("2 ok, 0 failed, 0 skipped"), std::string::npos) << r.out << r.err;
}

TEST_F(DicomTest, NoPixelDataIsSkippedWithThatReason) {
  DicomWriter w;
  w.str(2, 1, "OB", std::string("\0\1", 2));
  w.str(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.88.11");
  w.str(2, 3, "UI", "1.2.3.4.5.6.10");
  w.str(8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.88.11");
  w.str(8, 0x18, "UI", "1.2.3.4.5.6.10");
  w.str(8, 0x60, "CS", "SR");
  w.str(0x10, 0x10, "PN", "DOE^JOHN");
  const auto in = write("sr.dcm", w.bytes());
  auto encoder = mediabatch::make_dicom_encoder();
  const std::string head = mbtest::read_file(in).substr(0, 4096);
  EXPECT_TRUE(encoder->accepts({in, head}));
  try {
    convert(in, dir / "sr.png");
    FAIL() << "no pixel data must be skipped";
  } catch (const mediabatch::Skip& e) {
    EXPECT_STREQ(e.what(), "no pixel data");
  }
  EXPECT_FALSE(fs::exists(dir / "sr.png"));

  // A truncated uncompressed file fails instead of giving black rows.
  const std::string whole = gray_dicom(GrayParams{});
  const auto cut = write("cut.dcm", whole.substr(0, whole.size() / 2));
  try {
    convert(cut, dir / "cut.png");
    FAIL() << "a truncated file must fail";
  } catch (const mediabatch::Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }

  const auto junk = write("junk.dcm", std::string(300, 'x'));
  EXPECT_THROW(convert(junk, dir / "junk.png"), mediabatch::Error);
}

TEST_F(DicomTest, RecognisesByContent) {
  auto encoder = mediabatch::make_dicom_encoder();
  const std::string with = gray_dicom(GrayParams{});
  const std::string without = gray_dicom(GrayParams{}, false);
  EXPECT_TRUE(encoder->accepts({"a.bin", std::string_view(with).substr(0, 4096)}));
  EXPECT_TRUE(encoder->accepts({"b", std::string_view(without).substr(0, 4096)}));
  EXPECT_FALSE(encoder->accepts({"c.dcm", "hello, this is plain text and not DICOM at all...."}));
  EXPECT_FALSE(encoder->accepts({"d.dcm", std::string(200, '\0')}));
  const std::string png_head = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
  EXPECT_FALSE(encoder->accepts({"e.dcm", png_head}));
  EXPECT_EQ(encoder->output_name("/x/scan.dcm"), fs::path("scan.png"));
  EXPECT_EQ(encoder->output_name("IM0001"), fs::path("IM0001.png"));

  // A file without the preamble decodes like the one with it.
  const auto in = write("bare", without);
  const auto in2 = write("full.dcm", with);
  convert(in, dir / "bare.png");
  convert(in2, dir / "full.png");
  EXPECT_EQ(max_diff(read_png(dir / "bare.png"), read_png(dir / "full.png")), 0u);
}

}  // namespace

namespace {

TEST_F(DicomTest, BundledAssetsMatchDcmj2pnm) {
  REQUIRE_TOOL("gdcmconv");
  REQUIRE_TOOL("dcmj2pnm");
  // CT phantom, JPEG-LS lossless, signed with Rescale Intercept -1024 and two windows.
  // dcmj2pnm cannot read JPEG-LS, so it renders gdcmconv's uncompressed copy.
  const fs::path ct = mbtest::asset("dicom_ct_phantom_jpegls.dcm"), raw = dir / "ct_raw.dcm";
  auto r = mbtest::run({"gdcmconv", "--raw", ct.string(), raw.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  convert(ct, dir / "ct.png");
  const Png ours = read_png(dir / "ct.png");
  EXPECT_EQ(ours.width, 256u);
  EXPECT_LE(max_diff(ours, dcmj2pnm(raw, dir / "ct_ref.png", "+Wi")), 1u);
  EXPECT_TRUE(distinct_values_at_least(ours, 50));

  const fs::path colour = mbtest::asset("dicom_colour_jpeg.dcm");
  convert(colour, dir / "colour.png");
  r = mbtest::run({"dcmj2pnm", "+on", colour.string(), (dir / "colour_ref.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_diff(read_png(dir / "colour.png"), read_png(dir / "colour_ref.png")), 2u);
}

TEST_F(DicomTest, CommandLine) {
  GrayParams p;
  const auto good = write("good.dcm", gray_dicom(p));
  const auto bare = write("IM0001", gray_dicom(p, false));
  write("notes.txt", "not an image");
  const fs::path out = dir / "out";
  auto r = mbtest::mediabatch({"dicom", "--progress", "never", "--density", "72", "--crop", "32x16+4+4",
                               good.string(), bare.string(), (dir / "notes.txt").string(), "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(fs::exists(out / "good.png")) << r.out << r.err;
  ASSERT_TRUE(fs::exists(out / "IM0001.png")) << r.out << r.err;
  EXPECT_FALSE(fs::exists(out / "notes.png"));
  const Png a = read_png(out / "good.png");
  EXPECT_EQ(a.width, 32u);
  EXPECT_EQ(a.height, 16u);
  EXPECT_EQ(a.res_x, 2835u);  // 72 dpi
  EXPECT_EQ(max_diff(a, read_png(out / "IM0001.png")), 0u);

  // One file failing (crop outside it) leaves the other converted and the exit code non-zero.
  GrayParams small;
  small.width = 16;
  small.height = 16;
  const auto tiny = write("tiny.dcm", gray_dicom(small));
  r = mbtest::mediabatch({"dicom", "--progress", "never", "--crop", "32x16+4+4", good.string(), tiny.string(),
                          "-o", (dir / "out2").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("outside the 16x16 image"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(fs::exists(dir / "out2" / "good.png"));
  EXPECT_FALSE(fs::exists(dir / "out2" / "tiny.png"));

  r = mbtest::mediabatch({"dicom", "--window", "wide", good.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}

// ---- size limits: bombs made here, never committed ----------------------------------------

std::string le32(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// The explicit VR little endian header of (group,element) with this VR, as in the files above.
std::size_t find_element(const std::string& dicom, std::uint16_t group, std::uint16_t element, const char* vr) {
  const std::string head{static_cast<char>(group & 0xFF), static_cast<char>(group >> 8),
                         static_cast<char>(element & 0xFF), static_cast<char>(element >> 8), vr[0], vr[1]};
  const std::size_t at = dicom.find(head);
  if (at == std::string::npos) throw std::runtime_error("no such element in the test file");
  return at;
}

// Rows and Columns set to what a header may claim, over the pixel data of a small image.
std::string claiming_size(std::uint16_t rows, std::uint16_t columns) {
  std::string d = gray_dicom(GrayParams{});
  for (auto [element, v] : {std::pair{0x10, rows}, {0x11, columns}}) {
    const std::size_t at = find_element(d, 0x28, static_cast<std::uint16_t>(element), "US") + 8;
    d[at] = static_cast<char>(v & 0xFF);
    d[at + 1] = static_cast<char>(v >> 8);
  }
  return d;
}

// A small image whose Pixel Data claims `length` bytes (the file ends long before).
std::string pixel_data_claiming(std::uint32_t length) {
  std::string d = gray_dicom(GrayParams{});
  d.replace(find_element(d, 0x7fe0, 0x10, "OW") + 8, 4, le32(length));
  return d;
}

// A private OB value before the image claiming `length` bytes.
std::string private_value_claiming(std::uint32_t length) {
  std::string d = gray_dicom(GrayParams{});
  const std::string value = std::string("\x09\x00\x10\x10OB\0\0", 8) + le32(length) + std::string(16, '\x55');
  return d.insert(find_element(d, 0x10, 0x10, "PN"), value);
}

// RLE Lossless Pixel Data, encapsulated: an empty offset table, then a fragment claiming `length`.
std::string fragment_claiming(std::uint32_t length) {
  DicomWriter w;
  w.str(2, 1, "OB", std::string("\0\1", 2));
  w.str(2, 2, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(2, 3, "UI", "1.2.3.4.5.6.11");
  w.str(8, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.7");
  w.str(8, 0x18, "UI", "1.2.3.4.5.6.11");
  w.us(0x28, 2, 1);
  w.str(0x28, 4, "CS", "MONOCHROME2");
  w.us(0x28, 0x10, 48);
  w.us(0x28, 0x11, 64);
  w.us(0x28, 0x100, 8);
  w.us(0x28, 0x101, 8);
  w.us(0x28, 0x102, 7);
  w.us(0x28, 0x103, 0);
  const std::string item("\xFE\xFF\x00\xE0", 4);
  return w.bytes(true, "1.2.840.10008.1.2.5") + std::string("\xE0\x7F\x10\x00OB\0\0", 8) + le32(0xFFFFFFFFu) +
         item + le32(0) + item + le32(length) + std::string(64, '\0') + std::string("\xFE\xFF\xDD\xE0", 4) + le32(0);
}

TEST_F(DicomTest, BombsFailBeforeGdcmAllocatesForThem) {
  GrayParams frames;
  frames.width = frames.height = 256;
  frames.claimed_frames = 10000;  // one frame present
  const std::map<std::string, std::string> bombs = {
      {"size.dcm", claiming_size(65535, 65535)},
      {"frames.dcm", gray_dicom(frames)},
      {"pixel_data.dcm", pixel_data_claiming(0xFFFFFFF0u)},
      {"private.dcm", private_value_claiming(0xE0000000u)},
      {"fragment.dcm", fragment_claiming(0xFFFFFFF0u)},
  };
  std::vector<std::string> argv{MEDIABATCH_BINARY, "dicom", "-j", "2", "--progress", "never", "--report",
                                (dir / "report.jsonl").string(), "-o", (dir / "out").string()};
  for (const auto& [name, bytes] : bombs) argv.push_back(write(name, bytes).string());
  int exit_code = -1;
  const long kb = mbtest::peak_rss_kb(argv, &exit_code);
  EXPECT_EQ(exit_code, 1);
  EXPECT_GT(kb, 0);
  EXPECT_LT(kb, 1024 * 1024) << "peak resident memory in KB";
  std::printf("peak resident memory, dicom -j 2 with %zu bombs: %ld KB\n", bombs.size(), kb);

  std::map<std::string, std::string> reasons;
  std::istringstream lines(mbtest::read_file(dir / "report.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    reasons[fs::path(j.at("input").get<std::string>()).filename().string()] = j.value("error", "");
  }
  auto size_of = [&](const char* name) { return std::to_string(fs::file_size(dir / name)); };
  EXPECT_EQ(reasons["size.dcm"], "image is 65535x65535 (4295 megapixels), above --max-pixels 250000000");
  EXPECT_EQ(reasons["frames.dcm"], "image is 256x256 x 10000 frames (655 megapixels), above --max-pixels 250000000");
  EXPECT_EQ(reasons["pixel_data.dcm"],
            "truncated file: Pixel Data needs 4294967280 bytes, the file has " + size_of("pixel_data.dcm"));
  EXPECT_EQ(reasons["private.dcm"],
            "damaged file: element (0009,1010) needs 3758096384 bytes, the file has " + size_of("private.dcm"));
  EXPECT_EQ(reasons["fragment.dcm"],
            "truncated file: a Pixel Data fragment needs 4294967280 bytes, the file has " + size_of("fragment.dcm"));
  EXPECT_TRUE(fs::is_empty(dir / "out")) << "no output, no temporary file";
}

// Rows x Columns x Number of Frames counts: 64x48 is 3072 pixels a frame.
TEST_F(DicomTest, MaxPixelsLowersAndRaisesTheLimit) {
  const auto one = write("one.dcm", gray_dicom(GrayParams{}));
  try {
    convert(one, dir / "one.png", {"--max-pixels", "3071"});
    FAIL() << "3072 pixels must fail under --max-pixels 3071";
  } catch (const mediabatch::Error& e) {
    EXPECT_STREQ(e.what(), "image is 64x48 (0.0031 megapixels), above --max-pixels 3071");
  }
  EXPECT_FALSE(fs::exists(dir / "one.png"));
  convert(one, dir / "one.png", {"--max-pixels", "3072"});
  EXPECT_EQ(read_png(dir / "one.png").width, 64u);
  convert(one, dir / "default.png");
  EXPECT_EQ(max_diff(read_png(dir / "default.png"), read_png(dir / "one.png")), 0u);

  GrayParams p;
  p.frames = 3;
  const auto three = write("three.dcm", gray_dicom(p));
  try {
    convert(three, dir / "three.png", {"--max-pixels", "9215"});
    FAIL() << "3 frames of 3072 pixels must fail under --max-pixels 9215";
  } catch (const mediabatch::Error& e) {
    EXPECT_STREQ(e.what(), "image is 64x48 x 3 frames (0.0092 megapixels), above --max-pixels 9215");
  }
  convert(three, dir / "three.png", {"--max-pixels", "9216", "--frames", "all"});
  EXPECT_TRUE(fs::exists(dir / "three_0003.png"));
  convert(three, dir / "unlimited.png", {"--max-pixels", "0"});
  EXPECT_TRUE(fs::exists(dir / "unlimited.png"));

  for (const char* bad : {"-1", "many"}) {
    auto encoder = mediabatch::make_dicom_encoder();
    CLI::App app{"dicom"};
    encoder->add_options(app);
    std::vector<std::string> args{bad, "--max-pixels"};
    EXPECT_THROW(app.parse(args), CLI::ParseError) << bad;
  }
}

// ---- --verify: each PNG read back (libpng) before it takes its final name ------------------

// The report's lines by input file name.
std::map<std::string, nlohmann::json> report_by_input(const fs::path& report) {
  std::map<std::string, nlohmann::json> by_input;
  std::istringstream lines(mbtest::read_file(report));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      by_input[fs::path(j.at("input").get<std::string>()).filename().string()] = j;
    }
  return by_input;
}

// Hidden files (temporaries are ".STEM.mbtmp...") left in a folder.
std::vector<std::string> hidden_files(const fs::path& folder) {
  std::vector<std::string> hidden;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().filename().string()[0] == '.') hidden.push_back(e.path().filename().string());
  return hidden;
}

struct PngWriteFree {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteFree() { png_destroy_write_struct(&png, &info); }
};

// Writes `p` with libpng (zlib, libpng's own filters): a whole PNG with valid CRCs, and a
// pHYs chunk in dots per metre when p.res_x is not 0.
void write_png(const fs::path& path, const Png& p) {
  mediabatch::File file = mediabatch::open_file(path.string(), "wb");
  if (!file) throw std::runtime_error("cannot create " + path.string());
  PngWriteFree h;
  h.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  h.info = png_create_info_struct(h.png);
  std::vector<std::uint8_t> bytes;
  for (auto v : p.samples) {
    if (p.depth == 16) bytes.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes.push_back(static_cast<std::uint8_t>(v));
  }
  if (setjmp(png_jmpbuf(h.png))) throw std::runtime_error("libpng failed on " + path.string());
  png_init_io(h.png, file.get());
  png_set_IHDR(h.png, h.info, p.width, p.height, static_cast<int>(p.depth),
               p.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (p.res_x > 0) png_set_pHYs(h.png, h.info, p.res_x, p.res_y, PNG_RESOLUTION_METER);
  png_write_info(h.png, h.info);
  const std::size_t row = bytes.size() / p.height;
  for (unsigned y = 0; y < p.height; ++y) png_write_row(h.png, bytes.data() + y * row);
  png_write_end(h.png, h.info);
  mediabatch::close_file(std::move(file), path.string());
}

// The dicom encoder with its PNG replaced after encode() returns, before the engine's checks
// run, by what `replace` makes of it: a file that is whole but may not be what was encoded.
class ReplacedOutput final : public mediabatch::Encoder {
 public:
  explicit ReplacedOutput(std::function<void(Png&)> replace)
      : inner_(mediabatch::make_dicom_encoder()), replace_(std::move(replace)) {}
  std::string_view name() const override { return inner_->name(); }
  std::string_view description() const override { return inner_->description(); }
  void add_options(CLI::App& command) override { inner_->add_options(command); }
  void validate() override { inner_->validate(); }
  bool accepts(const mediabatch::Probe& probe) const override { return inner_->accepts(probe); }
  fs::path output_name(const fs::path& input) const override { return inner_->output_name(input); }
  std::vector<fs::path> planned_outputs(const fs::path& input, const fs::path& output) const override {
    return inner_->planned_outputs(input, output);
  }
  void encode(mediabatch::EncodeContext& ctx) const override {
    inner_->encode(ctx);
    Png png = read_png(ctx.temp_output());
    replace_(png);
    write_png(ctx.temp_output(), png);
  }

 private:
  std::unique_ptr<mediabatch::Encoder> inner_;
  std::function<void(Png&)> replace_;
};

GrayParams verify_gray(unsigned width, unsigned height, unsigned frames = 1) {
  GrayParams p;
  p.width = width;
  p.height = height;
  p.frames = frames;
  return p;
}

// A batch of a large gray image, every frame of a multi-frame file and an RGB image, checked
// and "verified" in the report and the summary; then as 16-bit PNGs, cropped, at 72 dpi.
TEST_F(DicomTest, VerifyCleanBatchIsAllVerified) {
  const auto gray = write("gray.dcm", gray_dicom(verify_gray(512, 384)));
  const auto multi = write("multi.dcm", gray_dicom(verify_gray(128, 96, 3)));
  const auto rgb = write("rgb.dcm", rgb_dicom("RGB", rgb_pattern(64), 64, 64));
  const std::vector<std::vector<std::string>> option_sets = {
      {}, {"--depth", "16", "--density", "72", "--crop", "32x16+4+4"}};
  for (const auto& options : option_sets) {
    const fs::path out = dir / ("out" + std::to_string(options.size()));
    const fs::path report = dir / ("report" + std::to_string(options.size()) + ".jsonl");
    std::vector<std::string> args{"dicom", "--verify", "--progress", "never", "--frames", "all",
                                  "--report", report.string(), "-o", out.string()};
    args.insert(args.end(), options.begin(), options.end());
    for (const auto& in : {gray, multi, rgb}) args.push_back(in.string());
    const auto r = mbtest::mediabatch(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("3 ok, 0 failed, 0 skipped, 3 verified"), std::string::npos) << r.err;
    const auto by_input = report_by_input(report);
    ASSERT_EQ(by_input.size(), 3u);
    for (const auto& [name, j] : by_input) {
      EXPECT_EQ(j["status"], "ok") << name << ": " << j.dump();
      EXPECT_EQ(j.value("verified", false), true) << name << ": " << j.dump();
    }
    EXPECT_EQ(by_input.at("multi.dcm")["outputs"].size(), 3u) << by_input.at("multi.dcm").dump();
    for (const char* name : {"gray.png", "multi_0001.png", "multi_0002.png", "multi_0003.png", "rgb.png"}) {
      ASSERT_TRUE(fs::exists(out / name)) << name;
      EXPECT_EQ(read_png(out / name).depth, options.empty() ? 8u : 16u) << name;
    }
    EXPECT_TRUE(hidden_files(out).empty());
  }
}

// A PNG damaged between its writing and its check (the engine's test hook) fails alone, with
// the decoder's reason; nothing takes its name and no temporary is left.
TEST_F(DicomTest, VerifyFailsADamagedPngAloneAndLeavesNoTemporary) {
  const auto damaged = write("damaged.dcm", gray_dicom(verify_gray(512, 384)));
  const auto good = write("good.dcm", gray_dicom(verify_gray(256, 192)));
  const auto multi = write("multi.dcm", gray_dicom(verify_gray(128, 96, 3)));
  for (const std::string how : {"flip", "truncate"}) {
    const fs::path out = dir / ("out_" + how), report = dir / ("report_" + how + ".jsonl");
    ::setenv("MEDIABATCH_TEST_CORRUPT_OUTPUT", ("damaged:" + how).c_str(), 1);
    const auto r = mbtest::mediabatch({"dicom", "--verify", "--progress", "never", "--frames", "all", "--report",
                                       report.string(), "-o", out.string(), damaged.string(), good.string(),
                                       multi.string()});
    ::unsetenv("MEDIABATCH_TEST_CORRUPT_OUTPUT");
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("2 ok, 1 failed, 0 skipped, 2 verified"), std::string::npos) << how << ": " << r.err;
    const auto by_input = report_by_input(report);
    ASSERT_EQ(by_input.size(), 3u);
    const auto& bad = by_input.at("damaged.dcm");
    EXPECT_EQ(bad["status"], "failed") << bad.dump();
    EXPECT_FALSE(bad.contains("verified")) << bad.dump();
    const std::string error = bad.value("error", "");
    if (how == "truncate") {
      EXPECT_EQ(error, "verify: reading PNG: the file ends early");
    } else {
      // Where 64 inverted bytes land in the deflate stream decides libpng's words ("bad
      // adaptive filter value", "invalid distance too far back", "IDAT: CRC error").
      EXPECT_EQ(error.rfind("verify: reading PNG: ", 0), 0u) << error;
      EXPECT_GT(error.size(), std::string("verify: reading PNG: ").size()) << error;
    }
    for (const char* name : {"good.dcm", "multi.dcm"}) {
      EXPECT_EQ(by_input.at(name)["status"], "ok") << by_input.at(name).dump();
      EXPECT_EQ(by_input.at(name).value("verified", false), true) << by_input.at(name).dump();
    }
    EXPECT_FALSE(fs::exists(out / "damaged.png"));
    EXPECT_TRUE(fs::exists(out / "good.png"));
    EXPECT_TRUE(fs::exists(out / "multi_0003.png"));
    EXPECT_TRUE(hidden_files(out).empty()) << "a temporary was left: " << hidden_files(out).front();
  }
}

// Every frame of `--frames all` is checked: one damaged frame fails the job, which leaves
// none of its frames.
TEST_F(DicomTest, VerifyFailsAMultiFrameJobForOneDamagedFrame) {
  const auto multi = write("multi.dcm", gray_dicom(verify_gray(256, 192, 3)));
  const auto good = write("good.dcm", gray_dicom(verify_gray(256, 192)));
  const fs::path out = dir / "out", report = dir / "report.jsonl";
  ::setenv("MEDIABATCH_TEST_CORRUPT_OUTPUT", "multi_0002:truncate", 1);
  const auto r = mbtest::mediabatch({"dicom", "--verify", "--progress", "never", "--frames", "all", "--report",
                                     report.string(), "-o", out.string(), multi.string(), good.string()});
  ::unsetenv("MEDIABATCH_TEST_CORRUPT_OUTPUT");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("1 ok, 1 failed, 0 skipped, 1 verified"), std::string::npos) << r.err;
  const auto by_input = report_by_input(report);
  ASSERT_EQ(by_input.size(), 2u);
  EXPECT_EQ(by_input.at("multi.dcm")["status"], "failed");
  EXPECT_EQ(by_input.at("multi.dcm").value("error", ""), "verify: multi_0002.png: reading PNG: the file ends early");
  EXPECT_EQ(by_input.at("good.dcm").value("verified", false), true);
  for (const char* name : {"multi_0001.png", "multi_0002.png", "multi_0003.png"}) EXPECT_FALSE(fs::exists(out / name)) << name;
  EXPECT_TRUE(fs::exists(out / "good.png"));
  EXPECT_TRUE(hidden_files(out).empty()) << "a temporary was left: " << hidden_files(out).front();
}

// A PNG that is whole (valid CRCs, another writer's deflate and filters) is compared with what
// was encoded: the same pixels pass; one sample off, a missing pHYs, another bit depth or
// another size fail with what differs.
TEST_F(DicomTest, VerifyComparesPixelsDensityAndShapeWithWhatWasEncoded) {
  const auto in = write("ct.dcm", gray_dicom(verify_gray(512, 384)));
  struct Case {
    const char* what;
    std::function<void(Png&)> replace;
    const char* error;  // nullptr: passes
  };
  const Case cases[] = {
      {"same pixels", [](Png&) {}, nullptr},
      {"one sample", [](Png& p) { p.samples[p.samples.size() / 2 + 7] ^= 1; }, "verify: pixels differ from those encoded"},
      {"no pHYs", [](Png& p) { p.res_x = p.res_y = 0; },
       "verify: PNG has no pHYs chunk, 11811 dots per metre were asked (--density)"},
      {"72 dpi", [](Png& p) { p.res_x = p.res_y = 2835; },
       "verify: PNG pHYs is 2835x2835 dots per metre, 11811 dots per metre were asked (--density)"},
      {"16 bits",
       [](Png& p) {
         p.depth = 16;
         for (auto& v : p.samples) v *= 257;
       },
       "verify: PNG has 16-bit samples, 8-bit were encoded"},
      {"a row less",
       [](Png& p) {
         p.height -= 1;
         p.samples.resize(p.samples.size() - p.width);
       },
       "verify: PNG is 512x383, 512x384 was encoded"},
  };
  for (const auto& c : cases) {
    mbtest::EncoderHarness h(std::make_unique<ReplacedOutput>(c.replace));
    mbtest::JobOptions options;
    options.verify = true;
    const fs::path out = dir / "out" / "ct.png";
    try {
      const auto r = h.encode(in, out, options);
      EXPECT_EQ(c.error, nullptr) << c.what << ": passed";
      EXPECT_TRUE(r.verified) << c.what;
      EXPECT_TRUE(fs::exists(out)) << c.what;
    } catch (const mediabatch::Error& e) {
      if (c.error) {
        EXPECT_STREQ(e.what(), c.error) << c.what;
      } else {
        ADD_FAILURE() << c.what << ": " << e.what();
      }
      EXPECT_FALSE(fs::exists(out)) << c.what;
    }
    EXPECT_TRUE(hidden_files(dir / "out").empty()) << c.what;
    fs::remove_all(dir / "out");
  }
}

}  // namespace
