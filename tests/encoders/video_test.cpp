// Tests of `mediabatch video`: inputs are made here with the ffmpeg CLI (H.264/AAC, MPEG-4/MP3,
// VP8/Vorbis, 5.1, 10-bit, odd sizes, audio-only, video-only, damaged files), converted
// in-process, then checked with ffprobe and a full decode by the ffmpeg CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
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

// What converting one file ended with: its error (empty on success) and its result's warnings.
struct Converted {
  std::string error;
  std::string warning;
};
Converted convert_noting(const fs::path& input, const fs::path& output, const std::vector<std::string>& options = {},
                         int threads = 1) {
  Converted c;
  try {
    mediabatch::Result r = video(options).encode(input, output, mbtest::JobOptions{threads});
    EXPECT_EQ(r.status, mediabatch::Status::ok) << input;
    c.warning = r.warning;
  } catch (const mediabatch::Error& e) {
    c.error = e.what();
  }
  return c;
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

// In sync: each stream of `out` starts and ends within a frame and 50 ms of the same stream
// of `in`.
void expect_in_sync(const fs::path& out, const fs::path& in) {
  for (const char* sel : {"v:0", "a:0"}) {
    Span src = span_of(in, sel), dst = span_of(out, sel);
    EXPECT_NEAR(dst.start, src.start, 0.05) << sel;
    EXPECT_NEAR(dst.end, src.end, 0.05) << sel;
  }
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

// Where the mp4's mdat box starts, and its size.
std::pair<std::size_t, std::size_t> mdat_of(const std::string& mp4) {
  for (std::size_t at = 0; at + 8 <= mp4.size();) {
    std::size_t size = 0;
    for (std::size_t i = 0; i < 4; ++i) size = size << 8 | static_cast<unsigned char>(mp4[at + i]);
    if (mp4.compare(at + 4, 4, "mdat") == 0) return {at, size};
    if (size < 8) break;  // a 64-bit size or "to the end": ffmpeg writes neither here
    at += size;
  }
  ADD_FAILURE() << "no mdat box";
  return {0, 0};
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
  expect_in_sync(out, in);
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

TEST(Video, TruncatedFilesFailUnderStrict) {
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
    auto err = convert(cut, cut_dir / "cut_out.mkv", {"--strict"});
    EXPECT_NE(err, "") << whole;
    expect_only(cut_dir.path(), cut);
  }
  // The mp4 loses its index (moov comes last): nothing can be read, --strict or not. The
  // mkv's clusters stop halfway: converted as far as they go, or under --strict failed.
  TempDir one;
  std::string bytes = mbtest::read_file(mp4);
  mbtest::write_file(one / "c.mp4", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(convert(one / "c.mp4", one / "c.mkv").find("Invalid data found"), std::string::npos);
  bytes = mbtest::read_file(mkv);
  mbtest::write_file(one / "d.mkv", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(convert(one / "d.mkv", one / "d_strict.mkv", {"--strict"}).find("truncated"), std::string::npos);
  const Converted half = convert_noting(one / "d.mkv", one / "d_out.mkv");
  EXPECT_EQ(half.error, "");
  EXPECT_NE(half.warning.find("the rest is missing"), std::string::npos) << half.warning;
  expect_clean_decode(one / "d_out.mkv");
}

TEST(Video, DamageMidwayFailsUnderStrict) {
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
    auto err = convert(in, d / "out.mkv", {"--strict"});
    EXPECT_NE(err, "") << f;
    expect_only(d.path(), in);
    // Without --strict, what decodes is converted, with a warning.
    const Converted tolerant = convert_noting(in, d / "out.mkv");
    EXPECT_EQ(tolerant.error, "") << f;
    EXPECT_NE(tolerant.warning, "") << f;
    expect_clean_decode(d / "out.mkv");
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

  // Damage in the last part: the file ends as it does when coded in one part (here the
  // demuxer stops at the damage; a part that fails has the file coded again in one part):
  // converted with the same frames and warning, or under --strict failed with the same reason.
  auto mkv = dir / "whole.mkv";
  make_media("-i '" + in.string() + "' -c copy", mkv);
  std::string bytes = mbtest::read_file(mkv);
  for (std::size_t i = bytes.size() * 8 / 10; i < bytes.size() * 8 / 10 + 20000; ++i)
    bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  mbtest::write_file(dir / "damaged.mkv", bytes);
  const Converted one_part = convert_noting(dir / "damaged.mkv", dir / "damaged1.mkv", {}, 1);
  const Converted two_parts = convert_noting(dir / "damaged.mkv", dir / "damaged2.mkv", {}, 2);
  EXPECT_EQ(one_part.error, "");
  EXPECT_NE(one_part.warning, "");
  EXPECT_EQ(two_parts.error, "");
  EXPECT_EQ(two_parts.warning, one_part.warning);
  const auto damaged1 = video_frames(dir / "damaged1.mkv"), damaged2 = video_frames(dir / "damaged2.mkv");
  ASSERT_EQ(damaged2.size(), damaged1.size());
  for (std::size_t i = 0; i < damaged1.size(); ++i) EXPECT_EQ(damaged2[i].first, damaged1[i].first) << "frame " << i;
  expect_clean_decode(dir / "damaged2.mkv");
  const std::string err1 = convert(dir / "damaged.mkv", dir / "strict1.mkv", {"--strict"}, 1);
  EXPECT_NE(err1, "");
  EXPECT_EQ(convert(dir / "damaged.mkv", dir / "strict2.mkv", {"--strict"}, 2), err1);
  EXPECT_FALSE(fs::exists(dir / "strict2.mkv"));
  // Packets the decoder cannot decode in the last part fail it: the file is coded again in one
  // part, the damage skipped there.
  bytes = mbtest::read_file(in);
  const auto [mdat, mdat_size] = mdat_of(bytes);
  for (std::size_t i = mdat + mdat_size * 8 / 10; i < mdat + mdat_size * 8 / 10 + 4096; ++i) bytes[i] = '\xff';
  mbtest::write_file(dir / "damaged.mp4", bytes);
  const Converted undecodable = convert_noting(dir / "damaged.mp4", dir / "undecodable2.mkv", {}, 2);
  EXPECT_EQ(undecodable.error, "");
  EXPECT_NE(undecodable.warning.find("damaged video packet"), std::string::npos) << undecodable.warning;
  ASSERT_EQ(convert(dir / "damaged.mp4", dir / "undecodable1.mkv", {}, 1), "");
  EXPECT_TRUE(part_starts(video_frames(dir / "undecodable2.mkv")).empty());
  EXPECT_EQ(video_frames(dir / "undecodable2.mkv"), video_frames(dir / "undecodable1.mkv"));

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

// A 4 s H.264/AAC clip, with its index first (-movflags +faststart) when `index_first`.
void make_clip(const fs::path& out, bool index_first = false) {
  make_media(kVideo + kTone + "-t 4 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2" +
                 (index_first ? " -movflags +faststart" : ""),
             out);
}

// The duration of what the ffmpeg CLI makes of `in` with Theora and Vorbis.
double cli_duration(const fs::path& in, const fs::path& dir) {
  auto out = dir / "cli_reference.mkv";
  auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "quiet", "-y", "-i", in.string(), "-c:v", "libtheora", "-c:a",
                        "libvorbis", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return duration_of(probe(out));
}

// The output's video and audio start within a frame and 50 ms of each other, and end so.
void expect_streams_together(const fs::path& out) {
  const Span v = span_of(out, "v:0"), a = span_of(out, "a:0");
  EXPECT_NEAR(v.start, a.start, 0.05) << out;
  EXPECT_NEAR(v.end, a.end, 0.05) << out;
}

TEST(Video, DamageInMdatIsConvertedWithAWarning) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto whole = dir / "whole.mp4";
  make_clip(whole);
  std::string bytes = mbtest::read_file(whole);
  const auto [mdat, size] = mdat_of(bytes);
  ASSERT_GT(size, 40000u);
  for (std::size_t i = mdat + size / 2; i < mdat + size / 2 + 4096; ++i) bytes[i] = '\xff';
  auto damaged = dir / "damaged.mp4";
  mbtest::write_file(damaged, bytes);

  auto out = dir / "damaged.mkv";
  const Converted c = convert_noting(damaged, out);
  ASSERT_EQ(c.error, "");
  // The warning names what the decoders did and where: "2 damaged video packets between
  // 1.880 s and 1.920 s skipped (Invalid data found when processing input); ...".
  EXPECT_NE(c.warning.find("damaged video packet"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find("damaged audio packet"), std::string::npos) << c.warning;
  EXPECT_NE(c.warning.find(" s skipped ("), std::string::npos) << c.warning;
  expect_converted(out, cli_duration(damaged, dir.path()), 1, 1);
  // The audio keeps its time line across the packets skipped: the streams stay in sync.
  expect_in_sync(out, whole);
  expect_streams_together(out);

  // --strict fails it on the first error, as before ("decoding audio frame 95: ...").
  auto err = convert(damaged, dir / "strict.mkv", {"--strict"});
  EXPECT_EQ(err.find("decoding "), 0u) << err;
  EXPECT_FALSE(fs::exists(dir / "strict.mkv"));

  // Through the command line: ok, the warning in the report, counted in the summary. (The
  // file gets both slots there, and a decoder on two threads reports an error while the next
  // packet is decoded: the times may differ.)
  auto report = dir / "report.jsonl";
  auto r = mbtest::mediabatch(
      {"video", damaged.string(), "-o", (dir / "cli").string(), "--report", report.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("1 ok, 0 failed, 0 skipped, 1 with warnings"), std::string::npos) << r.err;
  const json line = json::parse(mbtest::read_file(report));
  EXPECT_EQ(line["status"], "ok") << line.dump();
  EXPECT_NE(line.value("warning", "").find("damaged video packet"), std::string::npos) << line.dump();
}

TEST(Video, TruncatedClipIsConvertedAsFarAsItGoes) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto whole = dir / "whole.mp4";
  make_clip(whole, true);
  auto whole_mkv = dir / "whole.mkv";
  make_media("-i '" + whole.string() + "' -c copy", whole_mkv);
  for (const auto& f : {whole, whole_mkv}) {
    const std::string bytes = mbtest::read_file(f);
    TempDir d;
    auto cut = d / ("cut" + f.extension().string());
    mbtest::write_file(cut, bytes.substr(0, bytes.size() * 6 / 10));
    auto out = d / "cut_out.mkv";
    const Converted c = convert_noting(cut, out);
    ASSERT_EQ(c.error, "") << f;
    // "the input ends at 2.520 s of 4.000 s: the rest is missing (...)"
    EXPECT_NE(c.warning.find("the input ends at 2."), std::string::npos) << c.warning;
    EXPECT_NE(c.warning.find(" of 4.0"), std::string::npos) << c.warning;
    EXPECT_NE(c.warning.find("the rest is missing"), std::string::npos) << c.warning;
    expect_converted(out, cli_duration(cut, d.path()), 1, 1);
    // The audio, cut off before the video, is filled with silence to its end.
    expect_streams_together(out);

    auto err = convert(cut, d / "strict.mkv", {"--strict"});
    EXPECT_NE(err, "") << f;
    EXPECT_FALSE(fs::exists(d / "strict.mkv"));
    // What fails the mp4 is the demuxer's mark on the packet it read only part of.
    if (f == whole) {
      EXPECT_NE(err.find("reading the input: a corrupt packet at 2."), std::string::npos) << err;
    }
  }
}

TEST(Video, VorbisInMatroskaKeepsItsTimeLineAcrossAGap) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto whole = dir / "whole.mkv";
  make_media(kVideo + kTone + "-t 4 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a libvorbis", whole);
  // 40 audio packets (about 0.85 s) lost in the middle, as a damaged cluster would lose them.
  auto gap = dir / "gap.mkv";
  make_media("-i '" + whole.string() + "' -c copy -bsf:a \"noise=drop=between(n\\,60\\,99)\"", gap);
  ASSERT_LT(span_of(gap, "a:0").packets + 39, span_of(whole, "a:0").packets);
  auto out = dir / "out.mkv";
  ASSERT_EQ(convert(gap, out), "");
  expect_converted(out, duration_of(probe(whole)), 1, 1);
  // Nothing after the gap plays early: the audio ends where the input's does.
  expect_in_sync(out, gap);
  expect_streams_together(out);
}

// Chapters of an output: start and end in seconds, and title, one per line.
std::string chapters_of(const fs::path& file) {
  auto r = mbtest::run({"ffprobe", "-v", "error", "-show_entries", "chapter=start_time,end_time:chapter_tags=title",
                        "-of", "csv=p=0", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string out;
  for (const auto& line : lines_of(r.out)) {
    double start = 0, end = 0;
    char title[64] = {};
    if (std::sscanf(line.c_str(), "%lf,%lf,%63[^\n]", &start, &end, title) != 3) {
      ADD_FAILURE() << line;
      continue;
    }
    char text[128];
    std::snprintf(text, sizeof text, "%.3f-%.3f %s\n", start, end, title);
    out += text;
  }
  return out;
}

TEST(Video, ChaptersAndTagsAreKept) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto plain = dir / "plain.mp4";
  make_clip(plain);
  auto meta = dir / "chapters.ffmetadata";
  mbtest::write_file(meta,
                     ";FFMETADATA1\ntitle=Holiday\ncreation_time=2024-05-01T10:00:00.000000Z\n"
                     "location=+48.8577+002.2950/\n"
                     "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=Intro\n"
                     "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=Middle part\n"
                     "[CHAPTER]\nTIMEBASE=1/1000\nSTART=3000\nEND=4000\ntitle=End\n");
  auto in = dir / "chapters.mov";
  make_media("-i '" + plain.string() + "' -i '" + meta.string() + "' -map 0 -map_metadata 1 -map_chapters 1 -c copy",
             in);
  ASSERT_EQ(chapters_of(in), "0.000-1.500 Intro\n1.500-3.000 Middle part\n3.000-4.000 End\n");

  auto all = dir / "all.mkv";
  ASSERT_EQ(convert(in, all), "");
  EXPECT_EQ(chapters_of(all), "0.000-1.500 Intro\n1.500-3.000 Middle part\n3.000-4.000 End\n");
  auto tags = mbtest::run({"ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", all.string()});
  const json t = json::parse(tags.out)["format"]["tags"];
  EXPECT_EQ(t.value("title", ""), "Holiday") << t.dump();
  EXPECT_EQ(t.value("creation_time", ""), "2024-05-01T10:00:00.000000Z") << t.dump();
  EXPECT_EQ(t.value("LOCATION", t.value("location", "")), "+48.8577+002.2950/") << t.dump();

  // --start shifts them: one before it is dropped, one across it starts at 0.
  auto late = dir / "late.mkv";
  ASSERT_EQ(convert(in, late, {"--start", "2"}), "");
  EXPECT_EQ(chapters_of(late), "0.000-1.000 Middle part\n1.000-2.000 End\n");
  // --duration cuts them: one after the end is dropped, one across it ends there.
  auto middle = dir / "middle.mkv";
  ASSERT_EQ(convert(in, middle, {"--start", "1", "--duration", "1.5"}), "");
  EXPECT_EQ(chapters_of(middle), "0.000-0.500 Intro\n0.500-1.500 Middle part\n");

  // FFmpeg's Ogg muxer writes no chapters for Theora and Vorbis: the result says so.
  auto ogv = dir / "all.ogv";
  const Converted c = convert_noting(in, ogv, {"--format", "ogv"});
  ASSERT_EQ(c.error, "");
  EXPECT_NE(c.warning.find("chapters are not kept in Ogg"), std::string::npos) << c.warning;
  EXPECT_EQ(chapters_of(ogv), "");
}

// --- The picture: rotation, interlacing, HDR, colour tags ---

// A moving clip, `seconds` long, stored as `size`, with a red square in its top-left corner and
// blue ones in the others.
void make_corner_clip(const fs::path& out, const std::string& size, int seconds) {
  std::string corners = "drawbox=x=0:y=0:w=64:h=48:c=red:t=fill";
  for (const char* at : {"x=iw-64:y=0", "x=0:y=ih-48", "x=iw-64:y=ih-48"})
    corners += std::string(",drawbox=") + at + ":w=64:h=48:c=blue:t=fill";
  make_media("-f lavfi -i testsrc2=s=" + size + ":r=25," + corners + " -t " + std::to_string(seconds) +
                 " -c:v libx264 -preset veryfast -pix_fmt yuv420p",
             out);
}

// The same clip with a rotation in its display matrix, as phones write it.
void rotate_clip(const fs::path& in, int degrees, const fs::path& out) {
  make_media("-i '" + in.string() + "' -c copy -metadata:s:v:0 rotate=" + std::to_string(degrees), out);
}

json video_stream(const fs::path& file) {
  auto r = mbtest::run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width,height,r_frame_rate,field_order,color_range,color_space,color_transfer,"
                        "color_primaries",
                        "-of", "json", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  return j["streams"].empty() ? json::object() : j["streams"][0];
}

// The corners of frame `n` that are red (else they are the blue of the clip): "top-left",
// "top-right bottom-left", ...
std::string red_corners(const fs::path& file, int n = 0) {
  const json v = video_stream(file);
  const int w = v.value("width", 0), h = v.value("height", 0);
  auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-i", file.string(), "-vf",
                        "select=eq(n\\," + std::to_string(n) + "),format=rgb24", "-frames:v", "1", "-f", "rawvideo",
                        "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3) << file;
  if (r.out.size() != static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3) return "";
  // The mean red and blue of the 8x8 block at (x0, y0).
  const auto red_at = [&](int x0, int y0) {
    double red = 0, blue = 0;
    for (int y = y0; y < y0 + 8; ++y) {
      for (int x = x0; x < x0 + 8; ++x) {
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3;
        red += static_cast<unsigned char>(r.out[at]);
        blue += static_cast<unsigned char>(r.out[at + 2]);
      }
    }
    return red / 64 > 160 && blue / 64 < 96;
  };
  struct Corner {
    const char* name;
    int x, y;
  };
  std::string corners;
  for (const Corner& c : {Corner{"top-left", 0, 0}, Corner{"top-right", w - 8, 0}, Corner{"bottom-left", 0, h - 8},
                          Corner{"bottom-right", w - 8, h - 8}})
    if (red_at(c.x, c.y)) corners += (corners.empty() ? "" : " ") + std::string(c.name);
  return corners;
}

// The ffmpeg CLI's own Theora output of `in`, with `filters` when not empty.
fs::path cli_theora(const fs::path& in, const fs::path& out, const std::string& filters = "") {
  make_media("-i '" + in.string() + "' " + (filters.empty() ? "" : "-vf '" + filters + "' ") + "-c:v libtheora", out);
  return out;
}

TEST(Video, RotatedClipsAreTurnedUprightAsTheFfmpegCliDoes) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto stored = dir / "stored.mp4";
  make_corner_clip(stored, "320x180", 1);
  ASSERT_EQ(red_corners(stored), "top-left");
  for (const std::string ext : {"mp4", "mov"}) {
    for (int degrees : {90, 180, 270}) {
      const std::string name = "rot" + std::to_string(degrees) + "." + ext;
      SCOPED_TRACE(name);
      auto in = dir / name;
      rotate_clip(stored, degrees, in);
      auto out = dir / (name + ".mkv");
      ASSERT_EQ(convert(in, out), "");
      const fs::path cli = cli_theora(in, dir / (name + ".cli.mkv"));
      const json v = video_stream(out), c = video_stream(cli);
      EXPECT_EQ(v["width"], degrees == 180 ? 320 : 180);
      EXPECT_EQ(v["height"], degrees == 180 ? 180 : 320);
      EXPECT_EQ(v["width"], c["width"]);
      EXPECT_EQ(v["height"], c["height"]);
      const std::string corner = red_corners(out);
      EXPECT_EQ(corner, red_corners(cli));
      EXPECT_NE(corner, "top-left");  // turned
    }
  }
  // --no-autorotate keeps the picture as stored.
  auto kept = dir / "kept.mkv";
  ASSERT_EQ(convert(dir / "rot90.mp4", kept, {"--no-autorotate"}), "");
  EXPECT_EQ(video_stream(kept)["width"], 320);
  EXPECT_EQ(video_stream(kept)["height"], 180);
  EXPECT_EQ(red_corners(kept), "top-left");
}

// `in` with its track's matrix (tkhd) set to [a b; c d], for mirrored display matrices, which
// the ffmpeg CLI has no option to write.
void set_track_matrix(const fs::path& in, int a, int b, int c, int d, const fs::path& out) {
  std::string mp4 = mbtest::read_file(in);
  const std::size_t tkhd = mp4.find("tkhd");
  ASSERT_NE(tkhd, std::string::npos);
  // After the box's type, version (1: 64-bit times), flags, times, track, duration, layer,
  // group and volume.
  std::size_t at = tkhd + (mp4[tkhd + 4] == 1 ? 56 : 44);
  for (const int v : {a, b, 0, c, d}) {
    const auto fixed = static_cast<std::uint32_t>(v * 65536);  // 16.16; the third is u, 2.30, and 0
    for (int shift = 24; shift >= 0; shift -= 8) mp4[at++] = static_cast<char>((fixed >> shift) & 0xFF);
  }
  mbtest::write_file(out, mp4);
}

TEST(Video, MirroredClipsAreFlippedAsTheFfmpegCliDoes) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto stored = dir / "stored.mp4";
  make_corner_clip(stored, "320x180", 1);
  struct Case {
    const char* name;
    int a, b, c, d;
    const char* corner;
    int width;
  };
  for (const Case& m : {Case{"hflip", -1, 0, 0, 1, "top-right", 320}, Case{"vflip", 1, 0, 0, -1, "bottom-left", 320},
                        Case{"transpose", 0, 1, 1, 0, "top-left", 180},
                        Case{"antitranspose", 0, -1, -1, 0, "bottom-right", 180}}) {
    SCOPED_TRACE(m.name);
    auto in = dir / (std::string(m.name) + ".mp4");
    set_track_matrix(stored, m.a, m.b, m.c, m.d, in);
    auto out = dir / (std::string(m.name) + ".mkv");
    ASSERT_EQ(convert(in, out), "");
    EXPECT_EQ(video_stream(out)["width"], m.width);
    const std::string corner = red_corners(out);
    EXPECT_EQ(corner, m.corner);
    EXPECT_EQ(corner, red_corners(cli_theora(in, dir / (std::string(m.name) + ".cli.mkv"))));
  }
}

TEST(Video, MaxHeightAppliesToTheUprightPicture) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto stored = dir / "stored.mp4";
  make_corner_clip(stored, "640x360", 1);
  auto portrait = dir / "portrait.mov";
  rotate_clip(stored, 90, portrait);
  auto out = dir / "portrait.mkv";
  ASSERT_EQ(convert(portrait, out, {"--max-height", "320"}), "");
  const json v = video_stream(out);
  EXPECT_EQ(v["width"], 180);
  EXPECT_EQ(v["height"], 320);
  EXPECT_EQ(red_corners(out), red_corners(cli_theora(portrait, dir / "cli.mkv")));
}

TEST(Video, RotationIsTheSameInEveryPart) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto stored = dir / "stored.mp4";
  make_corner_clip(stored, "320x180", 13);
  auto in = dir / "long.mov";
  rotate_clip(stored, 270, in);
  auto one = dir / "one.mkv", two = dir / "two.mkv";
  ASSERT_EQ(convert(in, one, {}, 1), "");
  ASSERT_EQ(convert(in, two, {}, 2), "");
  const auto frames = video_frames(two);
  ASSERT_EQ(frames.size(), 325u);
  const auto starts = part_starts(frames);  // two threads: the second part was coded apart
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(video_stream(two)["width"], 180);
  EXPECT_EQ(video_stream(two)["height"], 320);
  const fs::path cli = cli_theora(in, dir / "cli.mkv");
  for (const int n : {10, static_cast<int>(starts[0]) + 2, 300}) {
    SCOPED_TRACE("frame " + std::to_string(n));
    const std::string corner = red_corners(two, n);
    EXPECT_EQ(corner, red_corners(cli, n));
    EXPECT_EQ(corner, red_corners(one, n));
  }
  expect_clean_decode(two);
}

// Decodes a video to 8-bit gray with the ffmpeg CLI: its frames' rows, one byte a pixel.
std::string gray_frames(const fs::path& file) {
  auto r = mbtest::run({"ffmpeg", "-nostdin", "-v", "error", "-i", file.string(), "-f", "rawvideo", "-pix_fmt", "gray",
                        "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

double mean_luma(const fs::path& file) {
  const std::string gray = gray_frames(file);
  double sum = 0;
  for (const char c : gray) sum += static_cast<unsigned char>(c);
  return gray.empty() ? 0 : sum / static_cast<double>(gray.size());
}

// Combing: the mean absolute difference between each even row and the odd row below it. Two
// fields from different moments woven into one frame differ there wherever something moves.
double combing(const fs::path& file, int width) {
  const std::string gray = gray_frames(file);
  const std::size_t w = static_cast<std::size_t>(width);
  double sum = 0;
  std::size_t count = 0;
  for (std::size_t row = 0; (row + 2) * w <= gray.size(); row += 2) {
    for (std::size_t x = 0; x < w; ++x) {
      sum += std::abs(static_cast<unsigned char>(gray[row * w + x]) - static_cast<unsigned char>(gray[(row + 1) * w + x]));
      ++count;
    }
  }
  return count ? sum / static_cast<double>(count) : 0;
}

TEST(Video, InterlacedInputIsDeinterlaced) {
  REQUIRE_FFMPEG();
  TempDir dir;
  // 50 fields a second from a moving pattern, woven top field first into 25 frames.
  auto in = dir / "fields.ts";
  make_media("-f lavfi -i testsrc2=s=720x576:r=50,scroll=h=0.02 -vf interlace=scan=tff -t 2 -c:v mpeg2video -b:v 8M "
             "-flags +ilme+ildct -top 1 -field_order tt",
             in);
  ASSERT_EQ(video_stream(in)["field_order"], "tt");
  auto out = dir / "fields.mkv";
  ASSERT_EQ(convert(in, out), "");
  const json v = video_stream(out);
  EXPECT_EQ(v["r_frame_rate"], "25/1");  // a frame per field pair
  EXPECT_EQ(span_of(out, "v:0").packets, 50);
  EXPECT_EQ(v["field_order"], "progressive");
  const double deinterlaced = combing(out, 720);
  EXPECT_LT(deinterlaced, 3) << "combed";
  expect_clean_decode(out);

  // --deinterlace off: the frames as they are, combed, and the field order written down.
  auto off = dir / "off.mkv";
  ASSERT_EQ(convert(in, off, {"--deinterlace", "off"}), "");
  EXPECT_EQ(video_stream(off)["field_order"], "tt");
  EXPECT_GT(combing(off, 720), 8);
}

TEST(Video, HdrIsToneMappedToBt709) {
  REQUIRE_FFMPEG();
  TempDir dir;
  const std::string chain =
      "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,"
      "format=yuv420p";
  for (const auto& [name, transfer] : {std::pair{"hlg.mp4", "arib-std-b67"}, std::pair{"pq.mkv", "smpte2084"}}) {
    SCOPED_TRACE(name);
    auto in = dir / name;
    make_media("-f lavfi -i testsrc2=s=320x180:r=25 -t 1 -pix_fmt yuv420p10le -c:v libx265 -x265-params log-level=error "
               "-color_trc " + std::string(transfer) + " -color_primaries bt2020 -colorspace bt2020nc",
               in);
    ASSERT_EQ(video_stream(in)["color_transfer"], transfer);
    auto out = dir / (std::string(name) + ".mkv");
    ASSERT_EQ(convert(in, out), "");
    const json v = video_stream(out);
    EXPECT_EQ(v["color_transfer"], "bt709");
    EXPECT_EQ(v["color_primaries"], "bt709");
    EXPECT_EQ(v["color_space"], "bt709");
    EXPECT_EQ(v["color_range"], "tv");
    const double reference = mean_luma(cli_theora(in, dir / (std::string(name) + ".cli.mkv"), chain));
    EXPECT_NEAR(mean_luma(out), reference, reference * 0.03);

    // --tonemap off: the HDR samples as they are, tagged as they were.
    auto off = dir / (std::string(name) + ".off.mkv");
    ASSERT_EQ(convert(in, off, {"--tonemap", "off"}), "");
    EXPECT_EQ(video_stream(off)["color_transfer"], transfer);
    EXPECT_EQ(video_stream(off)["color_primaries"], "bt2020");
    EXPECT_GT(std::abs(mean_luma(off) - reference), reference * 0.2);
  }
}

TEST(Video, ColourTagsSayWhatTheSamplesAre) {
  REQUIRE_FFMPEG();
  TempDir dir;
  // BT.709 tags are kept.
  auto tagged = dir / "tagged.mp4";
  make_media(kVideo + "-t 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p -color_primaries bt709 -color_trc bt709 "
                      "-colorspace bt709 -color_range tv",
             tagged);
  ASSERT_EQ(convert(tagged, dir / "tagged.mkv"), "");
  const json v = video_stream(dir / "tagged.mkv");
  EXPECT_EQ(v["color_primaries"], "bt709");
  EXPECT_EQ(v["color_transfer"], "bt709");
  EXPECT_EQ(v["color_space"], "bt709");
  EXPECT_EQ(v["color_range"], "tv");
  // Full range (yuvj420p) is converted to limited range, and tagged so: light grey decodes as
  // the light grey of the input and of the ffmpeg CLI's output.
  auto full = dir / "full.mp4";
  make_media("-f lavfi -i color=c=0xEBEBEB:s=320x180:r=25 -t 1 -c:v libx264 -preset veryfast -pix_fmt yuvj420p", full);
  ASSERT_EQ(video_stream(full)["color_range"], "pc");
  ASSERT_EQ(convert(full, dir / "full.mkv"), "");
  EXPECT_EQ(video_stream(dir / "full.mkv")["color_range"], "tv");
  EXPECT_NEAR(mean_luma(dir / "full.mkv"), mean_luma(full), 1.0);
  EXPECT_NEAR(mean_luma(dir / "full.mkv"), mean_luma(cli_theora(full, dir / "cli.mkv")), 1.0);
}

TEST(Video, PictureOptionsAreChecked) {
  EXPECT_ANY_THROW(video({"--deinterlace", "yes"}));
  EXPECT_ANY_THROW(video({"--tonemap", "on"}));
  EXPECT_NO_THROW(video({"--no-autorotate", "--deinterlace", "on", "--tonemap", "off"}));
  EXPECT_NO_THROW(video({"--deinterlace", "auto", "--tonemap", "auto"}));
}

// --verify. The batches run the real program; the report says per file what it found.

// Three small clips of different kinds for a batch: H.264 + AAC, VP8 + Vorbis at 44.1 kHz, and
// audio only. Returns their paths.
std::vector<fs::path> make_verify_batch(const TempDir& dir) {
  std::vector<fs::path> inputs{dir / "victim.mp4", dir / "webm.webm", dir / "tone.mp4"};
  make_media(kVideo + kTone + "-t 2 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -ac 2", inputs[0]);
  make_media("-f lavfi -i testsrc=s=240x136:r=30 -f lavfi -i sine=frequency=600:sample_rate=44100 -t 2 "
             "-c:v libvpx -deadline realtime -c:a libvorbis",
             inputs[1]);
  make_media(kTone + "-t 2 -c:a aac", inputs[2]);
  return inputs;
}

// Runs `mediabatch video --verify` on the inputs into out_dir; returns the run and the report's
// lines by input file name.
std::pair<mbtest::Run, std::map<std::string, json>> verify_batch(const std::vector<fs::path>& inputs,
                                                                 const fs::path& out_dir,
                                                                 const std::vector<std::string>& options = {}) {
  const fs::path report = out_dir.parent_path() / (out_dir.filename().string() + ".jsonl");
  std::vector<std::string> args{"video", "--verify", "--report", report.string(), "-o", out_dir.string()};
  args.insert(args.end(), options.begin(), options.end());
  for (const auto& in : inputs) args.push_back(in.string());
  std::pair<mbtest::Run, std::map<std::string, json>> result{mbtest::mediabatch(args), {}};
  for (const auto& line : lines_of(mbtest::read_file(report))) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    result.second[fs::path(j["input"].get<std::string>()).filename().string()] = j;
  }
  return result;
}

// Temporary files (".NAME.mbtmp...") left in a folder.
std::vector<std::string> temporaries_in(const fs::path& dir) {
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.' || name.find("mbtmp") != std::string::npos) left.push_back(name);
  }
  return left;
}

// Sets an environment variable for the programs a test runs, until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

TEST(Video, VerifyCleanBatchIsVerified) {
  REQUIRE_FFMPEG();
  TempDir dir;
  const auto inputs = make_verify_batch(dir);
  for (const std::string format : {"mkv", "ogv"}) {
    SCOPED_TRACE(format);
    const fs::path out = dir / ("out-" + format);
    const auto [run, report] = verify_batch(inputs, out, {"--format", format});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.err.find("3 ok, 0 failed, 0 skipped, 3 verified"), std::string::npos) << run.err;
    ASSERT_EQ(report.size(), 3u) << run.out;
    for (const auto& [name, line] : report) {
      EXPECT_EQ(line["status"], "ok") << line.dump();
      EXPECT_EQ(line.value("verified", false), true) << line.dump();
      EXPECT_TRUE(fs::exists(line["output"].get<std::string>())) << line.dump();
    }
    EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
  }
  // The outputs are what they would be without --verify.
  auto r = mbtest::mediabatch({"video", "-o", (dir / "plain").string(), inputs[0].string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(content_md5(dir / "plain" / "victim.mkv"), content_md5(dir / "out-mkv" / "victim.mkv"));
}

// The engine's test hook damages victim's output after it is written and before its check.
// Matroska: FFmpeg's Theora decoder only logs the damage a flip does to a frame's coefficients
// (and keeps the frame), so a flip in a cluster is found by the cluster's CRC-32, which the
// check verifies as FFmpeg's demuxer does not. Ogg: FFmpeg's demuxer checks each page's CRC and
// drops a damaged page, so the frames in it go missing: for this clip the middle of the file
// is a page of video. A file cut to 60% has lost frames in either.
TEST(Video, VerifyFailsADamagedOutputAndKeepsTheRest) {
  REQUIRE_FFMPEG();
  TempDir dir;
  const auto inputs = make_verify_batch(dir);
  const std::regex lost_frames("verify: output has [0-9]+ video frames, 50 were encoded");
  struct Case {
    std::string format, damage;
    std::regex reason;
  };
  const std::vector<Case> cases{
      {"mkv", "flip", std::regex("verify: the output is damaged: the Cluster at byte [0-9]+ fails its CRC-32 check")},
      {"mkv", "truncate", lost_frames},
      {"ogv", "flip", lost_frames},
      {"ogv", "truncate", lost_frames},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.format + " " + c.damage);
    const fs::path out = dir / ("out-" + c.format + "-" + c.damage);
    std::pair<mbtest::Run, std::map<std::string, json>> batch;
    {
      ScopedEnv damage("MEDIABATCH_TEST_CORRUPT_OUTPUT", "victim:" + c.damage);
      batch = verify_batch(inputs, out, {"--format", c.format});
    }
    const auto& [run, report] = batch;
    EXPECT_NE(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.err.find("2 ok, 1 failed, 0 skipped, 2 verified"), std::string::npos) << run.err;
    ASSERT_EQ(report.count("victim.mp4"), 1u) << run.out;
    const json& victim = report.at("victim.mp4");
    EXPECT_EQ(victim["status"], "failed") << victim.dump();
    const std::string error = victim["error"].get<std::string>();
    EXPECT_EQ(error.rfind("verify: ", 0), 0u) << error;
    EXPECT_TRUE(std::regex_match(error, c.reason)) << error;
    EXPECT_FALSE(fs::exists(out / ("victim." + c.format)));
    EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
    for (const char* name : {"webm.webm", "tone.mp4"}) {
      ASSERT_EQ(report.count(name), 1u) << name;
      EXPECT_EQ(report.at(name)["status"], "ok") << report.at(name).dump();
      EXPECT_EQ(report.at(name).value("verified", false), true) << report.at(name).dump();
    }
    EXPECT_TRUE(fs::exists(out / ("webm." + c.format)));
    EXPECT_TRUE(fs::exists(out / ("tone." + c.format)));
  }
}

TEST(Video, VerifyPassesOnThePartsPath) {
  REQUIRE_FFMPEG();
  TempDir dir;
  auto in = dir / "long.mp4";
  make_media("-f lavfi -i testsrc2=s=320x180:r=25,noise=alls=6:allf=t " + kTone +
                 "-t 13 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac",
             in);
  mbtest::JobOptions two_threads;
  two_threads.threads = 2;
  two_threads.verify = true;
  // Two threads: the second part is coded at once from a reading of its own, then joined on.
  mediabatch::Result r = video().encode(in, dir / "two.mkv", two_threads);
  EXPECT_EQ(r.status, mediabatch::Status::ok);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(part_starts(video_frames(dir / "two.mkv")).size(), 1u);
  // With --start and --duration, and in Ogg (one part) as well.
  r = video({"--start", "0.5", "--duration", "12"}).encode(in, dir / "cut.mkv", two_threads);
  EXPECT_TRUE(r.verified);
  EXPECT_EQ(part_starts(video_frames(dir / "cut.mkv")).size(), 1u);
  r = video({"--format", "ogv"}).encode(in, dir / "two.ogv", two_threads);
  EXPECT_TRUE(r.verified);

  // Parts that fail (undecodable packets in the last one) have the file coded again in one
  // part: the check made is of that output.
  std::string bytes = mbtest::read_file(in);
  const auto [mdat, mdat_size] = mdat_of(bytes);
  for (std::size_t i = mdat + mdat_size * 8 / 10; i < mdat + mdat_size * 8 / 10 + 4096; ++i) bytes[i] = '\xff';
  mbtest::write_file(dir / "damaged.mp4", bytes);
  r = video().encode(dir / "damaged.mp4", dir / "again.mkv", two_threads);
  EXPECT_TRUE(r.verified);
  EXPECT_NE(r.warning.find("damaged video packet"), std::string::npos) << r.warning;
  EXPECT_TRUE(part_starts(video_frames(dir / "again.mkv")).empty());
  EXPECT_EQ(temporaries_in(dir.path()), std::vector<std::string>{});
}

}  // namespace
