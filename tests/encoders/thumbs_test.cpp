// Tests of `mediabatch thumbs`. Inputs are made at test time with ImageMagick, ffmpeg,
// exiftool and heif-enc; outputs are read back with TurboJPEG, exiftool and compared with
// vipsthumbnail.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
extern "C" {
#include <jpeglib.h>
}
#include <fcntl.h>
#include <png.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "support/encoder_harness.hpp"
#include "support/test_support.hpp"

namespace mediabatch {
std::unique_ptr<Encoder> make_thumbs_encoder();
}

namespace {

namespace fs = std::filesystem;
using mbtest::sh;
using mbtest::TempDir;

struct Outcome {
  bool ok = false;
  std::string error;
  std::string warnings;
  fs::path output;
};

// Runs the encoder on one file through the engine, with command-line options for it.
Outcome thumb(const fs::path& input, const std::vector<std::string>& args = {}) {
  mbtest::EncoderHarness h(mediabatch::make_thumbs_encoder(), args);
  Outcome o;
  o.output = input.parent_path() / h.encoder().output_name(input);
  try {
    o.warnings = h.encode(input, o.output).warning;
    o.ok = true;
  } catch (const mediabatch::Error& e) {
    o.error = e.what();
  }
  return o;
}

struct Pixels {
  int width = 0, height = 0, channels = 0;
  int colorspace = -1, subsamp = -1;
  std::vector<unsigned char> data;
  const unsigned char* at(int x, int y) const { return data.data() + (std::size_t(y) * width + x) * channels; }
};

struct TjFree {
  void operator()(void* h) const noexcept { tjDestroy(h); }
};

// Decodes with TurboJPEG: gray JPEGs as 1 channel, everything else as RGB.
Pixels read_jpeg(const fs::path& p) {
  const std::string bytes = mbtest::read_file(p);
  std::unique_ptr<void, TjFree> h(tjInitDecompress());
  Pixels px;
  auto* buf = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(h.get(), buf, bytes.size(), &px.width, &px.height, &px.subsamp, &px.colorspace) != 0)
    throw std::runtime_error(std::string("tjDecompressHeader3: ") + tjGetErrorStr2(h.get()));
  const bool gray = px.colorspace == TJCS_GRAY;
  px.channels = gray ? 1 : 3;
  px.data.resize(std::size_t(px.width) * px.height * px.channels);
  if (tjDecompress2(h.get(), buf, bytes.size(), px.data.data(), px.width, 0, px.height, gray ? TJPF_GRAY : TJPF_RGB,
                    0) != 0)
    throw std::runtime_error(std::string("tjDecompress2: ") + tjGetErrorStr2(h.get()));
  return px;
}

// The JPEG markers before the first scan (APPn, DQT, SOFn...).
std::vector<int> markers(const fs::path& p) {
  const std::string b = mbtest::read_file(p);
  std::vector<int> found;
  std::size_t i = 2;
  while (i + 4 <= b.size() && static_cast<unsigned char>(b[i]) == 0xFF) {
    const int m = static_cast<unsigned char>(b[i + 1]);
    found.push_back(m);
    if (m == 0xDA) break;
    i += 2 + (static_cast<unsigned char>(b[i + 2]) << 8 | static_cast<unsigned char>(b[i + 3]));
  }
  return found;
}

double psnr(const Pixels& a, const Pixels& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.channels, b.channels);
  if (a.data.size() != b.data.size()) return 0;
  double se = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const double d = double(a.data[i]) - b.data[i];
    se += d * d;
  }
  const double mse = se / a.data.size();
  return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
}

void run_ok(const std::string& cmd) {
  const auto r = sh(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
}

void expect_color(const Pixels& px, int x, int y, int r, int g, int b, int tol, const std::string& what) {
  const unsigned char* p = px.at(x, y);
  EXPECT_NEAR(p[0], r, tol) << what << " red at " << x << "," << y;
  EXPECT_NEAR(p[1], g, tol) << what << " green at " << x << "," << y;
  EXPECT_NEAR(p[2], b, tol) << what << " blue at " << x << "," << y;
}

// An upright 320x240 picture of four quadrants: red, lime / blue, white. A thumbnail that
// comes out rotated or mirrored has its colours in the wrong corners.
fs::path quadrants(const TempDir& dir) {
  const fs::path p = dir / "upright.png";
  if (!fs::exists(p))
    run_ok("convert \\( -size 160x120 xc:red xc:lime +append \\) \\( -size 160x120 xc:blue xc:white +append \\) "
           "-append " + p.string());
  return p;
}

// Checks a 64x48 thumbnail of quadrants(): colours sampled in the middle of each quadrant.
void expect_upright(const fs::path& out, const std::string& what, int tol = 30) {
  const Pixels px = read_jpeg(out);
  ASSERT_EQ(px.width, 64) << what;
  ASSERT_EQ(px.height, 48) << what;
  ASSERT_EQ(px.channels, 3) << what;
  expect_color(px, 16, 12, 255, 0, 0, tol, what);
  expect_color(px, 48, 12, 0, 255, 0, tol, what);
  expect_color(px, 16, 36, 0, 0, 255, tol, what);
  expect_color(px, 48, 36, 255, 255, 255, tol, what);
}

class Thumbs : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_TOOL("convert");  // ImageMagick's convert and ffmpeg make the test images
    REQUIRE_TOOL("ffmpeg");
  }
  TempDir dir;
};

TEST_F(Thumbs, SizesFitTheBoxKeepAspectAndNeverEnlarge) {
  struct Case {
    const char* name;
    const char* input;
    std::vector<std::string> args;
    int w, h;
  } cases[] = {
      {"landscape", "640x480", {}, 128, 96},
      {"portrait", "480x640", {}, 96, 128},
      {"panorama", "2000x200", {}, 128, 13},
      {"tiny", "50x40", {}, 50, 40},
      {"box", "640x480", {"--size", "200x100"}, 133, 100},
      {"square", "1000x1000", {"--size", "300"}, 300, 300},
      {"big", "4000x3000", {"--size", "256"}, 256, 192},
  };
  for (const auto& c : cases) {
    const fs::path in = dir / (std::string(c.name) + ".jpg");
    run_ok("ffmpeg -v error -f lavfi -i testsrc2=s=" + std::string(c.input) + " -frames:v 1 -q:v 3 " + in.string());
    const Outcome o = thumb(in, c.args);
    ASSERT_TRUE(o.ok) << c.name << ": " << o.error;
    EXPECT_EQ(o.output.filename(), std::string(c.name) + "_thumbnail.jpg");
    const Pixels px = read_jpeg(o.output);
    EXPECT_EQ(px.width, c.w) << c.name;
    EXPECT_EQ(px.height, c.h) << c.name;
    EXPECT_EQ(px.subsamp, TJSAMP_420) << c.name;
    EXPECT_TRUE(o.warnings.empty()) << c.name << ": " << o.warnings;
  }
}

TEST_F(Thumbs, ExifOrientationsOneToEightComeOutUpright) {
  REQUIRE_TOOL("exiftool");  // it writes the orientation tags
  const fs::path up = quadrants(dir);
  // The stored picture for orientation N is the upright one under the inverse of N's transform.
  const char* inverse[9] = {"", "", "-flop", "-rotate 180", "-flip", "-transpose", "-rotate 270", "-transverse",
                            "-rotate 90"};
  std::string tag = "exiftool -q -overwrite_original";  // one exiftool process for all eight
  for (int n = 1; n <= 8; ++n) {
    const fs::path in = dir / ("orient" + std::to_string(n) + ".jpg");
    run_ok("convert " + up.string() + " " + inverse[n] + " -quality 95 " + in.string());
    tag += (n > 1 ? " -execute" : "") + std::string(" -Orientation#=") + std::to_string(n) +
           " -GPSLatitude=48.85 -GPSLatitudeRef=N -Artist=someone " + in.string();
  }
  run_ok(tag);
  for (int n = 1; n <= 8; ++n) {
    const fs::path in = dir / ("orient" + std::to_string(n) + ".jpg");
    ASSERT_EQ(sh("exiftool -s -s -s -n -Orientation " + in.string()).out, std::to_string(n) + "\n");
    const Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    expect_upright(o.output, "orientation " + std::to_string(n));
    for (int m : markers(o.output)) EXPECT_NE(m, 0xE1) << "an APP1 (EXIF/XMP) segment is in the thumbnail";
    const auto tags = sh("exiftool -s -s -s -EXIF:all " + o.output.string());
    EXPECT_EQ(tags.out, "") << "orientation " << n;
  }
}

TEST_F(Thumbs, CmykAdobeInvertedComesOutRgb) {
  const fs::path in = dir / "cmyk.jpg";
  run_ok("convert " + quadrants(dir).string() + " -colorspace CMYK -quality 95 " + in.string());
  ASSERT_EQ(sh("identify -format %[colorspace] " + in.string()).out, "CMYK");
  const Outcome o = thumb(in, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_upright(o.output, "cmyk");
  EXPECT_NE(read_jpeg(o.output).colorspace, TJCS_CMYK);
}

// A 320x240 CMYK JPEG of the quadrants, inks stored inverted as Photoshop stores them, written
// by libjpeg as plain CMYK (Adobe transform 0, not YCCK).
void write_cmyk_quadrants(const fs::path& path) {
  const int w = 320, h = 240;
  std::vector<unsigned char> px(static_cast<std::size_t>(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      // Inks of red, lime / blue, white (C, M, Y, K), then inverted.
      static const unsigned char inks[4][4] = {{0, 255, 255, 0}, {255, 0, 255, 0}, {255, 255, 0, 0}, {0, 0, 0, 0}};
      const unsigned char* ink = inks[(y >= h / 2) * 2 + (x >= w / 2)];
      for (int c = 0; c < 4; ++c) px[(static_cast<std::size_t>(y) * w + x) * 4 + c] = 255 - ink[c];
    }
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, JCS_CMYK);
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  for (int y = 0; y < h; ++y) {
    JSAMPROW row = px.data() + static_cast<std::size_t>(y) * w * 4;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  mbtest::write_file(path, std::string(reinterpret_cast<char*>(buf), size));
  std::free(buf);
}

TEST_F(Thumbs, CmykWithoutTheAdobeMarkerIsInvertedLikeLibvipsAndImageMagick) {
  const fs::path adobe = dir / "cmyk_adobe.jpg";
  write_cmyk_quadrants(adobe);
  // The same file without its APP14 "Adobe" segment. libvips (8.8 on) and ImageMagick take
  // CMYK JPEG inks as inverted either way: almost every CMYK JPEG comes from Adobe software.
  std::string bytes = mbtest::read_file(adobe);
  const std::size_t app14 = bytes.find("\xFF\xEE");
  ASSERT_NE(app14, std::string::npos);
  ASSERT_EQ(bytes[app14 + 4 + 11], 0) << "Adobe transform: plain CMYK";
  const std::size_t length = (static_cast<unsigned char>(bytes[app14 + 2]) << 8) | static_cast<unsigned char>(bytes[app14 + 3]);
  bytes.erase(app14, 2 + length);
  const fs::path plain = dir / "cmyk_plain.jpg";
  mbtest::write_file(plain, bytes);
  for (int m : markers(plain)) ASSERT_NE(m, 0xEE);
  // ImageMagick's reading of the plain file is the quadrants.
  ASSERT_EQ(sh("convert " + plain.string() + " -colorspace sRGB -format '%[pixel:p{80,60}] %[pixel:p{240,180}]' info:").out,
            "srgb(255,0,0) srgb(255,255,255)");
  for (const auto& in : {adobe, plain}) {
    const Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    expect_upright(o.output, in.filename().string());
  }
}

TEST_F(Thumbs, IccProfilesAreAppliedToGiveSrgb) {
  const std::string icc = "/usr/share/color/icc/ghostscript/";
  ASSERT_TRUE(fs::exists(icc + "a98.icc") && fs::exists(icc + "default_cmyk.icc"))
      << "ghostscript's ICC profiles are not installed (scripts/install-deps.sh installs them)";
  const fs::path up = quadrants(dir);
  // Adobe RGB pixels with their profile: sRGB lime is about (144, 255, 60) there.
  const fs::path a98 = dir / "a98.jpg";
  run_ok("convert " + up.string() + " -profile " + icc + "srgb.icc -profile " + icc + "a98.icc -quality 95 " +
         a98.string());
  const Pixels raw = read_jpeg(a98);
  ASSERT_GT(raw.at(240, 60)[0], 60) << "the input should hold Adobe RGB values";
  Outcome o = thumb(a98, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_upright(o.output, "Adobe RGB", 25);
  // An embedded sRGB profile (left as is, no transform needed).
  const fs::path srgb = dir / "srgb.jpg";
  run_ok("convert " + up.string() + " -profile " + icc + "srgb.icc -quality 95 " + srgb.string());
  o = thumb(srgb, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_TRUE(o.warnings.empty()) << o.warnings;
  expect_upright(o.output, "sRGB profile", 25);
  // CMYK converted with a real press profile, which is embedded.
  const fs::path cmyk = dir / "cmyk_icc.jpg";
  run_ok("convert " + up.string() + " -profile " + icc + "srgb.icc -profile " + icc + "default_cmyk.icc -quality 95 " +
         cmyk.string());
  o = thumb(cmyk, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  // A press gamut holds no pure lime or blue: compare with ImageMagick's conversion by the same
  // embedded profile (relative intent with black point compensation, as we use).
  const fs::path rgb = dir / "cmyk_im.rgb";
  run_ok("convert " + cmyk.string() + " -black-point-compensation -intent Relative -profile " + icc +
         "srgb.icc -resize 64x48! -depth 8 rgb:" + rgb.string());
  const std::string want = mbtest::read_file(rgb);
  ASSERT_EQ(want.size(), 64u * 48 * 3);
  const Pixels px = read_jpeg(o.output);
  for (auto [x, y] : {std::pair{16, 12}, {48, 12}, {16, 36}, {48, 36}}) {
    const auto* r = reinterpret_cast<const unsigned char*>(want.data()) + (y * 64 + x) * 3;
    expect_color(px, x, y, r[0], r[1], r[2], 12, "CMYK with profile");
  }
  // (The plain complement formula, without the profile, gives lime (88, 255, 1) here.)
}

TEST_F(Thumbs, ProgressiveJpeg) {
  const fs::path in = dir / "progressive.jpg";
  run_ok("convert " + quadrants(dir).string() + " -interlace Plane -quality 95 " + in.string());
  bool progressive = false;
  for (int m : markers(in)) progressive |= m == 0xC2;
  ASSERT_TRUE(progressive) << "the input should be progressive (SOF2)";
  const Outcome o = thumb(in, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_upright(o.output, "progressive");
}

TEST_F(Thumbs, GrayscaleStaysGray) {
  const fs::path in = dir / "gray.jpg";
  run_ok("convert -size 640x480 gradient:black-white -colorspace Gray -type Grayscale -quality 90 " + in.string());
  ASSERT_EQ(read_jpeg(in).colorspace, TJCS_GRAY);
  const Outcome o = thumb(in);
  ASSERT_TRUE(o.ok) << o.error;
  const Pixels px = read_jpeg(o.output);
  EXPECT_EQ(px.colorspace, TJCS_GRAY);
  EXPECT_EQ(px.subsamp, TJSAMP_GRAY);
  EXPECT_EQ(px.width, 128);
  EXPECT_EQ(px.height, 96);
}

TEST_F(Thumbs, CorruptFileFailsWithReason) {
  const fs::path in = dir / "corrupt.jpg";
  mbtest::write_file(in, std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", 11) + std::string(300, '\x5A'));
  const Outcome o = thumb(in);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.error.find("decoding JPEG: "), std::string::npos) << o.error;
  EXPECT_FALSE(fs::exists(o.output));
  const fs::path png = dir / "broken.png";
  mbtest::write_file(png, std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, '\x01'));
  const Outcome p = thumb(png);
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("ImageMagick"), std::string::npos) << p.error;
}

TEST_F(Thumbs, TruncatedJpegIsMadeWithAWarning) {
  const fs::path whole = dir / "whole.jpg";
  run_ok("ffmpeg -v error -f lavfi -i testsrc2=s=640x480 -frames:v 1 -q:v 3 " + whole.string());
  const std::string bytes = mbtest::read_file(whole);
  const fs::path in = dir / "truncated.jpg";
  mbtest::write_file(in, bytes.substr(0, bytes.size() * 6 / 10));
  const Outcome o = thumb(in);
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_NE(o.warnings.find("Premature end of JPEG file"), std::string::npos) << o.warnings;
  const Pixels px = read_jpeg(o.output);
  EXPECT_EQ(px.width, 128);
  EXPECT_EQ(px.height, 96);
}

// vipsthumbnail's thumbnail of the same input at the same size is the reference.
TEST_F(Thumbs, PsnrAgainstVipsthumbnailIsAtLeast30dB) {
  REQUIRE_TOOL("vipsthumbnail");  // the reference
  for (const char* size : {"4000x3000", "500x375", "1200x1600"}) {
    const std::string stem = std::string("photo_") + size;
    const fs::path in = dir / (stem + ".jpg");
    run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=" + std::string(size) +
           ",noise=alls=12:allf=t+u\" -frames:v 1 -q:v 3 " + in.string());
    const fs::path ref = dir / (stem + "_vips.jpg");
    run_ok("vipsthumbnail -s 128 -o " + ref.string() + "[Q=97] " + in.string());
    const Outcome o = thumb(in, {"--quality", "97"});
    ASSERT_TRUE(o.ok) << o.error;
    const double db = psnr(read_jpeg(o.output), read_jpeg(ref));
    EXPECT_GE(db, 30.0) << size;
    std::printf("PSNR vs vipsthumbnail, %s: %.1f dB\n", size, db);
  }
}

TEST_F(Thumbs, QualityOptionChangesTheEncoding) {
  const fs::path in = dir / "q.jpg";
  run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=800x600,noise=alls=12:allf=t+u\" -frames:v 1 -q:v 2 " +
         in.string());
  const Outcome lo = thumb(in, {"--quality", "20"});
  ASSERT_TRUE(lo.ok) << lo.error;
  const auto lo_size = fs::file_size(lo.output);
  const Outcome hi = thumb(in, {"--quality", "98"});
  ASSERT_TRUE(hi.ok) << hi.error;
  EXPECT_GT(fs::file_size(hi.output), lo_size * 2);
  REQUIRE_TOOL("identify");
  EXPECT_EQ(sh("identify -format %Q " + hi.output.string()).out, "98");
  const Outcome def = thumb(in);
  EXPECT_EQ(sh("identify -format %Q " + def.output.string()).out, "85");
}

TEST_F(Thumbs, BadOptionsAreUsageErrors) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--size", "0"}, {"--size", "abc"}, {"--size", "12x"}, {"--size", "-5"}}) {
    auto encoder = mediabatch::make_thumbs_encoder();
    CLI::App app{"thumbs"};
    encoder->add_options(app);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError&) {
      continue;  // rejected by CLI11 already
    }
    EXPECT_THROW(encoder->validate(), mediabatch::UsageError) << args[1];
  }
  auto encoder = mediabatch::make_thumbs_encoder();
  CLI::App app{"thumbs"};
  encoder->add_options(app);
  std::vector<std::string> q0{"0", "--quality"};
  EXPECT_THROW(app.parse(q0), CLI::ParseError);
}

TEST_F(Thumbs, NamingAndRecognitionByContent) {
  auto encoder = mediabatch::make_thumbs_encoder();
  EXPECT_EQ(encoder->name(), "thumbs");
  EXPECT_EQ(encoder->output_name("some/dir/IMG_0001.JPG"), fs::path("IMG_0001_thumbnail.jpg"));
  EXPECT_EQ(encoder->output_name("a.b.png"), fs::path("a.b_thumbnail.jpg"));
  auto accepts = [&](const std::string& head, const char* name) {
    return encoder->accepts(mediabatch::Probe{fs::path(name), head});
  };
  EXPECT_TRUE(accepts(std::string("\xFF\xD8\xFF\xE1", 4), "photo.png"));  // content, not extension
  EXPECT_TRUE(accepts(std::string("\x89PNG\r\n\x1a\n", 8), "x"));
  EXPECT_TRUE(accepts("GIF89a....", "x"));
  EXPECT_TRUE(accepts(std::string("II\x2a\x00", 4), "x"));
  EXPECT_TRUE(accepts(std::string("MM\x00\x2a", 4), "x"));
  EXPECT_TRUE(accepts(std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16), "x"));
  EXPECT_FALSE(accepts(std::string("RIFF\x10\x00\x00\x00WAVEfmt ", 16), "song.jpg"));
  EXPECT_FALSE(accepts("hello world", "photo.jpg"));
  EXPECT_FALSE(accepts("", "photo.jpg"));
}

TEST_F(Thumbs, OtherFormatsGoThroughImageMagick) {
  const fs::path up = quadrants(dir);
  for (const char* ext : {"png", "gif", "tif", "webp"}) {
    const fs::path in = dir / (std::string("pic.") + ext);
    run_ok("convert " + up.string() + " -quality 100 " + in.string());
    const Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << ext << ": " << o.error;
    EXPECT_EQ(o.output.filename(), "pic_thumbnail.jpg");
    expect_upright(o.output, ext);
    fs::remove(o.output);
  }
  // Transparency is laid on white; a rotated TIFF is turned upright.
  const fs::path alpha = dir / "alpha.png";
  run_ok("convert -size 320x240 xc:none -fill blue -draw \"rectangle 0,0 159,239\" " + alpha.string());
  Outcome o = thumb(alpha, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  Pixels px = read_jpeg(o.output);
  expect_color(px, 16, 24, 0, 0, 255, 30, "opaque half");
  expect_color(px, 48, 24, 255, 255, 255, 30, "transparent half");
  const fs::path tif = dir / "rotated.tif";
  run_ok("convert " + up.string() + " -rotate 270 -orient RightTop " + tif.string());
  o = thumb(tif, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_upright(o.output, "TIFF orientation 6");
  const fs::path cmyk_tif = dir / "cmyk.tif";
  run_ok("convert " + up.string() + " -colorspace CMYK " + cmyk_tif.string());
  o = thumb(cmyk_tif, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_upright(o.output, "CMYK TIFF");
  // Gray PNG stays gray.
  const fs::path gray = dir / "gray.png";
  run_ok("convert -size 300x200 gradient: -colorspace Gray " + gray.string());
  o = thumb(gray);
  ASSERT_TRUE(o.ok) << o.error;
  px = read_jpeg(o.output);
  EXPECT_EQ(px.colorspace, TJCS_GRAY);
  EXPECT_EQ(px.width, 128);
  EXPECT_EQ(px.height, 85);
}

TEST_F(Thumbs, StopsWhenCancelled) {
  const fs::path in = dir / "photo.jpg";
  run_ok("ffmpeg -v error -f lavfi -i testsrc2=s=640x480 -frames:v 1 -q:v 3 " + in.string());
  mbtest::EncoderHarness h(mediabatch::make_thumbs_encoder());
  std::atomic<bool> stop{true};
  const fs::path out = dir / "photo_thumbnail.jpg";
  EXPECT_THROW(h.encode(in, out, {1, &stop}), mediabatch::Cancelled);
  EXPECT_FALSE(fs::exists(out));
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path());
  EXPECT_EQ(left.size(), 1u) << "a temp file was left behind";
}

// As a user runs it: one broken file fails alone, the others are made, warnings reach the report.
TEST_F(Thumbs, CommandLineBatchWithABrokenFile) {
  const fs::path in = dir / "in";
  fs::create_directories(in);
  run_ok("ffmpeg -v error -f lavfi -i testsrc2=s=800x600 -frames:v 1 -q:v 3 " + (in / "good.jpg").string());
  const std::string whole = mbtest::read_file(in / "good.jpg");
  mbtest::write_file(in / "cut.jpg", whole.substr(0, whole.size() / 2));
  mbtest::write_file(in / "bad.jpg", std::string("\xFF\xD8\xFF\xE0not a jpeg at all", 21));
  run_ok("convert " + quadrants(dir).string() + " " + (in / "pic.png").string());
  const fs::path out = dir / "out", report = dir / "report.jsonl";
  const auto r = mbtest::mediabatch({"thumbs", "-j", "2", "--size", "100", "--progress", "never", "--report",
                                     report.string(), "-o", out.string(), (in / "good.jpg").string(),
                                     (in / "cut.jpg").string(), (in / "bad.jpg").string(), (in / "pic.png").string()});
  EXPECT_NE(r.exit_code, 0) << "a failed file should make the run fail";
  for (const char* made : {"good_thumbnail.jpg", "cut_thumbnail.jpg", "pic_thumbnail.jpg"}) {
    ASSERT_TRUE(fs::exists(out / made)) << made << "\n" << r.out << r.err;
    const Pixels px = read_jpeg(out / made);
    EXPECT_EQ(px.width, 100) << made;
    EXPECT_EQ(px.height, 75) << made;
  }
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(out)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left.size(), 3u) << "no output (or temp file) for the broken input";

  std::map<std::string, nlohmann::json> by_input;
  std::istringstream lines(mbtest::read_file(report));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      by_input[fs::path(j.at("input").get<std::string>()).filename().string()] = j;
    }
  ASSERT_EQ(by_input.size(), 4u);
  EXPECT_EQ(by_input["good.jpg"]["status"], "ok");
  EXPECT_EQ(by_input["pic.png"]["status"], "ok");
  EXPECT_EQ(by_input["bad.jpg"]["status"], "failed");
  EXPECT_NE(by_input["bad.jpg"]["error"].get<std::string>().find("decoding JPEG"), std::string::npos);
  EXPECT_EQ(by_input["cut.jpg"]["status"], "ok");
  EXPECT_NE(by_input["cut.jpg"].value("warning", "").find("Premature end of JPEG file"), std::string::npos);
}

// ---- size limits: bombs made here, never committed ----------------------------------------

// A 60000x60000 white PNG, one bit a pixel: 3600 megapixels in about 500 KB. Run-length deflate
// writes it in about a second.
void write_png_bomb(const fs::path& path, std::uint32_t width, std::uint32_t height) {
  const mediabatch::File file = mediabatch::open_file(path.string(), "wb");
  ASSERT_TRUE(file) << path;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_byte> row((width + 7) / 8, 0xFF);
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, file.get());
    png_set_IHDR(png, info, width, height, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_set_compression_strategy(png, Z_RLE);
    png_write_info(png, info);
    for (std::uint32_t y = 0; y < height; ++y) png_write_row(png, row.data());
    png_write_end(png, info);
  } else {
    ADD_FAILURE() << "libpng failed writing " << path;
  }
  png_destroy_write_struct(&png, &info);
}

// A 16x16 colour JPEG whose frame header (SOF0, or SOF2 when progressive) then claims
// width x height: what a decoder allocates from is the header, the scan is never reached.
std::string jpeg_claiming(unsigned width, unsigned height, bool progressive) {
  std::vector<unsigned char> px(16 * 16 * 3, 200);
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = cinfo.image_height = 16;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  for (unsigned y = 0; y < 16; ++y) {
    JSAMPROW row = px.data() + y * 16 * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<char*>(buf), size);
  std::free(buf);
  const std::size_t sof = bytes.find(progressive ? "\xFF\xC2" : "\xFF\xC0");
  if (sof == std::string::npos) throw std::runtime_error("no SOF in the JPEG libjpeg wrote");
  bytes[sof + 5] = static_cast<char>(height >> 8);
  bytes[sof + 6] = static_cast<char>(height & 0xFF);
  bytes[sof + 7] = static_cast<char>(width >> 8);
  bytes[sof + 8] = static_cast<char>(width & 0xFF);
  return bytes;
}

// Headers of the other formats ImageMagick reads, claiming a size and holding no image.
std::string le16(unsigned v) { return {static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
std::string le32(std::uint32_t v) { return le16(v & 0xFFFF) + le16(v >> 16); }
std::string gif_claiming(unsigned w, unsigned h) {
  return "GIF89a" + le16(w) + le16(h) + std::string("\0\0\0", 3) + "\x2C" + le32(0) + le16(w) + le16(h) +
         std::string("\0\x02\x02\x4C\x01\0\x3B", 7);
}
std::string tiff_claiming(std::uint32_t w, std::uint32_t h) {
  auto entry = [](unsigned tag, std::uint32_t v) { return le16(tag) + le16(4) + le32(1) + le32(v); };
  return std::string("II\x2A\0", 4) + le32(8) + le16(2) + entry(256, w) + entry(257, h) + le32(0);
}
std::string webp_claiming(std::uint32_t w, std::uint32_t h) {
  const std::string vp8x = std::string("VP8X") + le32(10) + le32(0) + le32(w - 1).substr(0, 3) + le32(h - 1).substr(0, 3);
  return "RIFF" + le32(static_cast<std::uint32_t>(4 + vp8x.size())) + "WEBP" + vp8x;
}

std::string over_limit(const std::string& size, const std::string& megapixels, const std::string& limit = "250000000") {
  return "image is " + size + " (" + megapixels + " megapixels), above --max-pixels " + limit;
}

TEST_F(Thumbs, BombsFailWithTheSizeTheirHeaderClaims) {
  const fs::path png = dir / "bomb.png";
  write_png_bomb(png, 60000, 60000);
  EXPECT_LT(fs::file_size(png), 1u << 20);
  Outcome o = thumb(png);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, over_limit("60000x60000", "3600"));
  for (bool progressive : {false, true}) {
    const fs::path jpg = dir / (progressive ? "bomb_progressive.jpg" : "bomb_baseline.jpg");
    mbtest::write_file(jpg, jpeg_claiming(65500, 65500, progressive));
    o = thumb(jpg);
    EXPECT_FALSE(o.ok) << jpg;
    EXPECT_EQ(o.error, over_limit("65500x65500", "4290")) << jpg;
    EXPECT_FALSE(fs::exists(o.output));
  }
  const struct {
    const char* name;
    std::string bytes, size, megapixels;
  } others[] = {
      {"bomb.gif", gif_claiming(65535, 65535), "65535x65535", "4295"},
      {"bomb.tif", tiff_claiming(100000, 100000), "100000x100000", "10000"},
      {"bomb.webp", webp_claiming(20000, 20000), "20000x20000", "400"},
  };
  for (const auto& c : others) {
    mbtest::write_file(dir / c.name, c.bytes);
    EXPECT_EQ(thumb(dir / c.name).error, over_limit(c.size, c.megapixels)) << c.name;
  }
}

// The stored size counts, whatever the format: 320x240 is 76800 pixels.
TEST_F(Thumbs, MaxPixelsLowersAndRaisesTheLimit) {
  const fs::path up = quadrants(dir);
  for (const char* ext : {"jpg", "png", "gif", "tif", "webp"}) {
    SCOPED_TRACE(ext);
    const fs::path in = dir / (std::string("limit_") + ext + "." + ext);
    run_ok("convert " + up.string() + " " + in.string());
    Outcome o = thumb(in, {"--max-pixels", "76799"});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error, over_limit("320x240", "0.077", "76799"));
    EXPECT_FALSE(fs::exists(o.output));
    o = thumb(in, {"--max-pixels", "76800", "--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    expect_upright(o.output, std::string(ext) + " at the limit");
    o = thumb(in, {"--max-pixels", "0", "--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << "the default limit: " << o.error;
  }
}

TEST_F(Thumbs, MaxPixelsMustBeANumber) {
  for (const char* bad : {"-1", "abc", "1.5"}) {
    auto encoder = mediabatch::make_thumbs_encoder();
    CLI::App app{"thumbs"};
    encoder->add_options(app);
    std::vector<std::string> args{bad, "--max-pixels"};
    EXPECT_THROW(app.parse(args), CLI::ParseError) << bad;
  }
}

TEST_F(Thumbs, TwoBombsAtOnceStayUnderAGigabyte) {
  write_png_bomb(dir / "bomb1.png", 60000, 60000);
  // Progressive: libjpeg would keep every DCT coefficient of 65500x65500, some 13 GB.
  mbtest::write_file(dir / "bomb2.jpg", jpeg_claiming(65500, 65500, true));
  const fs::path report = dir / "report.jsonl";
  int exit_code = -1;
  const long kb = mbtest::peak_rss_kb({MEDIABATCH_BINARY, "thumbs", "-j", "2", "--progress", "never", "--report",
                               report.string(), "-o", (dir / "out").string(), (dir / "bomb1.png").string(),
                               (dir / "bomb2.jpg").string()},
                              &exit_code);
  EXPECT_EQ(exit_code, 1);
  EXPECT_GT(kb, 0);
  EXPECT_LT(kb, 1024 * 1024) << "peak resident memory in KB";
  std::printf("peak resident memory, thumbs -j 2 with two bombs: %ld KB\n", kb);
  const std::string lines = mbtest::read_file(report);
  EXPECT_NE(lines.find(over_limit("60000x60000", "3600")), std::string::npos) << lines;
  EXPECT_NE(lines.find(over_limit("65500x65500", "4290")), std::string::npos) << lines;
}

// ---- --format and --background: transparency kept in PNG and WebP, laid on a colour in JPEG --

// Decodes any image with ImageMagick to 8-bit RGBA: a reader independent of our encoders.
Pixels read_rgba(const fs::path& p) {
  Pixels px;
  std::istringstream size(sh("identify -format '%w %h' " + p.string()).out);
  size >> px.width >> px.height;
  px.channels = 4;
  const fs::path raw = p.string() + ".rgba";
  run_ok("convert " + p.string() + " -depth 8 rgba:" + raw.string());
  const std::string bytes = mbtest::read_file(raw);
  px.data.assign(bytes.begin(), bytes.end());
  EXPECT_EQ(px.data.size(), std::size_t(px.width) * px.height * 4) << p;
  px.data.resize(std::size_t(px.width) * px.height * 4);
  return px;
}

// The number of bands libvips sees in the file: 2 or 4 with an alpha channel.
std::string bands(const fs::path& p) { return sh("vipsheader -f bands " + p.string()).out; }

void expect_rgba(const Pixels& px, int x, int y, int r, int g, int b, int a, int tol, const std::string& what) {
  expect_color(px, x, y, r, g, b, tol, what);
  EXPECT_NEAR(px.at(x, y)[3], a, 2) << what << " alpha at " << x << "," << y;
}

// 320x240: the left half opaque red; on the right, the top quarter fully transparent and the
// bottom one lime at half opacity. In a 64x48 thumbnail the middles of these are (16,24),
// (48,12) and (48,36); (62,1) is the transparent corner.
fs::path transparent_pattern(const TempDir& dir) {
  const fs::path p = dir / "pattern.png";
  if (!fs::exists(p))
    run_ok("convert -size 320x240 xc:none -fill red -draw 'rectangle 0,0 159,239' "
           "-fill 'rgba(0,255,0,0.5)' -draw 'rectangle 160,120 319,239' " + p.string());
  return p;
}

// Checks a 64x48 RGBA thumbnail of transparent_pattern() (or of a copy of it).
void expect_pattern(const Pixels& px, int tol, const std::string& what) {
  ASSERT_EQ(px.width, 64) << what;
  ASSERT_EQ(px.height, 48) << what;
  expect_rgba(px, 16, 24, 255, 0, 0, 255, tol, what + ", opaque red");
  EXPECT_EQ(px.at(48, 12)[3], 0) << what << ", transparent quarter";
  EXPECT_EQ(px.at(62, 1)[3], 0) << what << ", transparent corner";
  expect_rgba(px, 48, 36, 0, 255, 0, 128, tol, what + ", lime at half opacity");
}

TEST_F(Thumbs, PngAndWebpKeepTransparency) {
  REQUIRE_TOOL("identify");
  REQUIRE_TOOL("vipsheader");
  const fs::path in = transparent_pattern(dir);
  ASSERT_EQ(sh("identify -format '%A %[channels]' " + in.string()).out, "True srgba");
  for (const char* format : {"png", "webp"}) {
    SCOPED_TRACE(format);
    const Outcome o = thumb(in, {"--format", format, "--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.output.filename(), std::string("pattern_thumbnail.") + format);
    EXPECT_EQ(bands(o.output), "4\n");
    EXPECT_EQ(sh("identify -format '%A %[channels]' " + o.output.string()).out, "True srgba");
    // PNG is lossless; WebP is lossy in its colour, lossless in its alpha.
    expect_pattern(read_rgba(o.output), format == std::string("png") ? 1 : 12, format);
  }
}

TEST_F(Thumbs, WebpIsLossyAtTheQualityWithALosslessAlphaPlane) {
  const fs::path in = transparent_pattern(dir);
  const Outcome o = thumb(in, {"--format", "webp"});
  ASSERT_TRUE(o.ok) << o.error;
  const std::string bytes = mbtest::read_file(o.output);
  ASSERT_EQ(bytes.compare(0, 4, "RIFF"), 0);
  ASSERT_EQ(bytes.compare(8, 4, "WEBP"), 0);
  EXPECT_NE(bytes.find("ALPH"), std::string::npos) << "an alpha chunk";
  EXPECT_NE(bytes.find("VP8 "), std::string::npos) << "lossy (VP8), not lossless (VP8L)";
  const fs::path noisy = dir / "noisy.png";
  run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=800x600,noise=alls=12:allf=t+u\" -frames:v 1 " + noisy.string());
  const Outcome lo = thumb(noisy, {"--format", "webp", "--quality", "20"});
  ASSERT_TRUE(lo.ok) << lo.error;
  const auto lo_size = fs::file_size(lo.output);
  const Outcome hi = thumb(noisy, {"--format", "webp", "--quality", "98"});
  ASSERT_TRUE(hi.ok) << hi.error;
  EXPECT_GT(fs::file_size(hi.output), lo_size * 2);
}

TEST_F(Thumbs, WebpWiderThanItsLimitFailsWithTheReason) {
  // A JPEG: ImageMagick's policy.xml refuses to make or read images this wide.
  const fs::path in = dir / "wide.jpg";
  run_ok("ffmpeg -v error -f lavfi -i color=red:s=16400x8 -frames:v 1 " + in.string());
  const Outcome o = thumb(in, {"--format", "webp", "--size", "20000"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, "encoding WebP: the thumbnail is 16400x8, above WebP's limit of 16383 pixels a side");
  EXPECT_FALSE(fs::exists(o.output));
  ASSERT_TRUE(thumb(in, {"--format", "png", "--size", "20000"}).ok);
}

TEST_F(Thumbs, JpegLaysTransparencyOnTheBackground) {
  const fs::path in = transparent_pattern(dir);
  const struct {
    std::vector<std::string> args;
    int r, g, b;
  } cases[] = {
      {{}, 255, 255, 255},  // white by default
      {{"--background", "black"}, 0, 0, 0},
      {{"--background", "#FF8000"}, 255, 128, 0},
      {{"--background", "0000ff"}, 0, 0, 255},
      {{"--background", "Gray50"}, 127, 127, 127},
  };
  for (const auto& c : cases) {
    const std::string what = c.args.empty() ? "default" : c.args[1];
    std::vector<std::string> args{"--format", "jpg", "--size", "64"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Outcome o = thumb(in, args);
    ASSERT_TRUE(o.ok) << what << ": " << o.error;
    EXPECT_EQ(o.output.filename(), "pattern_thumbnail.jpg");
    const Pixels px = read_jpeg(o.output);  // TurboJPEG: a JPEG has no alpha channel to keep
    ASSERT_EQ(px.width, 64);
    ASSERT_EQ(px.height, 48);
    expect_color(px, 16, 24, 255, 0, 0, 20, what + ", opaque red");
    expect_color(px, 48, 12, c.r, c.g, c.b, 6, what + ", transparent quarter");
    expect_color(px, 62, 1, c.r, c.g, c.b, 6, what + ", transparent corner");
    expect_color(px, 48, 36, (c.r + 1) / 2, (255 + c.g + 1) / 2, (c.b + 1) / 2, 12, what + ", half lime over it");
    // As ImageMagick reads it too.
    const auto corner = sh("convert " + o.output.string() + " -format '%[pixel:p{1,1}] %A' info:").out;
    EXPECT_EQ(corner.substr(corner.rfind(' ') + 1), "False") << what << ": " << corner;
  }
}

// White on transparent black, the edge falling between output pixels. Resampled without
// premultiplying, edge pixels would take in the black of pixels nobody sees: a dark ring
// around a logo, in the PNG and in the JPEG laid on white.
TEST_F(Thumbs, TransparentEdgesGetNoFringe) {
  const fs::path in = dir / "logo.png";
  run_ok("convert -size 317x233 xc:none -fill white -draw 'rectangle 0,0 100,232' " + in.string());
  const Outcome png = thumb(in, {"--format", "png", "--size", "64"});
  ASSERT_TRUE(png.ok) << png.error;
  const Pixels px = read_rgba(png.output);
  int partly = 0;
  for (int y = 0; y < px.height; ++y)
    for (int x = 0; x < px.width; ++x) {
      const unsigned char* p = px.at(x, y);
      if (p[3] == 0) continue;
      partly += p[3] < 250;
      for (int c = 0; c < 3; ++c) ASSERT_GE(p[c], 250) << "colour at " << x << "," << y << ", alpha " << int(p[3]);
    }
  EXPECT_GT(partly, 0) << "the edge should be partly transparent";
  const Outcome jpg = thumb(in, {"--size", "64"});
  ASSERT_TRUE(jpg.ok) << jpg.error;
  const Pixels flat = read_jpeg(jpg.output);
  for (std::size_t i = 0; i < flat.data.size(); ++i) ASSERT_GE(flat.data[i], 245) << "sample " << i;
}

// A noisy photo fading out towards its corners (a radial alpha): our PNG thumbnail against
// vipsthumbnail's, laid on white and on black (so that colour under low alpha counts too).
TEST_F(Thumbs, TransparentThumbnailMatchesVipsthumbnail) {
  REQUIRE_TOOL("vipsthumbnail");  // the reference
  const fs::path photo = dir / "photo.png", in = dir / "faded.png", ref = dir / "faded_vips.png";
  run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=1200x900,noise=alls=12:allf=t+u\" -frames:v 1 " + photo.string());
  run_ok("convert " + photo.string() + " \\( -size 1200x900 radial-gradient:white-black \\) -alpha off "
         "-compose CopyOpacity -composite " + in.string());
  run_ok("vipsthumbnail -s 128 -o " + ref.string() + " " + in.string());
  const Outcome o = thumb(in, {"--format", "png"});
  ASSERT_TRUE(o.ok) << o.error;
  const Pixels ours = read_rgba(o.output), theirs = read_rgba(ref);
  for (int back : {255, 0}) {
    const auto laid = [back](const Pixels& px) {
      Pixels out = px;
      out.channels = 3;
      out.data.clear();
      for (std::size_t i = 0; i + 3 < px.data.size(); i += 4)
        for (int c = 0; c < 3; ++c)
          out.data.push_back(static_cast<unsigned char>((px.data[i + c] * px.data[i + 3] + back * (255 - px.data[i + 3]) + 127) / 255));
      return out;
    };
    const double db = psnr(laid(ours), laid(theirs));
    EXPECT_GE(db, 35.0) << "on " << back;
    std::printf("PSNR vs vipsthumbnail, radial alpha laid on %d: %.1f dB\n", back, db);
  }
}

// Alpha through every colour path and ImageMagick's orientation: gray, CMYK, an embedded ICC
// profile, a rotated TIFF.
TEST_F(Thumbs, AlphaSurvivesGrayCmykIccAndOrientation) {
  REQUIRE_TOOL("identify");
  REQUIRE_TOOL("vipsheader");
  const fs::path pattern = transparent_pattern(dir);

  const fs::path gray = dir / "gray_alpha.png";
  run_ok("convert -size 320x240 xc:none -fill gray50 -draw 'rectangle 0,0 159,239' " + gray.string());
  ASSERT_EQ(sh("identify -format %[channels] " + gray.string()).out, "graya");
  Outcome o = thumb(gray, {"--format", "png", "--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_EQ(bands(o.output), "2\n") << "gray with alpha stays so";
  Pixels px = read_rgba(o.output);
  expect_rgba(px, 16, 24, 127, 127, 127, 255, 1, "gray");
  EXPECT_EQ(px.at(48, 24)[3], 0);
  o = thumb(gray, {"--size", "64"});  // on white: still a gray JPEG
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_EQ(read_jpeg(o.output).colorspace, TJCS_GRAY);
  o = thumb(gray, {"--size", "64", "--background", "red"});  // on red: colour
  ASSERT_TRUE(o.ok) << o.error;
  px = read_jpeg(o.output);
  expect_color(px, 16, 24, 127, 127, 127, 8, "gray on red");
  expect_color(px, 48, 24, 255, 0, 0, 20, "red under the transparent half");

  const fs::path cmyk = dir / "cmyk_alpha.tif";
  run_ok("convert " + pattern.string() + " -colorspace CMYK " + cmyk.string());
  ASSERT_EQ(sh("identify -format %[channels] " + cmyk.string()).out, "cmyka");
  o = thumb(cmyk, {"--format", "png", "--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_pattern(read_rgba(o.output), 2, "CMYK with alpha");

  const std::string icc = "/usr/share/color/icc/ghostscript/";
  ASSERT_TRUE(fs::exists(icc + "a98.icc")) << "ghostscript's ICC profiles are not installed";
  const fs::path a98 = dir / "a98_alpha.png";
  run_ok("convert " + pattern.string() + " -profile " + icc + "srgb.icc -profile " + icc + "a98.icc PNG32:" +
         a98.string());
  ASSERT_LT(read_rgba(a98).at(80, 120)[0], 235) << "the input should hold Adobe RGB values";
  o = thumb(a98, {"--format", "png", "--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  EXPECT_TRUE(o.warnings.empty()) << o.warnings;
  expect_pattern(read_rgba(o.output), 25, "Adobe RGB with alpha");

  const fs::path rotated = dir / "rotated_alpha.tif";
  run_ok("convert " + pattern.string() + " -rotate 270 -orient RightTop " + rotated.string());
  o = thumb(rotated, {"--format", "webp", "--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  expect_pattern(read_rgba(o.output), 12, "TIFF orientation 6 with alpha");
}

// An alpha channel opaque throughout is dropped; a JPEG input has none to keep.
TEST_F(Thumbs, OpaqueImagesComeOutWithoutAlpha) {
  REQUIRE_TOOL("vipsheader");
  const fs::path opaque = dir / "opaque_alpha.png";
  run_ok("convert " + quadrants(dir).string() + " -alpha opaque PNG32:" + opaque.string());
  ASSERT_EQ(bands(opaque), "4\n");
  const fs::path jpg = dir / "photo.jpg";
  run_ok("convert " + quadrants(dir).string() + " -quality 95 " + jpg.string());
  for (const auto& in : {opaque, jpg})
    for (const char* format : {"png", "webp"}) {
      const std::string what = in.filename().string() + " to " + format;
      const Outcome o = thumb(in, {"--format", format, "--size", "64"});
      ASSERT_TRUE(o.ok) << what << ": " << o.error;
      EXPECT_EQ(bands(o.output), "3\n") << what;
      const Pixels px = read_rgba(o.output);
      ASSERT_EQ(px.width, 64) << what;
      ASSERT_EQ(px.height, 48) << what;
      expect_rgba(px, 16, 12, 255, 0, 0, 255, 30, what);
      expect_rgba(px, 48, 36, 255, 255, 255, 255, 30, what);
    }
}

TEST_F(Thumbs, OutputNamesFollowTheFormat) {
  for (const auto& [format, name] : std::vector<std::pair<std::string, std::string>>{
           {"jpg", "IMG_0001_thumbnail.jpg"}, {"png", "IMG_0001_thumbnail.png"}, {"WebP", "IMG_0001_thumbnail.webp"}}) {
    mbtest::EncoderHarness h(mediabatch::make_thumbs_encoder(), {"--format", format});
    EXPECT_EQ(h.encoder().output_name("some/dir/IMG_0001.JPG"), fs::path(name)) << format;
  }
}

TEST_F(Thumbs, BadFormatOrBackgroundIsAUsageError) {
  for (const char* bad : {"gif", "jpgx", ""}) {
    auto encoder = mediabatch::make_thumbs_encoder();
    CLI::App app{"thumbs"};
    encoder->add_options(app);
    std::vector<std::string> args{bad, "--format"};
    EXPECT_THROW(app.parse(args), CLI::ParseError) << bad;
  }
  const auto validate = [](const std::string& background) {
    auto encoder = mediabatch::make_thumbs_encoder();
    CLI::App app{"thumbs"};
    encoder->add_options(app);
    std::vector<std::string> args{background, "--background"};
    app.parse(args);
    encoder->validate();
  };
  for (const char* bad : {"nonsense", "none", "#ff000080", "#12345", "12345g", ""})
    EXPECT_THROW(validate(bad), mediabatch::UsageError) << bad;
  for (const char* good : {"White", "#fff", "#FF8000", "ff8000", "gray50", "rgb(0,0,255)"})
    EXPECT_NO_THROW(validate(good)) << good;

  // As the user meets it: exit 2, the option named, nothing made.
  const fs::path in = transparent_pattern(dir), out = dir / "out";
  for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
           {"--format", "gif"}, {"--background", "notacolour"}}) {
    const auto r = mbtest::mediabatch({"thumbs", "--progress", "never", option, value, "-o", out.string(), in.string()});
    EXPECT_EQ(r.exit_code, 2) << option << "\n" << r.err;
    EXPECT_NE(r.err.find(option), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << option;
  }
}

// ---- HEIC and AVIF: made with heif-enc, edited where heif-enc cannot write what phones do ----

// An 8-bit truecolour PNG of `source` after ImageMagick's `transform`, for heif-enc. From a
// palette PNG (ImageMagick's choice for the flat quadrants) heif-enc makes a 10-bit picture,
// and libaom 3.6 then aborts on the AVIF (write_color_config: Assertion `subsampling_x == 1
// && subsampling_y == 0' failed): PNG24: avoids both.
fs::path png24(const TempDir& dir, const fs::path& source, const std::string& transform, const std::string& name) {
  const fs::path p = dir / name;
  run_ok("convert " + source.string() + " " + transform + " PNG24:" + p.string());
  return p;
}

fs::path heif_enc(const TempDir& dir, const fs::path& png, const std::string& flags, const std::string& name) {
  const fs::path p = dir / name;
  run_ok("heif-enc " + flags + " -o " + p.string() + " " + png.string());
  return p;
}

std::uint64_t get_be(const std::string& s, std::size_t at, int bytes) {
  if (at + bytes > s.size()) throw std::runtime_error("HEIF edit: read past the end");
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}
void put_be(std::string& s, std::size_t at, int bytes, std::uint64_t v) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) s[at + i] = static_cast<char>(v & 0xFF);
}
std::string box(const std::string& type, const std::string& payload) {
  std::string b(4, '\0');
  put_be(b, 0, 4, 8 + payload.size());
  return b + type + payload;
}

struct BoxPos {
  std::size_t at = 0, payload = 0, end = 0;  // header, payload, one past the end
};

// The first `type` box among those that fill [from, to). heif-enc writes 32-bit sizes only.
BoxPos find_box(const std::string& f, std::size_t from, std::size_t to, const std::string& type) {
  for (std::size_t at = from; at + 8 <= to;) {
    const std::size_t size = get_be(f, at, 4);
    if (size < 8 || at + size > to) break;
    if (f.compare(at + 4, 4, type) == 0) return {at, at + 8, at + size};
    at += size;
  }
  throw std::runtime_error("HEIF edit: no " + type + " box");
}

struct HeifBoxes {
  BoxPos meta, pitm, iloc, iref, iprp, ipco, ipma;
};
HeifBoxes heif_boxes(const std::string& f) {
  HeifBoxes b;
  b.meta = find_box(f, 0, f.size(), "meta");
  const std::size_t children = b.meta.payload + 4;  // after the FullBox version and flags
  b.pitm = find_box(f, children, b.meta.end, "pitm");
  b.iloc = find_box(f, children, b.meta.end, "iloc");
  b.iprp = find_box(f, children, b.meta.end, "iprp");
  b.ipco = find_box(f, b.iprp.payload, b.iprp.end, "ipco");
  b.ipma = find_box(f, b.iprp.payload, b.iprp.end, "ipma");
  try {
    b.iref = find_box(f, children, b.meta.end, "iref");
  } catch (const std::runtime_error&) {  // no thumbnail, no grid
  }
  return b;
}

std::uint32_t primary_item(const std::string& f) {
  const BoxPos pitm = heif_boxes(f).pitm;
  return static_cast<std::uint32_t>(get_be(f, pitm.payload + 4, f[pitm.payload] == 0 ? 2 : 4));
}

// The items that are a thumbnail of another ('thmb' references, iref version 0 as heif-enc
// writes it).
std::vector<std::uint32_t> thumbnail_items(const std::string& f) {
  const BoxPos iref = heif_boxes(f).iref;
  std::vector<std::uint32_t> out;
  for (std::size_t at = iref.payload + 4; iref.end > 0 && at + 8 <= iref.end; at += get_be(f, at, 4))
    if (f.compare(at + 4, 4, "thmb") == 0) out.push_back(static_cast<std::uint32_t>(get_be(f, at + 8, 2)));
  return out;
}

// The extents of items' data in the file (iloc construction method 0) and where their
// absolute offset is written (the base offset when there is one).
struct Extent {
  std::uint32_t item = 0;
  std::uint64_t offset = 0, length = 0;
  std::size_t offset_at = 0;
  int offset_size = 0;
};
std::vector<Extent> file_extents(const std::string& f) {
  const BoxPos iloc = heif_boxes(f).iloc;
  std::size_t p = iloc.payload;
  const int version = f[p];
  const auto sizes = static_cast<unsigned char>(f[p + 4]), sizes2 = static_cast<unsigned char>(f[p + 5]);
  const int offset_size = sizes >> 4, length_size = sizes & 15, base_size = sizes2 >> 4;
  const int index_size = (version == 1 || version == 2) ? (sizes2 & 15) : 0, id_size = version < 2 ? 2 : 4;
  p += 6;
  const std::uint64_t items = get_be(f, p, id_size);
  p += id_size;
  std::vector<Extent> out;
  for (std::uint64_t i = 0; i < items; ++i) {
    const auto item = static_cast<std::uint32_t>(get_be(f, p, id_size));
    p += id_size;
    int method = 0;
    if (version == 1 || version == 2) method = static_cast<int>(get_be(f, p, 2) & 15), p += 2;
    p += 2;  // data_reference_index
    const std::size_t base_at = p;
    const std::uint64_t base = get_be(f, p, base_size);
    p += base_size;
    const std::uint64_t count = get_be(f, p, 2);
    p += 2;
    for (std::uint64_t e = 0; e < count; ++e) {
      p += index_size;
      const std::size_t offset_at = p;
      const std::uint64_t offset = get_be(f, p, offset_size);
      p += offset_size;
      const std::uint64_t length = get_be(f, p, length_size);
      p += length_size;
      if (method == 0)
        out.push_back(
            {item, base + offset, length, base_size ? base_at : offset_at, base_size ? base_size : offset_size});
    }
  }
  return out;
}

// Adds whole property boxes to the file's ipco and associates them, in order and as essential,
// with each of `items`. heif-enc 1.15 writes no rotation or mirroring, exiftool 12.57 only
// rewrites an irot that is there and GPAC's MP4Box is not in Debian 12: the tests add them to
// heif-enc's files as a phone's camera writes them.
std::string add_properties(std::string f, const std::vector<std::string>& properties,
                           const std::vector<std::uint32_t>& items) {
  const HeifBoxes b = heif_boxes(f);
  if (b.iloc.at > b.iprp.at || b.ipco.end > b.ipma.at) throw std::runtime_error("HEIF edit: unexpected box order");
  std::size_t count = 0;
  for (std::size_t at = b.ipco.payload; at < b.ipco.end; at += get_be(f, at, 4)) ++count;
  std::string added;
  for (const auto& p : properties) added += p;

  std::size_t p = b.ipma.payload;
  const int id_size = f[p] >= 1 ? 4 : 2, index_size = (f[p + 3] & 1) ? 2 : 1;
  const std::uint64_t entries = get_be(f, p + 4, 4);
  std::string ipma = f.substr(b.ipma.at, 16);  // header, version and flags, entry count
  p += 8;
  for (std::uint64_t e = 0; e < entries; ++e) {
    const auto id = static_cast<std::uint32_t>(get_be(f, p, id_size));
    const auto n = static_cast<unsigned char>(f[p + id_size]);
    std::string entry = f.substr(p, id_size + 1 + n * index_size);
    p += entry.size();
    if (std::find(items.begin(), items.end(), id) != items.end()) {
      for (std::size_t k = 1; k <= properties.size(); ++k) {
        std::string index(index_size, '\0');
        put_be(index, 0, index_size, (index_size == 2 ? 0x8000 : 0x80) | (count + k));
        entry += index;
      }
      entry[id_size] = static_cast<char>(n + properties.size());
    }
    ipma += entry;
  }
  put_be(ipma, 0, 4, ipma.size());

  // The data after the meta box (mdat) moves by what the meta box grows.
  const std::size_t grow = added.size() + ipma.size() - (b.ipma.end - b.ipma.at);
  std::set<std::size_t> moved;
  for (const Extent& e : file_extents(f))
    if (e.offset >= b.meta.end && moved.insert(e.offset_at).second)
      put_be(f, e.offset_at, e.offset_size, get_be(f, e.offset_at, e.offset_size) + grow);
  f.replace(b.ipma.at, b.ipma.end - b.ipma.at, ipma);
  f.insert(b.ipco.end, added);
  put_be(f, b.ipco.at, 4, b.ipco.end - b.ipco.at + added.size());
  put_be(f, b.iprp.at, 4, b.iprp.end - b.iprp.at + grow);
  put_be(f, b.meta.at, 4, b.meta.end - b.meta.at + grow);
  return f;
}

// irot: anti-clockwise rotation in quarter turns. imir: mirroring, mode 0 top to bottom, 1
// left to right (ISO/IEC 23008-12 amendment 2 made the 2017 edition's ambiguous "axis" field
// this "mode", as libheif, Apple and libavif read it). colr nclx: colour as H.273 code points.
std::string irot(int quarter_turns) { return box("irot", std::string(1, static_cast<char>(quarter_turns))); }
std::string imir(int mode) { return box("imir", std::string(1, static_cast<char>(mode))); }
std::string nclx(int primaries, int transfer, int matrix) {
  std::string payload = "nclx" + std::string(7, '\0');
  put_be(payload, 4, 2, primaries);
  put_be(payload, 6, 2, transfer);
  put_be(payload, 8, 2, matrix);
  payload[10] = static_cast<char>(0x80);  // full range
  return box("colr", payload);
}

fs::path heif_with(const TempDir& dir, const fs::path& heif, const std::vector<std::string>& properties,
                   bool on_thumbnail, const std::string& name) {
  const std::string f = mbtest::read_file(heif);
  std::vector<std::uint32_t> items{primary_item(f)};
  if (on_thumbnail)
    for (std::uint32_t t : thumbnail_items(f)) items.push_back(t);
  const fs::path p = dir / name;
  mbtest::write_file(p, add_properties(f, properties, items));
  return p;
}

// Width x height of an output as ImageMagick reads it.
std::string identify_size(const fs::path& p) { return sh("identify -format %wx%h " + p.string()).out; }

class ThumbsHeif : public Thumbs {
 protected:
  void SetUp() override {
    Thumbs::SetUp();
    REQUIRE_TOOL("heif-enc");  // libheif-examples
    REQUIRE_TOOL("heif-info");
    REQUIRE_TOOL("identify");
  }
};

TEST_F(ThumbsHeif, HeicAndAvifComeOutUprightWithAndWithoutAThumbnailItem) {
  const fs::path png = png24(dir, quadrants(dir), "", "quadrants.png");
  const struct {
    const char* name;
    const char* flags;
  } cases[] = {
      {"plain.heic", "-q 90"},
      {"thumb.heic", "-q 90 -t 64"},
      {"plain.avif", "-A -q 90"},
      {"thumb.avif", "-A -q 90 -t 64"},
  };
  for (const auto& c : cases) {
    const fs::path in = heif_enc(dir, png, c.flags, c.name);
    const std::string info = sh("heif-info " + in.string()).out;
    ASSERT_NE(info.find("image: 320x240"), std::string::npos) << info;
    EXPECT_EQ(info.find("thumbnail: 64x48") != std::string::npos, std::string(c.flags).find("-t") != std::string::npos)
        << info;
    for (const char* size : {"64", "100"}) {  // 100: larger than the thumbnail item
      const Outcome o = thumb(in, {"--size", size});
      ASSERT_TRUE(o.ok) << c.name << ": " << o.error;
      EXPECT_EQ(identify_size(o.output), std::string(size) == "64" ? "64x48" : "100x75") << c.name;
      if (std::string(size) == "64") expect_upright(o.output, c.name, 20);
      EXPECT_TRUE(o.warnings.empty()) << c.name << ": " << o.warnings;
    }
  }
}

TEST_F(ThumbsHeif, RecognisedByContentWhateverTheName) {
  auto encoder = mediabatch::make_thumbs_encoder();
  auto accepts = [&](const std::string& head) { return encoder->accepts(mediabatch::Probe{fs::path("x.jpg"), head}); };
  auto ftyp = [](const std::string& major, const std::string& compatible) {
    std::string b = box("ftyp", major + std::string(4, '\0') + compatible);
    return b + box("meta", std::string(4, '\0'));
  };
  for (const char* major : {"heic", "heix", "hevc", "heim", "heis", "mif1", "msf1", "avif", "avis"})
    EXPECT_TRUE(accepts(ftyp(major, ""))) << major;
  EXPECT_TRUE(accepts(ftyp("MiHE", "MiHAmiafheic")));  // a compatible brand is enough
  EXPECT_TRUE(accepts(ftyp("dumy", "mif1")));
  EXPECT_FALSE(accepts(ftyp("isom", "isomiso2avc1mp41")));  // an MP4 video
  EXPECT_FALSE(accepts(ftyp("qt  ", "qt  ")));              // a QuickTime movie
  EXPECT_FALSE(accepts(std::string("\0\0\0\x18", 4) + "ftyp"));  // cut short
  // Brands past the ftyp box's own size are not its brands.
  std::string cut = ftyp("isom", "");
  EXPECT_FALSE(accepts(cut + "heic"));
  EXPECT_NE(encoder->reject_reason(mediabatch::Probe{fs::path("x.txt"), "hello"}).find("HEIC, AVIF"),
            std::string::npos);
}

// Stored as the inverse of each transformation, so that what the file shows is upright.
TEST_F(ThumbsHeif, RotationAndMirroringAreAppliedOnBothPaths) {
  const fs::path up = quadrants(dir);
  const struct {
    const char* name;
    const char* inverse;  // ImageMagick's, applied to the upright picture to store
    std::vector<std::string> properties;
  } cases[] = {
      {"irot90", "-rotate 90", {irot(1)}},
      {"irot180", "-rotate 180", {irot(2)}},
      {"irot270", "-rotate 270", {irot(3)}},
      {"imir0", "-flip", {imir(0)}},
      {"imir1", "-flop", {imir(1)}},
      {"irot90_imir1", "-flop -rotate 90", {irot(1), imir(1)}},  // rotated, then mirrored
  };
  for (const auto& c : cases) {
    const fs::path png = png24(dir, up, c.inverse, std::string(c.name) + ".png");
    for (const char* kind : {"heic", "avif"}) {
      const bool avif = std::string(kind) == "avif";
      // Without a thumbnail item; with one that shows the same; with one the transformations
      // were given to the primary image alone (the thumbnail item would show the stored picture).
      const fs::path plain = heif_enc(dir, png, avif ? "-A -q 90" : "-q 90", std::string(c.name) + "_in." + kind);
      const fs::path with_thumb =
          heif_enc(dir, png, avif ? "-A -q 90 -t 64" : "-q 90 -t 64", std::string(c.name) + "_tin." + kind);
      const fs::path files[] = {
          heif_with(dir, plain, c.properties, false, std::string(c.name) + "." + kind),
          heif_with(dir, with_thumb, c.properties, true, std::string(c.name) + "_thumb." + kind),
          heif_with(dir, with_thumb, c.properties, false, std::string(c.name) + "_primary_only." + kind),
      };
      for (const fs::path& in : files) {
        ASSERT_NE(sh("heif-info " + in.string()).out.find("image: 320x240"), std::string::npos)
            << in.filename() << " should show 320x240";
        const Outcome o = thumb(in, {"--size", "64"});
        ASSERT_TRUE(o.ok) << in.filename() << ": " << o.error;
        EXPECT_EQ(identify_size(o.output), "64x48") << in.filename();
        expect_upright(o.output, in.filename().string(), 20);
      }
    }
  }
}

// A copy of a HEIF file with the primary image's coded data overwritten.
fs::path break_primary(const TempDir& dir, const fs::path& heif, const std::string& name) {
  std::string f = mbtest::read_file(heif);
  const std::uint32_t primary = primary_item(f);
  for (const Extent& e : file_extents(f))
    if (e.item == primary) f.replace(e.offset, e.length, e.length, static_cast<char>(0xFF));
  const fs::path p = dir / name;
  mbtest::write_file(p, f);
  return p;
}

// Only the thumbnail item can give a picture: the primary image's data is broken.
TEST_F(ThumbsHeif, ThumbnailItemIsDecodedWhenItCoversTheSize) {
  const fs::path png = png24(dir, quadrants(dir), "-rotate 180", "stored.png");
  for (const std::string kind : {"heic", "avif"}) {
    const fs::path made = heif_enc(dir, png, kind == "avif" ? "-A -q 90 -t 64" : "-q 90 -t 64", "made." + kind);
    const fs::path in = break_primary(dir, heif_with(dir, made, {irot(2)}, true, "rot." + kind), "broken." + kind);
    Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << kind << ": " << o.error;
    expect_upright(o.output, kind + " from its thumbnail item", 20);
    o = thumb(in, {"--size", "48x40"});  // 48x36: the 64x48 thumbnail item covers it
    ASSERT_TRUE(o.ok) << kind << ": " << o.error;
    EXPECT_EQ(identify_size(o.output), "48x36");
    fs::remove(o.output);
    o = thumb(in, {"--size", "65"});  // 65x49: more than the thumbnail item holds
    EXPECT_FALSE(o.ok) << kind << ": the broken primary image was not decoded";
    EXPECT_EQ(o.error.rfind("HEIF: ", 0), 0u) << o.error;
    EXPECT_FALSE(fs::exists(o.output));
    // The rotation on the primary image alone: the thumbnail item shows the picture upside
    // down, so it is not used and the broken primary is decoded.
    const fs::path primary_only =
        break_primary(dir, heif_with(dir, made, {irot(2)}, false, "rot1." + kind), "broken1." + kind);
    o = thumb(primary_only, {"--size", "64"});
    EXPECT_FALSE(o.ok) << kind << ": a thumbnail item without the primary's rotation was used";
    EXPECT_EQ(o.error.rfind("HEIF: ", 0), 0u) << o.error;
  }
  // Colour (HEIC, where heif-enc writes no colr box): a thumbnail item without colour of its
  // own is in the primary's, as heif-enc writes it; one in other colour is not used.
  const fs::path made = heif_enc(dir, png, "-q 90 -t 64", "made_colour.heic");
  const std::string f = mbtest::read_file(heif_with(dir, made, {irot(2), nclx(12, 13, 6)}, false, "p3.heic"));
  mbtest::write_file(dir / "p3_thumb.heic", add_properties(f, {irot(2)}, thumbnail_items(f)));
  mbtest::write_file(dir / "p3_709_thumb.heic", add_properties(f, {irot(2), nclx(1, 13, 6)}, thumbnail_items(f)));
  Outcome o = thumb(break_primary(dir, dir / "p3_thumb.heic", "broken_p3.heic"), {"--size", "64"});
  EXPECT_TRUE(o.ok) << "a thumbnail item without colour of its own was not used: " << o.error;
  o = thumb(break_primary(dir, dir / "p3_709_thumb.heic", "broken_p3_709.heic"), {"--size", "64"});
  EXPECT_FALSE(o.ok) << "a thumbnail item in other colour than the primary's was used";
}

// A thumbnail item that does not decode, beside a whole primary image: the primary is decoded.
TEST_F(ThumbsHeif, BrokenThumbnailItemFallsBackToTheWholePicture) {
  const fs::path png = png24(dir, quadrants(dir), "", "q.png");
  for (const std::string kind : {"heic", "avif"}) {
    const fs::path made = heif_enc(dir, png, kind == "avif" ? "-A -q 90 -t 64" : "-q 90 -t 64", "t." + kind);
    std::string f = mbtest::read_file(made);
    const std::uint32_t primary = primary_item(f);
    for (const Extent& e : file_extents(f))
      if (e.item != primary) f.replace(e.offset, e.length, e.length, static_cast<char>(0xFF));
    mbtest::write_file(dir / ("broken_thumb." + kind), f);
    const Outcome o = thumb(dir / ("broken_thumb." + kind), {"--size", "64"});
    ASSERT_TRUE(o.ok) << kind << ": " << o.error;
    EXPECT_NE(o.warnings.find("the thumbnail item does not decode (HEIF: "), std::string::npos) << o.warnings;
    expect_upright(o.output, kind + " with a broken thumbnail item", 20);
  }
}

TEST_F(ThumbsHeif, EmbeddedIccProfileIsApplied) {
  const std::string icc = "/usr/share/color/icc/ghostscript/";
  ASSERT_TRUE(fs::exists(icc + "a98.icc")) << "ghostscript's ICC profiles are not installed (scripts/install-deps.sh)";
  // Adobe RGB pixels with their profile, which heif-enc copies into a colr box.
  const fs::path png =
      png24(dir, quadrants(dir), "-profile " + icc + "srgb.icc -profile " + icc + "a98.icc", "a98.png");
  for (const std::string flags : {"-q 95", "-q 95 -t 64", "-A -q 95"}) {
    const fs::path in = heif_enc(dir, png, flags, flags.find("-A") != std::string::npos ? "a98.avif" : "a98.heic");
    const std::string info = sh("heif-info " + in.string()).out;
    ASSERT_NE(info.find("color profile: prof"), std::string::npos) << flags << "\n" << info;
    const Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << flags << ": " << o.error;
    EXPECT_TRUE(o.warnings.empty()) << o.warnings;
    expect_upright(o.output, std::string("Adobe RGB, heif-enc ") + flags, 25);
  }
}

// The Display P3 values of sRGB red, lime and blue, as CSS color(display-p3 ...) gives them;
// white stays white. Taken as sRGB, lime would come out (117, 251, 76). heif-enc 1.15 writes
// no nclx colour for HEIC (libheif's macOS workaround) and ignores --colour_primaries for PNG
// input (its AVIF colr box says "unspecified"), so the test writes the colr box a camera would.
TEST_F(ThumbsHeif, NclxDisplayP3IsConvertedToSrgb) {
  const fs::path png = dir / "p3.png";
  run_ok("convert \\( -size 160x120 xc:'rgb(234,51,35)' xc:'rgb(117,251,76)' +append \\) \\( -size 160x120 "
         "xc:'rgb(0,0,245)' xc:white +append \\) -append PNG24:" + png.string());
  // Primaries 12: SMPTE EG 432-1 (P3, D65 white); transfer 13: the sRGB curve; matrix 6:
  // BT.601, which heif-enc converts with.
  const fs::path heic = heif_with(dir, heif_enc(dir, png, "-q 95", "made.heic"), {nclx(12, 13, 6)}, false, "p3.heic");
  std::string avif = mbtest::read_file(heif_enc(dir, png, "-A -q 95", "made.avif"));
  const HeifBoxes b = heif_boxes(avif);
  const BoxPos colr = find_box(avif, b.ipco.payload, b.ipco.end, "colr");
  ASSERT_EQ(avif.compare(colr.payload, 4, "nclx"), 0);
  put_be(avif, colr.payload + 4, 2, 12);
  put_be(avif, colr.payload + 6, 2, 13);
  mbtest::write_file(dir / "p3.avif", avif);
  for (const fs::path& in : {heic, dir / "p3.avif"}) {
    const std::string dump = sh("heif-info -d " + in.string()).out;
    ASSERT_NE(dump.find("colour_primaries: 12"), std::string::npos) << dump;
    const Outcome o = thumb(in, {"--size", "64"});
    ASSERT_TRUE(o.ok) << in.filename() << ": " << o.error;
    expect_upright(o.output, "Display P3 " + in.filename().string(), 20);
  }
}

TEST_F(ThumbsHeif, TransparencyIsLaidOnTheBackgroundOrKept) {
  const fs::path png = dir / "alpha.png";
  run_ok("convert -size 320x240 xc:none -fill blue -draw \"rectangle 0,0 159,239\" PNG32:" + png.string());
  const fs::path in = heif_enc(dir, png, "-q 95", "alpha.heic");
  ASSERT_NE(sh("heif-info " + in.string()).out.find("alpha channel: yes"), std::string::npos);
  const Outcome o = thumb(in, {"--size", "64"});
  ASSERT_TRUE(o.ok) << o.error;
  const Pixels px = read_jpeg(o.output);
  expect_color(px, 16, 24, 0, 0, 255, 30, "opaque half");
  expect_color(px, 48, 24, 255, 255, 255, 30, "transparent half");
  // A PNG thumbnail keeps it.
  REQUIRE_TOOL("vipsheader");
  const Outcome png_out = thumb(in, {"--size", "64", "--format", "png"});
  ASSERT_TRUE(png_out.ok) << png_out.error;
  EXPECT_EQ(sh("vipsheader -f bands " + png_out.output.string()).out, "4\n");
  EXPECT_EQ(sh("convert " + png_out.output.string() + " -format '%[fx:p{16,24}.a] %[fx:p{48,24}.a]' info:").out, "1 0");
}

TEST_F(ThumbsHeif, MaxPixelsIsCheckedBeforeDecoding) {
  const fs::path png = png24(dir, quadrants(dir), "", "q.png");
  for (const char* kind : {"heic", "avif"}) {
    const fs::path in = heif_enc(dir, png, std::string(kind) == "avif" ? "-A -q 80" : "-q 80",
                                 std::string("q_") + kind + "." + kind);
    Outcome o = thumb(in, {"--max-pixels", "76799"});
    EXPECT_EQ(o.error, over_limit("320x240", "0.077", "76799")) << kind;
    EXPECT_FALSE(fs::exists(o.output));
    o = thumb(in, {"--max-pixels", "76800", "--size", "64"});
    ASSERT_TRUE(o.ok) << o.error;
    // The same file claiming 20000x20000 in its ispe box: refused from the header, before
    // the decoder (which would find a 320x240 picture) runs.
    std::string f = mbtest::read_file(in);
    const HeifBoxes b = heif_boxes(f);
    const BoxPos ispe = find_box(f, b.ipco.payload, b.ipco.end, "ispe");
    put_be(f, ispe.payload + 4, 4, 20000);
    put_be(f, ispe.payload + 8, 4, 20000);
    const fs::path bomb = dir / (std::string("bomb.") + kind);
    mbtest::write_file(bomb, f);
    o = thumb(bomb);
    EXPECT_EQ(o.error, over_limit("20000x20000", "400")) << kind;
  }
}

// libheif 1.15 can only be told how many grid tiles to decode at once; its libde265 plugin hands
// each picture to one libde265 worker thread and waits, and its dav1d plugin lets dav1d start a
// thread per core. Counted here from /proc/self/task while a job with one thread decodes.
TEST_F(ThumbsHeif, DecodingUsesNoMoreThreadsThanTheJobsShare) {
  const fs::path png = dir / "plasma.png";
  run_ok("convert -size 1000x750 -seed 7 plasma: PNG24:" + png.string());
  const auto threads_now = [] {
    int n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/task")) n += e.is_directory() ? 1 : 0;
    return n;
  };
  for (const char* kind : {"heic", "avif"}) {
    const fs::path in =
        heif_enc(dir, png, std::string(kind) == "avif" ? "-A -q 60" : "-q 60", std::string("p.") + kind);
    // The watcher is started and counted first: its own creation may start a runtime's lazy
    // thread (ThreadSanitizer spawns its background thread at the first pthread_create).
    std::atomic<bool> done{false};
    std::atomic<bool> started{false};
    std::atomic<int> most{0};
    std::thread watch([&] {
      started = true;
      while (!done) most = std::max(most.load(), threads_now());
    });
    while (!started) std::this_thread::yield();
    const int before = threads_now();
    most = before;
    mbtest::EncoderHarness h(mediabatch::make_thumbs_encoder());
    const auto r = h.encode(in, dir / (std::string("p_") + kind + ".jpg"), {1});
    done = true;
    watch.join();
    EXPECT_EQ(r.status, mediabatch::Status::ok);
    // The job's thread waits while libde265's worker decodes.
    EXPECT_LE(most - before, 1) << kind << ": threads started while decoding";
    std::printf("%s: %d thread(s) besides the job's while decoding\n", kind, most - before);
  }
}

// vipsthumbnail (through libheif too, with its own resampler) of a picture without a thumbnail
// item, so that both decode the whole picture.
TEST_F(ThumbsHeif, PsnrAgainstVipsthumbnailIsAtLeast30dB) {
  REQUIRE_TOOL("vipsthumbnail");
  const fs::path png = dir / "photo.png";
  run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=1200x900,noise=alls=12:allf=t+u\" -frames:v 1 " + png.string());
  const fs::path in = heif_enc(dir, png24(dir, png, "", "photo24.png"), "-q 90", "photo.heic");
  const fs::path ref = dir / "photo_vips.jpg";
  run_ok("vipsthumbnail -s 128 -o " + ref.string() + "[Q=97] " + in.string());
  const Outcome o = thumb(in, {"--quality", "97"});
  ASSERT_TRUE(o.ok) << o.error;
  const double db = psnr(read_jpeg(o.output), read_jpeg(ref));
  EXPECT_GE(db, 30.0);
  std::printf("PSNR vs vipsthumbnail, HEIC 1200x900: %.1f dB\n", db);
}

// As a user runs it: `convert` hands HEIC and AVIF to thumbs by content, whatever their names.
TEST_F(ThumbsHeif, ConvertCommandTakesHeicAndAvif) {
  const fs::path png = png24(dir, quadrants(dir), "", "q.png");
  const fs::path in = dir / "in";
  fs::create_directories(in);
  fs::rename(heif_enc(dir, png, "-q 90 -t 64", "IMG_0001.HEIC"), in / "IMG_0001.HEIC");
  fs::rename(heif_enc(dir, png, "-A -q 90", "b.avif"), in / "b.avif");
  fs::rename(heif_enc(dir, png, "-q 90", "c.heif"), in / "named_wrong.png");
  const fs::path out = dir / "out";
  const auto r = mbtest::mediabatch({"convert", "--progress", "never", "-o", out.string(), in.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* made : {"IMG_0001_thumbnail.jpg", "b_thumbnail.jpg", "named_wrong_thumbnail.jpg"}) {
    ASSERT_TRUE(fs::exists(out / made)) << made << "\n" << r.out << r.err;
    EXPECT_EQ(identify_size(out / made), "128x96") << made;
  }
}

// ---- --verify: each thumbnail decoded again before it takes its final name ---------------

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

// Inputs of every route and shape: a noisy colour-bar photo (saturated edges, where JPEG's and
// WebP's half-resolution chroma cost most), a smooth plasma, gray, and transparency.
std::vector<fs::path> verify_inputs(const TempDir& dir) {
  const fs::path in = dir / "in";
  fs::create_directories(in);
  run_ok("ffmpeg -v error -f lavfi -i \"testsrc2=s=1600x1200,noise=alls=12:allf=t+u\" -frames:v 1 -q:v 3 " +
         (in / "photo.jpg").string());
  run_ok("convert -size 800x600 -seed 7 plasma: PNG24:" + (in / "plasma.png").string());
  run_ok("convert -size 640x480 gradient:black-white -colorspace Gray -type Grayscale -quality 90 " +
         (in / "gray.jpg").string());
  fs::copy_file(transparent_pattern(dir), in / "pattern.png");
  return {in / "photo.jpg", in / "plasma.png", in / "gray.jpg", in / "pattern.png"};
}

// Every format, every input: ok, "verified" in the report, counted in the summary.
TEST_F(Thumbs, VerifyCleanBatchIsAllVerifiedInEveryFormat) {
  const auto inputs = verify_inputs(dir);
  for (const std::string format : {"jpg", "png", "webp"}) {
    const fs::path out = dir / ("out_" + format), report = dir / ("report_" + format + ".jsonl");
    std::vector<std::string> args{"thumbs", "--verify", "--format", format, "--progress", "never",
                                  "--report", report.string(), "-o", out.string()};
    for (const auto& in : inputs) args.push_back(in.string());
    const auto r = mbtest::mediabatch(args);
    EXPECT_EQ(r.exit_code, 0) << format << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("4 ok, 0 failed, 0 skipped, 4 verified"), std::string::npos) << format << ": " << r.err;
    const auto by_input = report_by_input(report);
    EXPECT_EQ(by_input.size(), 4u);
    for (const auto& [name, j] : by_input) {
      EXPECT_EQ(j["status"], "ok") << format << " " << name << ": " << j.dump();
      EXPECT_EQ(j.value("verified", false), true) << format << " " << name << ": " << j.dump();
    }
    for (const auto& in : inputs)
      EXPECT_TRUE(fs::exists(out / (in.stem().string() + "_thumbnail." + format))) << format << " " << in;
    EXPECT_TRUE(hidden_files(out).empty()) << format;
  }
}

// The lowest qualities are below 30 dB for sound thumbnails (assets/ at --quality 1: 24 dB):
// there the bar is 20 dB, and a clean batch still verifies; a negated one still fails.
TEST_F(Thumbs, VerifyAtTheLowestQualityPassesSoundThumbnails) {
  const auto inputs = verify_inputs(dir);
  for (const std::string format : {"jpg", "webp"}) {
    for (const std::string quality : {"1", "10"}) {
      const std::string what = format + " at quality " + quality;
      std::vector<std::string> args{"thumbs", "--verify", "--format", format, "--quality", quality,
                                    "--progress", "never", "-o", (dir / ("out_" + format + quality)).string()};
      for (const auto& in : inputs) args.push_back(in.string());
      const auto r = mbtest::mediabatch(args);
      EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find("4 ok, 0 failed, 0 skipped, 4 verified"), std::string::npos) << what << ": " << r.err;
    }
  }
}

// A thumbnail damaged between its writing and its check (the engine's test hook) fails alone
// with the decoder's reason or a PSNR far below 30 dB; nothing takes its name and no
// temporary is left. 256 pixels: the 64 inverted bytes land in the compressed image data.
TEST_F(Thumbs, VerifyFailsADamagedThumbnailAloneAndLeavesNoTemporary) {
  const auto inputs = verify_inputs(dir);
  fs::copy_file(inputs[0], dir / "in" / "damaged.jpg");
  const std::map<std::string, std::string> decoder = {
      {"jpg", "verify: decoding JPEG: "}, {"png", "verify: decoding PNG: "}, {"webp", "verify: decoding WebP: "}};
  const std::map<std::string, std::string> truncated = {
      {"jpg", "verify: decoding JPEG: Premature end of JPEG file"},
      {"png", "verify: decoding PNG: the file ends early"},
      {"webp", "verify: decoding WebP: NOT_ENOUGH_DATA (the data ends before the picture)"}};
  for (const std::string format : {"jpg", "png", "webp"})
    for (const std::string how : {"flip", "truncate"}) {
      const std::string what = format + " " + how;
      const fs::path out = dir / ("out_" + format + "_" + how);
      const fs::path report = dir / ("report_" + format + "_" + how + ".jsonl");
      std::vector<std::string> args{"thumbs", "--verify", "--format", format, "--size", "256", "--progress",
                                    "never", "--report", report.string(), "-o", out.string(),
                                    (dir / "in" / "damaged.jpg").string()};
      for (const auto& in : inputs) args.push_back(in.string());
      ::setenv("MEDIABATCH_TEST_CORRUPT_OUTPUT", ("damaged:" + how).c_str(), 1);
      const auto r = mbtest::mediabatch(args);
      ::unsetenv("MEDIABATCH_TEST_CORRUPT_OUTPUT");
      EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find("4 ok, 1 failed, 0 skipped, 4 verified"), std::string::npos) << what << ": " << r.err;
      const auto by_input = report_by_input(report);
      ASSERT_EQ(by_input.size(), 5u) << what;
      const auto& bad = by_input.at("damaged.jpg");
      EXPECT_EQ(bad["status"], "failed") << what << ": " << bad.dump();
      EXPECT_FALSE(bad.contains("verified")) << what;
      const std::string error = bad.value("error", "");
      if (how == "truncate") {
        EXPECT_EQ(error, truncated.at(format)) << what;
      } else {
        // Where the inverted bytes land decides whether the decoder notices ("Corrupt JPEG
        // data: premature end of data segment") or decodes garbage, which the PSNR catches.
        const bool decoder_said = error.rfind(decoder.at(format), 0) == 0 && error.size() > decoder.at(format).size();
        const bool psnr_said = error.rfind("verify: luma PSNR ", 0) == 0 &&
                               error.find(" dB against the encoded thumbnail, below 30") != std::string::npos;
        EXPECT_TRUE(decoder_said || psnr_said) << what << ": " << error;
      }
      for (const auto& in : inputs) {
        const auto& j = by_input.at(in.filename().string());
        EXPECT_EQ(j["status"], "ok") << what << ": " << j.dump();
        EXPECT_EQ(j.value("verified", false), true) << what << ": " << j.dump();
      }
      EXPECT_FALSE(fs::exists(out / ("damaged_thumbnail." + format))) << what;
      EXPECT_TRUE(fs::exists(out / ("photo_thumbnail." + format))) << what;
      EXPECT_TRUE(hidden_files(out).empty()) << what << ": a temporary was left: " << hidden_files(out).front();
    }
}

// The thumbs encoder with its thumbnail replaced after encode() returns, before the engine's
// checks run, by `replace` (given the temporary's path): a file that is whole but may not be
// what was encoded.
class ReplacedThumbnail final : public mediabatch::Encoder {
 public:
  ReplacedThumbnail(std::function<void(const fs::path&)> replace)
      : inner_(mediabatch::make_thumbs_encoder()), replace_(std::move(replace)) {}
  std::string_view name() const override { return inner_->name(); }
  std::string_view description() const override { return inner_->description(); }
  void add_options(CLI::App& command) override { inner_->add_options(command); }
  void validate() override { inner_->validate(); }
  bool accepts(const mediabatch::Probe& probe) const override { return inner_->accepts(probe); }
  fs::path output_name(const fs::path& input) const override { return inner_->output_name(input); }
  void encode(mediabatch::EncodeContext& ctx) const override {
    inner_->encode(ctx);
    replace_(ctx.temp_output());
  }

 private:
  std::unique_ptr<mediabatch::Encoder> inner_;
  std::function<void(const fs::path&)> replace_;
};

// What the check compares: a whole file re-encoded by ImageMagick passes; one of another
// picture, two pixels off in a PNG, another size, a progressive JPEG cut short, or no bytes at all fails and says so.
TEST_F(Thumbs, VerifyMeasuresSizeAndPsnrAgainstTheEncodedThumbnail) {
  const fs::path in = verify_inputs(dir)[0];
  const auto im = [](const std::string& options) {
    return [options](const fs::path& p) { run_ok("convert " + p.string() + " " + options + " " + p.string()); };
  };
  struct Case {
    std::string format;
    std::string what;
    std::function<void(const fs::path&)> replace;
    std::string error;  // empty: passes
  };
  const std::vector<Case> cases = {
      {"jpg", "re-encoded by ImageMagick", im("-quality 95"), ""},
      {"png", "re-encoded by ImageMagick", im("-define png:compression-level=9"), ""},
      {"webp", "re-encoded by ImageMagick", im("-quality 95"), ""},
      {"jpg", "negated", im("-negate -quality 95"), "verify: luma PSNR "},
      {"png", "two pixels off",
       [](const fs::path& p) {
         run_ok("convert " + p.string() + " -fill black -draw 'point 10,10' -fill white -draw 'point 11,10' PNG24:" +
                p.string());
       },
       "verify: pixels differ from those encoded (PNG is lossless)"},
      {"webp", "negated", im("-negate -quality 95"), "verify: luma PSNR "},
      {"jpg", "a column less", im("-crop 127x96+0+0 +repage -quality 95"), "verify: JPEG is 127x96, 128x96 was planned"},
      {"png", "a row less", im("-crop 128x95+0+0 +repage"), "verify: PNG is 128x95, 128x96 was planned"},
      {"webp", "doubled", im("-resize 200%"), "verify: WebP is 256x192, 128x96 was planned"},
      {"jpg", "progressive, cut short",
       [](const fs::path& p) {
         run_ok("convert " + p.string() + " -interlace Plane -quality 95 " + p.string());
         const std::string bytes = mbtest::read_file(p);
         mbtest::write_file(p, bytes.substr(0, bytes.size() - 200));
       },
       "verify: decoding JPEG: Premature end of JPEG file"},
      {"png", "empty", [](const fs::path& p) { mbtest::write_file(p, ""); }, "verify: the thumbnail is empty (0 bytes)"},
  };
  for (const auto& c : cases) {
    const std::string what = c.format + ", " + c.what;
    mbtest::EncoderHarness h(std::make_unique<ReplacedThumbnail>(c.replace), {"--format", c.format});
    mbtest::JobOptions options;
    options.verify = true;
    const fs::path out = dir / "out" / ("photo_thumbnail." + c.format);
    try {
      const auto r = h.encode(in, out, options);
      EXPECT_TRUE(c.error.empty()) << what << ": passed";
      EXPECT_TRUE(r.verified) << what;
      EXPECT_TRUE(fs::exists(out)) << what;
    } catch (const mediabatch::Error& e) {
      const std::string error = e.what();
      if (c.error.empty()) {
        ADD_FAILURE() << what << ": " << error;
      } else if (c.error == "verify: luma PSNR ") {
        EXPECT_EQ(error.rfind(c.error, 0), 0u) << what << ": " << error;
        EXPECT_NE(error.find(" dB against the encoded thumbnail, below 30"), std::string::npos) << what << ": " << error;
      } else {
        EXPECT_EQ(error, c.error) << what;
      }
      EXPECT_FALSE(fs::exists(out)) << what;
    }
    EXPECT_TRUE(hidden_files(dir / "out").empty()) << what;
    fs::remove_all(dir / "out");
  }
}

}  // namespace
