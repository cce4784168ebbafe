// Tests of `mediabatch thumbs`. Inputs are made at test time with ImageMagick, ffmpeg and
// exiftool; outputs are read back with TurboJPEG, exiftool and compared with vipsthumbnail.
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
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
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

}  // namespace
