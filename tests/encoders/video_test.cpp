// Tests of `mediabatch video`: inputs are made here with the ffmpeg CLI (H.264/AAC, MPEG-4/MP3,
// VP8/Vorbis, 5.1, 10-bit, odd sizes, audio-only, video-only, damaged files), converted
// in-process, then checked with ffprobe and a full decode by the ffmpeg CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "support/encoder_harness.hpp"
#include "support/test_support.hpp"

namespace mediabatch {
std::unique_ptr<Encoder> make_video_encoder();
}

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using mbtest::TempDir;

// The tests make their inputs with the ffmpeg CLI and read outputs back with ffprobe and ffmpeg.
#define REQUIRE_FFMPEG()   \
  do {                     \
    REQUIRE_TOOL("ffmpeg");  \
    REQUIRE_TOOL("ffprobe"); \
  } while (0)

// Runs the ffmpeg CLI to make a test input; fails the test if it cannot.
void make_media(const std::string& args, const fs::path& out) {
  auto r = mbtest::sh("ffmpeg -nostdin -v error -y " + args + " '" + out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(out));
}

const std::string kVideo = "-f lavfi -i testsrc2=s=320x180:r=25 ";
const std::string kTone = "-f lavfi -i sine=frequency=440:sample_rate=48000 ";

// The video encoder with these options, parsed and validated as on the command line.
mbtest::EncoderHarness video(const std::vector<std::string>& options = {}) {
  return mbtest::EncoderHarness(mediabatch::make_video_encoder(), options);
}

// Converts one file through the engine's own entry point; returns the error message, empty on
// success.
std::string convert(const fs::path& input, const fs::path& output, const std::vector<std::string>& options = {},
                    int threads = 1) {
  try {
    video(options).encode(input, output, mbtest::JobOptions{threads});
  } catch (const mediabatch::Error& e) {
    return e.what();
  }
  return {};
}

json probe(const fs::path& file) {
  auto r = mbtest::run({"ffprobe", "-v", "error", "-show_entries",
                        "format=format_name,duration:stream=index,codec_type,codec_name,width,height,pix_fmt,"
                        "channels,sample_rate,channel_layout",
                        "-of", "json", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

double duration_of(const json& j) { return std::stod(j["format"]["duration"].get<std::string>()); }

std::vector<json> streams_of(const json& j, const std::string& type) {
  std::vector<json> out;
  for (const auto& s : j["streams"])
    if (s["codec_type"] == type) out.push_back(s);
  return out;
}

// Start and end (last packet's time plus its duration) of one stream, in seconds.
struct Span {
  double start = 1e9, end = -1e9;
  int packets = 0;
};
Span span_of(const fs::path& file, const std::string& selector) {
  auto r = mbtest::run({"ffprobe", "-v", "error", "-select_streams", selector, "-show_entries",
                        "packet=pts_time,duration_time", "-of", "csv=p=0", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Span s;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    double pts = 0, dur = 0;
    if (std::sscanf(line.c_str(), "%lf,%lf", &pts, &dur) < 1) continue;
    s.start = std::min(s.start, pts);
    s.end = std::max(s.end, pts + dur);
    ++s.packets;
  }
  return s;
}

// Every packet of the output decodes without a message from FFmpeg.
void expect_clean_decode(const fs::path& file) {
  auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-i", file.string(), "-f", "null", "-"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "") << file;
  EXPECT_EQ(r.out, "");
}

// The checks of the issue: Matroska, theora + vorbis streams as expected, decodes cleanly,
// duration within 0.1 s.
json expect_converted(const fs::path& out, double duration, int videos, int audios) {
  EXPECT_TRUE(fs::exists(out)) << out;
  json j = probe(out);
  EXPECT_NE(j["format"]["format_name"].get<std::string>().find("matroska"), std::string::npos) << j.dump();
  auto v = streams_of(j, "video");
  auto a = streams_of(j, "audio");
  EXPECT_EQ(static_cast<int>(v.size()), videos) << j.dump();
  EXPECT_EQ(static_cast<int>(a.size()), audios) << j.dump();
  EXPECT_EQ(j["streams"].size(), static_cast<std::size_t>(videos + audios)) << j.dump();
  for (const auto& s : v) {
    EXPECT_EQ(s["codec_name"], "theora");
    EXPECT_EQ(s["pix_fmt"], "yuv420p");
  }
  for (const auto& s : a) EXPECT_EQ(s["codec_name"], "vorbis");
  EXPECT_NEAR(duration_of(j), duration, 0.1) << j.dump();
  expect_clean_decode(out);
  return j;
}

// Nothing but the input is left in the folder (no output, no temporary file).
void expect_only(const fs::path& dir, const fs::path& input) {
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path(), input) << "left behind: " << e.path();
}

TEST(Video, H264AacMp4) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "clip.mp4";
  make_media(kVideo + kTone + "-t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2", in);
  auto out = dir / "clip.mkv";
  ASSERT_EQ(convert(in, out), "");
  auto j = expect_converted(out, 2.0, 1, 1);
  auto v = streams_of(j, "video")[0];
  EXPECT_EQ(v["width"], 320);
  EXPECT_EQ(v["height"], 180);
  auto a = streams_of(j, "audio")[0];
  EXPECT_EQ(a["sample_rate"], "48000");
  EXPECT_EQ(a["channels"], 2);
  // In sync: each stream starts and ends within a frame and 50 ms of the input's.
  for (const char* sel : {"v:0", "a:0"}) {
    Span src = span_of(in, sel), dst = span_of(out, sel);
    EXPECT_NEAR(dst.start, src.start, 0.05) << sel;
    EXPECT_NEAR(dst.end, src.end, 0.05) << sel;
  }
  EXPECT_EQ(span_of(out, "v:0").packets, 50);
}

TEST(Video, Mpeg4Mp3Avi) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "old.AVI";
  make_media(kVideo + "-f lavfi -i sine=frequency=300:sample_rate=44100 -t 2 -c:v mpeg4 -c:a libmp3lame", in);
  auto out = dir / "old.mkv";
  ASSERT_EQ(convert(in, out), "");
  auto j = expect_converted(out, 2.0, 1, 1);
  EXPECT_EQ(streams_of(j, "audio")[0]["sample_rate"], "44100");
}

TEST(Video, Vp8VorbisWebm) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "web.webm";
  make_media(kVideo + kTone + "-t 2 -c:v libvpx -deadline realtime -c:a libvorbis", in);
  auto out = dir / "web.mkv";
  ASSERT_EQ(convert(in, out, {}, 2), "");
  expect_converted(out, 2.0, 1, 1);
}

TEST(Video, SurroundAudioKeepsItsChannels) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "surround.mov";
  // 5.1(side) is what AAC decoders usually report; Vorbis stores 5.1 with back channels.
  make_media(kVideo + kTone + "-filter_complex \"[1]pan=5.1(side)|c0=c0|c1=0.5*c0|c2=0.3*c0|c3=0.2*c0|c4=0.1*c0|c5=0.05*c0[a]\" "
                              "-map 0:v -map \"[a]\" -t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac",
             in);
  auto out = dir / "surround.mkv";
  {
    ASSERT_EQ(convert(in, out), "");
  }
  auto j = expect_converted(out, 2.0, 1, 1);
  auto a = streams_of(j, "audio")[0];
  EXPECT_EQ(a["channels"], 6);
  EXPECT_EQ(a["channel_layout"], "5.1");
  // The loudest channel (front left) stays front left: check its level against the quietest.
  auto fl = mbtest::run({"ffmpeg", "-nostdin", "-i", out.string(), "-af", "pan=mono|c0=FL,volumedetect", "-f", "null",
                         "-"});
  auto br = mbtest::run({"ffmpeg", "-nostdin", "-i", out.string(), "-af", "pan=mono|c0=BR,volumedetect", "-f", "null",
                         "-"});
  auto mean_volume = [](const std::string& log) {
    auto p = log.find("mean_volume:");
    return p == std::string::npos ? 0.0 : std::stod(log.substr(p + 12));
  };
  EXPECT_GT(mean_volume(fl.err) - mean_volume(br.err), 20.0) << fl.err << br.err;
}

TEST(Video, TenBitVideo) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "deep.mkv";
  make_media(kVideo + "-t 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p10le", in);
  ASSERT_EQ(probe(in)["streams"][0]["pix_fmt"], "yuv420p10le");
  auto out = dir / "out" / "deep.mkv";
  fs::create_directory(dir / "out");
  ASSERT_EQ(convert(in, out), "");
  expect_converted(out, 1.0, 1, 0);
}

TEST(Video, OddFrameSize) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "odd.mp4";
  make_media("-f lavfi -i testsrc=s=321x181:r=30 -t 1 -c:v libx264 -preset veryfast -pix_fmt yuv444p", in);
  auto out = dir / "odd.mkv";
  ASSERT_EQ(convert(in, out), "");
  auto v = streams_of(expect_converted(out, 1.0, 1, 0), "video")[0];
  EXPECT_EQ(v["width"], 321);
  EXPECT_EQ(v["height"], 181);
}

TEST(Video, AudioOnly) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "talk.mkv";
  make_media("-f lavfi -i sine=frequency=440:sample_rate=22050 -t 2 -c:a libmp3lame", in);
  auto out = dir / "out.mkv";
  ASSERT_EQ(convert(in, out), "");
  auto a = streams_of(expect_converted(out, 2.0, 0, 1), "audio")[0];
  EXPECT_EQ(a["sample_rate"], "22050");
  EXPECT_EQ(a["channels"], 1);
}

TEST(Video, VideoOnlyWithSubtitlesDropped) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto srt = dir / "subs.srt";
  mbtest::write_file(srt, "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n");
  auto in = dir / "silent.mkv";
  make_media(kVideo + "-i '" + srt.string() + "' -map 0:v -map 1:s -t 2 -c:v libx264 -preset veryfast -c:s srt", in);
  ASSERT_EQ(streams_of(probe(in), "subtitle").size(), 1u);
  auto out = dir / "out.mkv";
  ASSERT_EQ(convert(in, out), "");
  expect_converted(out, 2.0, 1, 0);
}

TEST(Video, StartAndDuration) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "long.mp4";
  make_media(kVideo + kTone + "-t 3 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac", in);
  auto full = dir / "full.mkv";
  auto cut = dir / "cut.mkv";
  auto part = dir / "part.mkv";
  ASSERT_EQ(convert(in, full), "");
  ASSERT_EQ(convert(in, cut, {"--start", "2"}), "");
  ASSERT_EQ(convert(in, part, {"--start", "0.5", "--duration", "1.5"}), "");
  double d_full = duration_of(expect_converted(full, 3.0, 1, 1));
  double d_cut = duration_of(expect_converted(cut, 1.0, 1, 1));
  expect_converted(part, 1.5, 1, 1);
  EXPECT_NEAR(d_full - d_cut, 2.0, 0.1);
  // Timestamps start again at zero, audio and video together.
  EXPECT_NEAR(span_of(cut, "a:0").start, 0.0, 0.05);
  EXPECT_NEAR(span_of(cut, "v:0").start, 0.0, 0.05);
  // The first frame of the cut is the frame shown at 2 s: testsrc2's frame 50.
  // (Compared by the decoded picture of both, through the ffmpeg CLI.)
  auto a = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-ss", "2", "-i", in.string(), "-frames:v", "1", "-s",
                        "16x9", "-f", "rawvideo", "-pix_fmt", "gray", "-"});
  auto b = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-i", cut.string(), "-frames:v", "1", "-s", "16x9", "-f",
                        "rawvideo", "-pix_fmt", "gray", "-"});
  ASSERT_EQ(a.out.size(), 144u);
  ASSERT_EQ(b.out.size(), 144u);
  double diff = 0;
  for (std::size_t i = 0; i < a.out.size(); ++i)
    diff += std::abs(static_cast<unsigned char>(a.out[i]) - static_cast<unsigned char>(b.out[i]));
  EXPECT_LT(diff / 144, 6.0);
}

TEST(Video, StartPastTheEndFails) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "short.mp4";
  make_media(kVideo + "-t 1 -c:v libx264 -preset veryfast", in);
  auto err = convert(in, dir / "short.mkv", {"--start", "5"});
  EXPECT_NE(err.find("--start"), std::string::npos) << err;
  expect_only(dir.path(), in);
}

TEST(Video, MaxHeightScalesToEvenSizeKeepingAspect) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "wide.mp4";
  make_media("-f lavfi -i testsrc2=s=640x360:r=25 -t 1 -c:v libx264 -preset veryfast", in);
  auto out = dir / "wide.mkv";
  ASSERT_EQ(convert(in, out, {"--max-height", "101"}), "");
  auto v = streams_of(expect_converted(out, 1.0, 1, 0), "video")[0];
  EXPECT_EQ(v["height"], 100);
  EXPECT_EQ(v["width"], 178);
  // A smaller input is left as it is.
  auto same = dir / "same.mkv";
  ASSERT_EQ(convert(in, same, {"--max-height", "720"}), "");
  EXPECT_EQ(streams_of(probe(same), "video")[0]["height"], 360);
}

TEST(Video, OggFormat) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "clip.flv";
  make_media(kVideo + kTone + "-t 2 -c:v flv1 -c:a libmp3lame -ar 44100", in);
  EXPECT_EQ(video({"--format", "ogv"}).encoder().output_name("a/b/clip.flv"), fs::path("clip.ogv"));
  auto out = dir / "clip.ogv";
  ASSERT_EQ(convert(in, out, {"--format", "ogv"}), "");
  json j = probe(out);
  EXPECT_EQ(j["format"]["format_name"], "ogg");
  ASSERT_EQ(streams_of(j, "video").size(), 1u);
  ASSERT_EQ(streams_of(j, "audio").size(), 1u);
  EXPECT_EQ(streams_of(j, "video")[0]["codec_name"], "theora");
  EXPECT_EQ(streams_of(j, "audio")[0]["codec_name"], "vorbis");
  EXPECT_NEAR(duration_of(j), 2.0, 0.1);
  expect_clean_decode(out);
}

TEST(Video, FirstAudioOrAllAudio) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "dub.mkv";
  make_media(kVideo + kTone + "-f lavfi -i sine=frequency=880:sample_rate=44100 -map 0 -map 1 -map 2 -t 2 "
                              "-c:v libx264 -preset veryfast -c:a aac -metadata:s:a:1 language=fra",
             in);
  auto first = dir / "first.mkv";
  auto all = dir / "all.mkv";
  ASSERT_EQ(convert(in, first), "");
  ASSERT_EQ(convert(in, all, {"--all-audio"}), "");
  EXPECT_EQ(streams_of(expect_converted(first, 2.0, 1, 1), "audio")[0]["sample_rate"], "48000");
  auto a = streams_of(expect_converted(all, 2.0, 1, 2), "audio");
  EXPECT_EQ(a[0]["sample_rate"], "48000");
  EXPECT_EQ(a[1]["sample_rate"], "44100");
  auto lang = mbtest::run({"ffprobe", "-v", "error", "-select_streams", "a:1", "-show_entries", "stream_tags=language",
                           "-of", "csv=p=0", all.string()});
  EXPECT_EQ(lang.out, "fra\n");
}

TEST(Video, VariableFrameRateKeepsTimestamps) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "vfr.mkv";
  // 25 fps with a 0.5 s pause after the first second.
  make_media(kVideo + "-frames:v 50 -vf \"setpts='(N/25+gte(N,25)*0.5)/TB'\" -fps_mode vfr -c:v libx264 -preset veryfast", in);
  auto out = dir / "vfr_out.mkv";
  ASSERT_EQ(convert(in, out), "");
  expect_converted(out, duration_of(probe(in)), 1, 0);
  auto frame_times = [](const fs::path& f) {
    auto r = mbtest::run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", f.string()});
    std::vector<double> times;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) times.push_back(std::stod(line));
    std::sort(times.begin(), times.end());
    return times;
  };
  auto src = frame_times(in), dst = frame_times(out);
  ASSERT_EQ(src.size(), 50u);
  ASSERT_EQ(dst.size(), 50u);
  EXPECT_GT(dst[25] - dst[24], 0.5);  // the pause is kept, not filled
  for (std::size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], src[i], 0.005) << "frame " << i;
}

// The Theora packets of an output: time, size, key flag and an MD5 of the data, one per line.
std::string theora_packets(const fs::path& file) {
  auto r = mbtest::run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_data_hash", "md5", "-show_entries",
                        "packet=pts,size,flags,data_hash", "-of", "csv=p=0", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(Video, QualityScalesMatchTheFfmpegCli) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "q.mp4";
  make_media("-f lavfi -i testsrc2=s=320x180:r=25,noise=alls=6:allf=t " + kTone +
                 "-t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac",
             in);
  for (auto [vq, aq] : {std::pair<const char*, const char*>{"2", "0"}, {"8", "6"}}) {
    auto ours = dir / (std::string("ours") + vq + ".mkv");
    auto theirs = dir / (std::string("cli") + vq + ".mkv");
    ASSERT_EQ(convert(in, ours, {"--vq", vq, "--aq", aq, "--speed", "1"}), "");
    auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", in.string(), "-c:v", "libtheora",
                          "-q:v", vq, "-c:a", "libvorbis", "-q:a", aq, "-sn", theirs.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    double a = static_cast<double>(fs::file_size(ours)), b = static_cast<double>(fs::file_size(theirs));
    EXPECT_NEAR(a / b, 1.0, 0.05) << "vq " << vq << ": " << a << " vs " << b;
    // libtheora is driven directly, set up as libavcodec's wrapper sets it up: at --speed 1
    // (libtheora's own default level) the video is the CLI's, packet for packet.
    const std::string packets = theora_packets(ours);
    EXPECT_GT(std::count(packets.begin(), packets.end(), '\n'), 40) << packets;
    EXPECT_EQ(packets, theora_packets(theirs)) << "vq " << vq;
  }
  EXPECT_LT(fs::file_size(dir / "ours2.mkv") * 2, fs::file_size(dir / "ours8.mkv"));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Video, SpeedLevelsTradeSizeForTime) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "s.mp4";
  make_media("-f lavfi -i testsrc2=s=320x180:r=25,noise=alls=6:allf=t -t 2 -c:v libx264 -preset veryfast", in);
  std::vector<std::vector<std::string>> packets;
  std::vector<std::uintmax_t> sizes;
  for (const char* speed : {"0", "1", "2", "3"}) {
    auto out = dir / (std::string("speed") + speed + ".mkv");
    ASSERT_EQ(convert(in, out, {"--speed", speed}), "") << speed;
    expect_clean_decode(out);
    EXPECT_NEAR(duration_of(probe(out)), duration_of(probe(in)), 0.1);
    packets.push_back(lines_of(theora_packets(out)));
    ASSERT_EQ(packets.back().size(), 50u) << speed;
    sizes.push_back(fs::file_size(out));
  }
  EXPECT_NE(packets[0], packets[1]);
  // --speed 2 codes the first 11 frames as 1 does, then the frame before the key frame that
  // comes every 12 differently (and larger: analysed fast); the key frames stay where they are.
  for (std::size_t i = 0; i < 11; ++i) EXPECT_EQ(packets[2][i], packets[1][i]) << "frame " << i;
  EXPECT_NE(packets[2][11], packets[1][11]);
  for (std::size_t i = 0; i < 50; ++i) {
    const bool key = packets[1][i].find(",K") != std::string::npos;
    EXPECT_EQ(key, i % 12 == 0) << "frame " << i;
    EXPECT_EQ(packets[2][i].find(",K") != std::string::npos, key) << "frame " << i;
  }
  EXPECT_GT(sizes[2], sizes[1]);
  EXPECT_LT(sizes[2], sizes[1] * 105 / 100) << sizes[1] << " vs " << sizes[2];
  // Every frame analysed fast: on this noisy picture, far more bits.
  EXPECT_GT(sizes[3], sizes[1] * 11 / 10) << sizes[1] << " vs " << sizes[3];
  EXPECT_ANY_THROW(video({"--speed", "4"}));
  EXPECT_ANY_THROW(video({"--speed", "-1"}));
}

// Decoded content of an output (Matroska files carry random UIDs, so bytes differ run to run).
std::string content_md5(const fs::path& file) {
  auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-i", file.string(), "-f", "md5", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(Video, ConcurrentEncodesMatchSequentialOnes) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto a = dir / "a.mp4";
  auto b = dir / "b.webm";
  make_media(kVideo + kTone + "-t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac", a);
  make_media("-f lavfi -i testsrc=s=240x136:r=30 -f lavfi -i sine=frequency=600:sample_rate=44100 -t 2 "
             "-c:v libvpx -deadline realtime -c:a libvorbis",
             b);
  ASSERT_EQ(convert(a, dir / "a1.mkv"), "");
  ASSERT_EQ(convert(b, dir / "b1.mkv", {"--vq", "4"}), "");
  std::string err_a, err_b;
  std::thread ta([&] { err_a = convert(a, dir / "a2.mkv"); });
  std::thread tb([&] { err_b = convert(b, dir / "b2.mkv", {"--vq", "4"}); });
  ta.join();
  tb.join();
  ASSERT_EQ(err_a, "");
  ASSERT_EQ(err_b, "");
  EXPECT_EQ(content_md5(dir / "a1.mkv"), content_md5(dir / "a2.mkv"));
  EXPECT_EQ(content_md5(dir / "b1.mkv"), content_md5(dir / "b2.mkv"));
  EXPECT_NE(content_md5(dir / "a1.mkv"), content_md5(dir / "b1.mkv"));
}

TEST(Video, OggKeepsAConstantFrameRate) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "pause.mkv";
  // 25 fps with a 0.4 s pause: Ogg Theora has no per-frame times, so the pause is filled.
  make_media(kVideo + "-frames:v 50 -vf \"setpts='(N/25+gte(N,25)*0.4)/TB'\" -fps_mode vfr -c:v libx264 -preset veryfast",
             in);
  auto out = dir / "pause.ogv";
  ASSERT_EQ(convert(in, out, {"--format", "ogv"}), "");
  json j = probe(out);
  EXPECT_EQ(j["format"]["format_name"], "ogg");
  EXPECT_NEAR(duration_of(j), duration_of(probe(in)), 0.1);
  // The pause repeats the frame before it (empty or tiny packets; ffprobe skips empty ones)
  // and the next frame comes at its own time (1.40 s), not early.
  auto r = mbtest::run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,size",
                        "-of", "csv=p=0", out.string()});
  std::istringstream lines(r.out);
  int big_in_pause = 0, big_after = 0;
  for (std::string line; std::getline(lines, line);) {
    double t = 0;
    int size = 0;
    if (std::sscanf(line.c_str(), "%lf,%d", &t, &size) != 2) continue;
    if (t > 0.98 && t < 1.38 && size > 200) ++big_in_pause;
    if (t > 1.39 && t < 1.41 && size > 500) ++big_after;
  }
  EXPECT_EQ(big_in_pause, 0) << r.out;
  EXPECT_EQ(big_after, 1) << r.out;
  // Frames after the pause keep their times to the end.
  EXPECT_NEAR(span_of(out, "v:0").end, span_of(in, "v:0").end, 0.05);
  expect_clean_decode(out);
}

TEST(Video, NotAVideoFailsWithFfmpegsReason) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "junk.mp4";
  std::string junk;
  for (int i = 0; i < 50000; ++i) junk.push_back(static_cast<char>((i * 7919) % 251));
  mbtest::write_file(in, junk);
  auto err = convert(in, dir / "junk.mkv");
  EXPECT_NE(err.find("Invalid data found when processing input"), std::string::npos) << err;
  expect_only(dir.path(), in);
}

TEST(Video, TruncatedFilesFail) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto mp4 = dir / "whole.mp4";
  make_media(kVideo + kTone + "-t 3 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac", mp4);
  auto mkv = dir / "whole.mkv";
  make_media("-i '" + mp4.string() + "' -c copy", mkv);
  for (const auto& whole : {mp4, mkv}) {
    std::string bytes = mbtest::read_file(whole);
    TempDir cut_dir;
    auto cut = cut_dir / ("cut" + whole.extension().string());
    mbtest::write_file(cut, bytes.substr(0, bytes.size() / 2));
    auto err = convert(cut, cut_dir / "cut_out.mkv");
    EXPECT_NE(err, "") << whole;
    expect_only(cut_dir.path(), cut);
  }
  // The mp4 loses its index (moov comes last); the mkv's clusters stop halfway.
  TempDir one;
  std::string bytes = mbtest::read_file(mp4);
  mbtest::write_file(one / "c.mp4", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(convert(one / "c.mp4", one / "c.mkv").find("Invalid data found"), std::string::npos);
  bytes = mbtest::read_file(mkv);
  mbtest::write_file(one / "d.mkv", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(convert(one / "d.mkv", one / "d_out.mkv").find("truncated"), std::string::npos);
}

TEST(Video, DamageMidwayFails) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto avi = dir / "d.avi";
  make_media(kVideo + "-t 2 -c:v mpeg4", avi);
  auto ts = dir / "d.ts";
  make_media(kVideo + kTone + "-t 2 -c:v libx264 -preset veryfast -c:a aac", ts);
  for (const auto& f : {avi, ts}) {
    std::string bytes = mbtest::read_file(f);
    for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 20000 && i < bytes.size(); ++i)
      bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    TempDir d;
    auto in = d / f.filename().string();
    mbtest::write_file(in, bytes);
    auto err = convert(in, d / "out.mkv");
    EXPECT_NE(err, "") << f;
    expect_only(d.path(), in);
  }
}

TEST(Video, StopsWhenAsked) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "clip.mp4";
  make_media(kVideo + "-t 1 -c:v libx264 -preset veryfast", in);
  std::atomic<bool> stop{true};
  EXPECT_THROW(video().encode(in, dir / "clip.mkv", mbtest::JobOptions{1, &stop}), mediabatch::Cancelled);
  expect_only(dir.path(), in);
}

// Per frame of the video stream: its time in milliseconds and whether it is a key frame.
std::vector<std::pair<long, bool>> video_frames(const fs::path& file) {
  std::vector<std::pair<long, bool>> frames;
  for (const auto& line : lines_of(theora_packets(file))) {
    long pts = 0;
    if (std::sscanf(line.c_str(), "%ld", &pts) == 1) frames.emplace_back(pts, line.find(",K") != std::string::npos);
  }
  return frames;
}

// Where a part coded apart starts: a key frame that does not come 12 frames after the last.
std::vector<std::size_t> part_starts(const std::vector<std::pair<long, bool>>& frames) {
  std::vector<std::size_t> starts;
  std::size_t last = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].second) continue;
    if (i != 0 && i - last != 12) starts.push_back(i);
    last = i;
  }
  return starts;
}

TEST(Video, WithThreadsToSpareLaterPartsAreCodedAtOnce) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "long.mp4";
  make_media("-f lavfi -i testsrc2=s=320x180:r=25,noise=alls=6:allf=t " + kTone +
                 "-t 13 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac",
             in);
  ASSERT_EQ(convert(in, dir / "one.mkv", {}, 1), "");
  ASSERT_EQ(convert(in, dir / "two.mkv", {}, 2), "");
  ASSERT_EQ(convert(in, dir / "three.mkv", {}, 3), "");
  const auto one = video_frames(dir / "one.mkv");
  const auto two = video_frames(dir / "two.mkv");
  ASSERT_EQ(one.size(), 325u);
  ASSERT_EQ(two.size(), one.size());
  // Two parts of about 13 s / 2, the second starting with a key frame of its own; every frame
  // keeps its time. Three slots make two parts as well: a part is at least 6 s long.
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(two[i].first, one[i].first) << "frame " << i;
  EXPECT_TRUE(part_starts(one).empty());
  const auto starts = part_starts(two);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_NEAR(static_cast<double>(starts[0]), 163, 3);
  EXPECT_EQ(video_frames(dir / "three.mkv"), two);
  expect_clean_decode(dir / "two.mkv");
  EXPECT_NEAR(duration_of(probe(dir / "two.mkv")), duration_of(probe(dir / "one.mkv")), 0.01);
  EXPECT_EQ(span_of(dir / "two.mkv", "a:0").packets, span_of(dir / "one.mkv", "a:0").packets);
  const double a = static_cast<double>(fs::file_size(dir / "two.mkv"));
  const double b = static_cast<double>(fs::file_size(dir / "one.mkv"));
  EXPECT_NEAR(a / b, 1.0, 0.05);

  // --start and --duration cut the same frames either way.
  ASSERT_EQ(convert(in, dir / "cut1.mkv", {"--start", "0.5", "--duration", "12"}, 1), "");
  ASSERT_EQ(convert(in, dir / "cut2.mkv", {"--start", "0.5", "--duration", "12"}, 2), "");
  const auto cut1 = video_frames(dir / "cut1.mkv");
  const auto cut2 = video_frames(dir / "cut2.mkv");
  ASSERT_EQ(cut1.size(), 300u);
  ASSERT_EQ(cut2.size(), cut1.size());
  for (std::size_t i = 0; i < cut1.size(); ++i) EXPECT_EQ(cut2[i].first, cut1[i].first) << "frame " << i;
  const auto cut_starts = part_starts(cut2);  // the second part from 6 s of the output
  ASSERT_EQ(cut_starts.size(), 1u);
  EXPECT_NEAR(static_cast<double>(cut_starts[0]), 150, 2);

  // Open GOPs: the part after the seek starts with pictures that lack their references; they
  // lie before the part's start, and the parts still join up.
  auto open_gop = dir / "open_gop.mp4";
  make_media("-f lavfi -i testsrc2=s=320x180:r=25 -t 13 -c:v libx264 -preset veryfast -x264-params "
             "open-gop=1:keyint=50 -bf 3",
             open_gop);
  ASSERT_EQ(convert(open_gop, dir / "og1.mkv", {}, 1), "");
  ASSERT_EQ(convert(open_gop, dir / "og2.mkv", {}, 2), "");
  const auto og1 = video_frames(dir / "og1.mkv"), og2 = video_frames(dir / "og2.mkv");
  ASSERT_EQ(og2.size(), og1.size());
  for (std::size_t i = 0; i < og1.size(); ++i) EXPECT_EQ(og2[i].first, og1[i].first) << "frame " << i;
  EXPECT_EQ(part_starts(og2).size(), 1u);
  expect_clean_decode(dir / "og2.mkv");

  // Ogg keeps one part: its constant rate carries state from frame to frame.
  ASSERT_EQ(convert(in, dir / "two.ogv", {"--format", "ogv"}, 2), "");
  expect_clean_decode(dir / "two.ogv");

  // Damage in the last part: the file is coded again in one part, and fails as it does then.
  auto mkv = dir / "whole.mkv";
  make_media("-i '" + in.string() + "' -c copy", mkv);
  std::string bytes = mbtest::read_file(mkv);
  for (std::size_t i = bytes.size() * 8 / 10; i < bytes.size() * 8 / 10 + 20000; ++i)
    bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  mbtest::write_file(dir / "damaged.mkv", bytes);
  const std::string err1 = convert(dir / "damaged.mkv", dir / "damaged1.mkv", {}, 1);
  EXPECT_NE(err1, "");
  EXPECT_EQ(convert(dir / "damaged.mkv", dir / "damaged2.mkv", {}, 2), err1);
  EXPECT_FALSE(fs::exists(dir / "damaged2.mkv"));

  // Stopped while the parts run: every thread ends, nothing is left.
  auto harness = video();
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  EXPECT_THROW(harness.encode(in, dir / "stopped.mkv", mbtest::JobOptions{2, &stop}), mediabatch::Cancelled);
  stopper.join();
  EXPECT_FALSE(fs::exists(dir / "stopped.mkv"));
}

TEST(Video, AcceptsByExtension) {
  auto harness = video();
  const mediabatch::Encoder* encoder = &harness.encoder();
  for (const char* name : {"a.mp4", "b.AVI", "c.wmv", "d.flv", "e.mpg", "f.MPEG", "g.mov", "h.ogv", "i.mkv",
                           "j.webm", "k.m4v", "o.3gp"})
    EXPECT_TRUE(encoder->accepts({name, ""})) << name;
  // A transport stream is known by its sync bytes: an empty .ts is as likely TypeScript.
  for (const char* name : {"l.ts", "m.M2TS", "n.mts"}) EXPECT_FALSE(encoder->accepts({name, ""})) << name;
  for (const char* name : {"a.txt", "b.mp3", "c", "d.jpg", "mp4"}) {
    mediabatch::Probe p{name, ""};
    EXPECT_FALSE(encoder->accepts(p)) << name;
    EXPECT_EQ(encoder->reject_reason(p), "unknown extension");
  }
  EXPECT_EQ(encoder->output_name("dir/holiday.MP4"), fs::path("holiday.mkv"));
  // .ts is also TypeScript: transport streams are told apart by their sync bytes.
  std::string ts(188 * 3, '\0'), m2ts(192 * 3, '\0');
  for (std::size_t i = 0; i < ts.size(); i += 188) ts[i] = 0x47;
  for (std::size_t i = 4; i < m2ts.size(); i += 192) m2ts[i] = 0x47;
  EXPECT_TRUE(encoder->accepts({"a.ts", ts}));
  EXPECT_TRUE(encoder->accepts({"a.M2TS", m2ts}));
  mediabatch::Probe script{"app.ts", "export const x: number = 1;\n"};
  EXPECT_FALSE(encoder->accepts(script));
  EXPECT_EQ(encoder->reject_reason(script), "not an MPEG transport stream");
}

TEST(Video, RejectsBadOptions) {
  EXPECT_ANY_THROW(video({"--vq", "11"}));
  EXPECT_ANY_THROW(video({"--aq", "-2"}));
  EXPECT_ANY_THROW(video({"--format", "avi"}));
  EXPECT_ANY_THROW(video({"--start", "-1"}));
  EXPECT_NO_THROW(video({"--vq", "0", "--aq", "-1", "--format", "ogv", "--max-height", "240", "--all-audio"}));
}

TEST(Video, CommandLineBatch) {
  REQUIRE_FFMPEG();
  TempDir dir;
  make_media(kVideo + kTone + "-t 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac", dir / "good.MOV");
  mbtest::write_file(dir / "notes.txt", "not a video\n");
  mbtest::write_file(dir / "broken.mp4", std::string(4096, 'x'));
  auto r = mbtest::mediabatch({"video", "--vq", "5", (dir / "good.MOV").string(), (dir / "notes.txt").string(),
                               (dir / "broken.mp4").string(), "-o", (dir / "out").string()});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;  // one file failed
  EXPECT_NE(r.out.find("notes.txt: unknown extension"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broken.mp4: opening the input: Invalid data found"), std::string::npos) << r.out;
  expect_converted(dir / "out" / "good.mkv", 1.0, 1, 1);
  EXPECT_FALSE(fs::exists(dir / "out" / "broken.mkv"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator{}), 1);
}

TEST(Video, CommandLineTimeoutStopsFfmpeg) {
  REQUIRE_FFMPEG();
  TempDir dir;
  make_media("-f lavfi -i testsrc2=s=640x360:r=25 -t 20 -c:v libx264 -preset ultrafast", dir / "long.mp4");
  auto r = mbtest::mediabatch({"video", (dir / "long.mp4").string(), "--timeout", "0.3", "-o", (dir / "out").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("timed out"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out"));
}

TEST(Video, BundledSampleConverts) {
  REQUIRE_FFMPEG();
  auto sample = mbtest::asset("video_sample.mp4");
  ASSERT_TRUE(fs::exists(sample));
  TempDir dir;
  auto out = dir / "video_sample.mkv";
  ASSERT_EQ(convert(sample, out), "");
  expect_converted(out, duration_of(probe(sample)), 1, 1);
}

}  // namespace
