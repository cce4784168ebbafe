// Tests of `mediabatch flac`: WAV variants generated with ffmpeg at test time, encoded, then
// checked with the flac CLI (flac -t, flac -d), metaflac and libFLAC as independent readers.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <FLAC++/metadata.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include "flac/flac_md5.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/inputs.hpp"
#include "support/encoder_harness.hpp"
#include "support/test_support.hpp"

namespace mediabatch {
std::unique_ptr<Encoder> make_flac_encoder();
}

namespace {

namespace fs = std::filesystem;
using mbtest::TempDir;

// ffmpeg makes the inputs; flac and metaflac read the outputs back.
#define REQUIRE_FLAC_TOOLS() \
  REQUIRE_TOOL("ffmpeg");    \
  REQUIRE_TOOL("flac");      \
  REQUIRE_TOOL("metaflac")

// Runs a shell line that makes test media; fails the test if it fails.
void gen(const std::string& cmd) {
  auto r = mbtest::sh(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
}

std::string ffmpeg_wav(const fs::path& out, const std::string& source, const std::string& codec,
                       const std::string& extra = "") {
  return "ffmpeg -v error -y " + source + " " + extra + " -c:a " + codec + " '" + out.string() + "'";
}

// Pink noise and a tone, as in BENCHMARKS.md; `filter` is appended to the mix (",aformat=...").
std::string noise(const std::string& filter = "") {
  return "-f lavfi -i 'anoisesrc=color=pink:amplitude=0.3:seed=7:sample_rate=44100' -f lavfi -i "
         "'sine=frequency=237:sample_rate=44100' -filter_complex '[0][1]amix=inputs=2" + filter + "' ";
}
const std::string kNoise = noise();

// The bytes of a WAV file's data chunk, found by our own small chunk walk (not the encoder's).
std::string wav_data(const fs::path& p) {
  std::string b = mbtest::read_file(p);
  std::size_t at = 12;
  const bool rf64 = b.compare(0, 4, "RF64") == 0;
  std::uint64_t ds64 = 0;
  while (at + 8 <= b.size()) {
    std::uint32_t size;
    std::memcpy(&size, &b[at + 4], 4);
    if (b.compare(at, 4, "ds64") == 0) std::memcpy(&ds64, &b[at + 16], 8);
    if (b.compare(at, 4, "data") == 0) {
      std::uint64_t n = rf64 && size == 0xFFFFFFFFu ? ds64 : size;
      return b.substr(at + 8, n);
    }
    at += 8 + size + (size & 1);
  }
  ADD_FAILURE() << "no data chunk in " << p;
  return {};
}

// Decodes with the flac CLI to WAV and returns the PCM bytes.
std::string decode_pcm(const fs::path& flac_file) {
  fs::path wav = flac_file;
  wav += ".decoded.wav";
  auto r = mbtest::run({"flac", "-d", "-s", "-f", "-o", wav.string(), flac_file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return wav_data(wav);
}

bool flac_test_passes(const fs::path& f) {
  auto r = mbtest::run({"flac", "-t", "-s", f.string()});
  if (r.exit_code != 0) ADD_FAILURE() << "flac -t " << f << ": " << r.err;
  return r.exit_code == 0;
}

std::string exported_tags(const fs::path& f) {
  auto r = mbtest::run({"metaflac", "--export-tags-to=-", f.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::map<std::string, std::string> tag_map(const fs::path& f) {
  std::map<std::string, std::string> m;
  std::istringstream in(exported_tags(f));
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}

FLAC::Metadata::StreamInfo stream_info(const fs::path& f) {
  FLAC::Metadata::StreamInfo si;
  EXPECT_TRUE(FLAC::Metadata::get_streaminfo(f.c_str(), si)) << f;
  return si;
}

// The flac command with these options (and positional inputs), run through the engine.
mbtest::EncoderHarness flac_harness(const std::vector<std::string>& args = {}) {
  return mbtest::EncoderHarness(mediabatch::make_flac_encoder(), args);
}

mbtest::JobOptions with_threads(int threads) {
  mbtest::JobOptions o;
  o.threads = threads;
  return o;
}

// --verify: the encoder's checks run before the renames.
mbtest::JobOptions verifying(int threads = 1) {
  mbtest::JobOptions o = with_threads(threads);
  o.verify = true;
  return o;
}

// Every file a job wrote: its output, then the others (the tracks of a split image).
std::vector<fs::path> outputs_of(const mediabatch::Result& r) {
  std::vector<fs::path> out;
  if (!r.output.empty()) out.emplace_back(r.output);
  out.insert(out.end(), r.more_outputs.begin(), r.more_outputs.end());
  return out;
}

fs::path encode_one(const fs::path& wav, const fs::path& out_dir, std::vector<std::string> args = {},
                    const mbtest::JobOptions& options = {}) {
  args.push_back(wav.string());
  auto h = flac_harness(args);
  const mediabatch::Result r = h.encode_into(wav, out_dir, options);
  EXPECT_EQ(r.verified, options.verify);
  const auto outs = outputs_of(r);
  EXPECT_EQ(outs.size(), 1u);
  return outs.empty() ? fs::path() : outs.front();
}

std::string error_of(const fs::path& wav, const fs::path& out_dir) {
  try {
    encode_one(wav, out_dir);
  } catch (const mediabatch::Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct Variant {
  const char* name;
  std::string codec;
  std::string extra;  // ffmpeg output options
  unsigned bits, channels, rate;
};

// The MD5 that --verify holds STREAMINFO's and the decoded audio's against: RFC 1321's test
// suite, each string fed whole and in pieces of 1 to 70 bytes (across the 64-byte blocks),
// and a long input against md5sum.
TEST(FlacMd5, MatchesRfc1321AndMd5sum) {
  const std::pair<std::string, std::string> suite[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"}};
  for (const auto& [text, digest] : suite) {
    for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{63}, std::size_t{70}}) {
      mediabatch::flac::Md5 md5;
      if (piece == 0) {
        md5.update(text.data(), text.size());
      } else {
        for (std::size_t at = 0; at < text.size(); at += piece)
          md5.update(text.data() + at, std::min(piece, text.size() - at));
      }
      EXPECT_EQ(mediabatch::flac::hex(md5.finish()), digest) << "'" << text << "' in pieces of " << piece;
    }
  }
  TempDir dir;
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  const auto file = dir.path() / "data.bin";
  mbtest::write_file(file, data);
  mediabatch::flac::Md5 md5;
  md5.update(data.data(), data.size());
  REQUIRE_TOOL("md5sum");
  const mbtest::Run sum = mbtest::run({"md5sum", file.string()});
  ASSERT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(mediabatch::flac::hex(md5.finish()), sum.out.substr(0, 32));
}

TEST(FlacEncoder, WavVariantsRoundTripExactlyAndMatchTheFlacCli) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const std::vector<Variant> variants = {
      {"s16_stereo", "pcm_s16le", ",aformat=channel_layouts=stereo", 16, 2, 44100},
      {"s24_stereo_96k", "pcm_s24le", ",aformat=channel_layouts=stereo,aresample=96000", 24, 2, 96000},
      {"s32_stereo", "pcm_s32le", ",aformat=channel_layouts=stereo,aresample=48000", 32, 2, 48000},
      {"u8_mono", "pcm_u8", ",aresample=22050", 8, 1, 22050},
      {"s16_5.1", "pcm_s16le", ",aformat=channel_layouts=5.1", 16, 6, 44100},
      {"s24_7.1", "pcm_s24le", ",aformat=channel_layouts=7.1", 24, 8, 44100},
      {"s16_quad", "pcm_s16le", ",aformat=channel_layouts=quad", 16, 4, 44100},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    const fs::path wav = dir / (std::string(v.name) + ".wav");
    gen(ffmpeg_wav(wav, noise(v.extra), v.codec, "-t 1.5"));
    const fs::path out = encode_one(wav, dir / "out");
    ASSERT_TRUE(fs::exists(out));
    EXPECT_TRUE(flac_test_passes(out));
    const auto si = stream_info(out);
    EXPECT_EQ(si.get_bits_per_sample(), v.bits);
    EXPECT_EQ(si.get_channels(), v.channels);
    EXPECT_EQ(si.get_sample_rate(), v.rate);
    const std::string pcm = wav_data(wav);
    EXPECT_EQ(si.get_total_samples(), pcm.size() / (v.bits / 8 * v.channels));
    EXPECT_TRUE(decode_pcm(out) == pcm) << "decoded PCM differs from the WAV's";
    // The same tags as the flac CLI writes (the WAVE_FORMAT_EXTENSIBLE channel mask, if any).
    const fs::path ref = dir / (std::string(v.name) + ".ref.flac");
    auto r = mbtest::run({"flac", "-s", "-f", "--best", "-o", ref.string(), wav.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(exported_tags(out), exported_tags(ref));
  }
}

TEST(FlacEncoder, SizeIsWithinHalfAPercentOfFlacBest) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path wav = dir / "track01.cdda.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-ac 2 -t 10"));
  const fs::path out = encode_one(wav, dir / "out");
  EXPECT_EQ(out.filename(), "track01.flac");
  const fs::path ref = dir / "ref.flac";
  auto r = mbtest::run({"flac", "-s", "-f", "--best", "-o", ref.string(), wav.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double ours = static_cast<double>(fs::file_size(out)), theirs = static_cast<double>(fs::file_size(ref));
  EXPECT_LT(std::abs(ours - theirs) / theirs, 0.005) << ours << " vs " << theirs;
  // Same STREAMINFO MD5 as the reference encoder: the MD5 of the same PCM.
  EXPECT_EQ(std::memcmp(stream_info(out).get_md5sum(), stream_info(ref).get_md5sum(), 16), 0);
}

TEST(FlacEncoder, LevelOptionAndVerify) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path wav = dir / "a.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-ac 2 -t 4"));
  const fs::path fast = encode_one(wav, dir / "l0", {"--level", "0"}, verifying());
  const fs::path best = encode_one(wav, dir / "l8", {}, verifying());
  EXPECT_TRUE(flac_test_passes(fast));
  EXPECT_TRUE(decode_pcm(fast) == wav_data(wav));
  EXPECT_GT(fs::file_size(fast), fs::file_size(best) * 101 / 100);
  EXPECT_THROW(flac_harness({"--level", "9", wav.string()}), CLI::ValidationError);
  // --verify is every command's (the engine's checks), not an option of flac's own: two of
  // them made CLI11 abort every `mediabatch flac` at start-up.
  EXPECT_THROW(flac_harness({"--verify", wav.string()}), CLI::ParseError);
}

TEST(FlacEncoder, FloatAndCompressedWavFailWithAReason) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path f32 = dir / "float.wav";
  gen(ffmpeg_wav(f32, kNoise, "pcm_f32le", "-t 0.5"));
  EXPECT_NE(error_of(f32, dir / "out").find("float"), std::string::npos) << error_of(f32, dir / "out");
  const fs::path alaw = dir / "alaw.wav";
  gen(ffmpeg_wav(alaw, kNoise, "pcm_alaw", "-t 0.5"));
  EXPECT_NE(error_of(alaw, dir / "out").find("A-law"), std::string::npos) << error_of(alaw, dir / "out");
  // Nothing is left behind in the output folder by a failed file.
  for (const auto& e : fs::directory_iterator(dir / "out")) ADD_FAILURE() << "left behind: " << e.path();
}

// An interrupted rip: encoded as far as it goes with the byte counts in a warning, as the flac
// CLI does; --strict fails it.
TEST(FlacEncoder, AWavCutShortIsEncodedAsFarAsItGoesOrFailsWithStrict) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path wav = dir / "cut.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-ac 2 -t 1"));
  fs::resize_file(wav, fs::file_size(wav) - 1000);
  const std::string pcm = wav_data(wav);
  const std::string said =
      "truncated WAV data: expected " + std::to_string(pcm.size() + 1000) + " bytes, found " + std::to_string(pcm.size());
  auto h = flac_harness({wav.string()});
  const mediabatch::Result r = h.encode_into(wav, dir / "out");
  EXPECT_EQ(r.status, mediabatch::Status::ok);
  EXPECT_NE(r.warning.find(said), std::string::npos) << r.warning;
  const fs::path out = dir / "out/cut.flac";
  EXPECT_TRUE(flac_test_passes(out));
  EXPECT_EQ(stream_info(out).get_total_samples(), pcm.size() / 4);
  EXPECT_TRUE(decode_pcm(out) == pcm.substr(0, pcm.size() / 4 * 4)) << "decoded PCM differs from what the WAV holds";

  auto strict = flac_harness({"--strict", wav.string()});
  try {
    strict.encode_into(wav, dir / "strict");
    ADD_FAILURE() << "--strict encoded a WAV cut short";
  } catch (const mediabatch::Error& e) {
    EXPECT_NE(std::string(e.what()).find(said), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "strict/cut.flac"));
}

std::string le32(std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string le16(std::uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }

TEST(FlacEncoder, OddSizedAndExtraChunksAndRf64) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  // By hand: an odd-sized LIST chunk and its pad byte, a fact chunk, then 8-bit mono data of
  // an odd length (with its pad byte) and a chunk after the data.
  std::string data;
  for (int i = 0; i < 4001; ++i) data += static_cast<char>((i * 37) & 0xFF);
  std::string fmt = le16(1) + le16(1) + le32(8000) + le32(8000) + le16(1) + le16(8);
  std::string body = "WAVE";
  body += "fmt " + le32(16) + fmt;
  body += "LIST" + le32(5) + "abcde" + std::string(1, '\0');
  body += "fact" + le32(4) + le32(4001);
  body += "data" + le32(4001) + data + std::string(1, '\0');
  body += "junk" + le32(3) + "xyz" + std::string(1, '\0');
  const fs::path odd = dir / "odd.wav";
  mbtest::write_file(odd, "RIFF" + le32(static_cast<std::uint32_t>(body.size())) + body);
  const fs::path out = encode_one(odd, dir / "out");
  EXPECT_TRUE(flac_test_passes(out));
  EXPECT_TRUE(decode_pcm(out) == data);

  const fs::path rf64 = dir / "big.wav";
  gen(ffmpeg_wav(rf64, kNoise, "pcm_s24le", "-ac 2 -t 1 -rf64 always"));
  ASSERT_EQ(mbtest::read_file(rf64).substr(0, 4), "RF64");
  const fs::path out64 = encode_one(rf64, dir / "out");
  EXPECT_TRUE(flac_test_passes(out64));
  EXPECT_TRUE(decode_pcm(out64) == wav_data(rf64));
}

TEST(FlacEncoder, AcceptsByContentAndNamesOutputs) {
  auto enc = mediabatch::make_flac_encoder();
  EXPECT_TRUE(enc->accepts({"x.bin", std::string_view("RIFF\x24\0\0\0WAVEfmt ", 16)}));
  EXPECT_TRUE(enc->accepts({"x.wav", std::string_view("RF64\xff\xff\xff\xffWAVEds64", 16)}));
  EXPECT_FALSE(enc->accepts({"x.wav", std::string_view("RIFF\x24\0\0\0AVI LIST", 16)}));
  EXPECT_FALSE(enc->accepts({"x.flac", "fLaC\0\0\0\x22"}));
  EXPECT_FALSE(enc->accepts({"notes.txt", "FILE \"a.wav\" WAVE\nTRACK 01 AUDIO\n"}));
  EXPECT_TRUE(enc->accepts({"disc.cue", "REM GENRE Rock\nFILE \"a.wav\" WAVE\n  TRACK 01 AUDIO\n"}));
  EXPECT_EQ(enc->output_name("/a/track07.cdda.wav"), "track07.flac");
  EXPECT_EQ(enc->output_name("/a/Song.wav"), "Song.flac");
}

TEST(FlacEncoder, StopsWhenCancelled) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path wav = dir / "a.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-t 1"));
  auto h = flac_harness({wav.string()});
  const std::atomic<bool> stop{true};
  mbtest::JobOptions o;
  o.stop = &stop;
  EXPECT_THROW(h.encode_into(wav, dir / "out", o), mediabatch::Cancelled);
  for (const auto& e : fs::directory_iterator(dir / "out")) ADD_FAILURE() << "left behind: " << e.path();
}

// Tracks 1 to n named as cdparanoia names them (track01.cdda.wav).
std::vector<fs::path> track_wavs(const TempDir& dir, int n) {
  std::vector<fs::path> wavs;
  for (int i = 1; i <= n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "track%02d.cdda.wav", i);
    wavs.push_back(dir / name);
  }
  return wavs;
}

// Short CD tracks, each `quieter_db` quieter than the one before.
std::vector<fs::path> make_tracks(const TempDir& dir, int n, double seconds = 1.0, double quieter_db = 0) {
  const std::vector<fs::path> wavs = track_wavs(dir, n);
  for (int i = 1; i <= n; ++i)
    gen("ffmpeg -v error -y -f lavfi -i 'sine=frequency=" + std::to_string(200 * i) +
        ":sample_rate=44100' -ac 2 -t " + std::to_string(seconds) + " -af volume=-" +
        std::to_string(quieter_db * (i - 1)) + "dB -c:a pcm_s16le '" + wavs[i - 1].string() + "'");
  return wavs;
}

TEST(FlacEncoder, AlbumJsonAndTagOptionsGiveExactlyTheTags) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  make_tracks(dir, 2);
  mbtest::write_file(dir / "album.json", R"({
  "artist": "The Band", "title": "Débuts", "year": 1997, "genre": "Rock",
  "albumartist": "The Band & Friends", "disc": 1, "discs": 2,
  "tracks": ["Opening", {"title": "Second Song", "artist": "Guest Singer"}]
})");
  const std::vector<std::string> args = {"--album", (dir / "album.json").string(), "--tag", "COMMENT=ripped",
                                         "--tag", "genre=Art Rock", (dir / "track01.cdda.wav").string(),
                                         (dir / "track02.cdda.wav").string()};
  auto h = flac_harness(args);
  h.plan({dir / "track01.cdda.wav", dir / "track02.cdda.wav"}, dir / "out");
  const fs::path one = h.encode_into(dir / "track01.cdda.wav", dir / "out").output;
  const fs::path two = h.encode_into(dir / "track02.cdda.wav", dir / "out").output;
  EXPECT_EQ(exported_tags(one),
            "TITLE=Opening\nARTIST=The Band\nALBUM=Débuts\nALBUMARTIST=The Band & Friends\nDATE=1997\n"
            "TRACKNUMBER=1\nTRACKTOTAL=2\nDISCNUMBER=1\nDISCTOTAL=2\nCOMMENT=ripped\nGENRE=Art Rock\n");
  // Read back with libFLAC as well.
  FLAC::Metadata::VorbisComment* vc = nullptr;
  ASSERT_TRUE(FLAC::Metadata::get_tags(two.c_str(), vc));
  std::vector<std::string> tags;
  for (unsigned i = 0; i < vc->get_num_comments(); ++i)
    tags.emplace_back(vc->get_comment(i).get_field(), vc->get_comment(i).get_field_length());
  delete vc;
  EXPECT_NE(std::find(tags.begin(), tags.end(), "TITLE=Second Song"), tags.end());
  EXPECT_NE(std::find(tags.begin(), tags.end(), "ARTIST=Guest Singer"), tags.end());
  EXPECT_NE(std::find(tags.begin(), tags.end(), "TRACKNUMBER=2"), tags.end());
  EXPECT_TRUE(decode_pcm(two) == wav_data(dir / "track02.cdda.wav"));
}

TEST(FlacEncoder, AlbumErrorsAreUsageErrorsNamingLineColumnOrTrack) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  make_tracks(dir, 3, 0.2);
  mbtest::write_file(dir / "bad.json", "{\n  \"artist\": \"A\",\n  \"tracks\": [\"x\" \"y\"]\n}\n");
  try {
    flac_harness({"--album", (dir / "bad.json").string(), (dir / "track01.cdda.wav").string()});
    ADD_FAILURE() << "invalid JSON accepted";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3, column 20"), std::string::npos) << e.what();
  }
  mbtest::write_file(dir / "two.json", R"({"artist": "A", "title": "T", "tracks": ["one", "two"]})");
  // The batch is checked when it is planned, before any file is encoded.
  auto h = flac_harness({"--album", (dir / "two.json").string()});
  try {
    h.plan({dir / "track01.cdda.wav", dir / "track03.cdda.wav"}, dir / "out");
    ADD_FAILURE() << "track 3 without an entry accepted";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("two.json has no entry for track 3 (track03.cdda.wav)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(flac_harness({"--tag", "=x", (dir / "track01.cdda.wav").string()}), mediabatch::UsageError);
  EXPECT_THROW(flac_harness({"--tag", "NOVALUE", (dir / "track01.cdda.wav").string()}), mediabatch::UsageError);
}

const char* kCue = R"(REM GENRE "Jazz"
REM DATE 2001
PERFORMER "Cue Artist"
TITLE "Cue Album"
FILE "disc.wav" WAVE
  TRACK 01 AUDIO
    TITLE "First"
    INDEX 01 00:00:00
  TRACK 02 AUDIO
    TITLE "Second"
    PERFORMER "Other Artist"
    INDEX 00 00:01:60
    INDEX 01 00:02:13
  TRACK 03 AUDIO
    TITLE "Third"
    INDEX 01 00:04:50
)";

void check_split(const TempDir& dir, const std::vector<fs::path>& outs) {
  ASSERT_EQ(outs.size(), 3u);
  std::vector<std::string> names;
  for (const auto& o : outs) names.push_back(o.filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"track01.flac", "track02.flac", "track03.flac"}));
  const fs::path out = outs.front().parent_path();
  std::string joined;
  const std::uint64_t starts[] = {0, (2 * 75 + 13) * 588ull, (4 * 75 + 50) * 588ull};
  for (int i = 0; i < 3; ++i) {
    const fs::path t = out / names[i];
    EXPECT_TRUE(flac_test_passes(t));
    const std::string pcm = decode_pcm(t);
    if (i < 2) {
      EXPECT_EQ(pcm.size(), (starts[i + 1] - starts[i]) * 4) << names[i];
    }
    joined += pcm;
  }
  EXPECT_TRUE(joined == wav_data(dir / "disc.wav")) << "tracks joined differ from the image";
  EXPECT_EQ(exported_tags(out / "track02.flac"),
            "TITLE=Second\nARTIST=Other Artist\nALBUM=Cue Album\nALBUMARTIST=Cue Artist\nDATE=2001\nGENRE=Jazz\n"
            "TRACKNUMBER=2\nTRACKTOTAL=3\n");
}

// Cue sheets as rippers write them: no FILE line (the image named with the sheet is used), and
// an image whose name holds a year (the track numbers come from the sheet).
TEST(FlacEncoder, CueSheetsWithoutAFileLineOrWithAYearInTheImageName) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path image = dir / "Cue Artist - Cue Album (1999).wav";
  gen(ffmpeg_wav(image, kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  std::string no_file = kCue;
  no_file.erase(no_file.find("FILE \"disc.wav\" WAVE\n"), std::string("FILE \"disc.wav\" WAVE\n").size());
  mbtest::write_file(dir / "nofile.cue", no_file);
  fs::copy_file(image, dir / "disc.wav");  // check_split compares the tracks with disc.wav
  {
    auto h = flac_harness({"--cue", (dir / "nofile.cue").string(), image.string()});
    check_split(dir, outputs_of(h.encode_into(image, dir / "split")));
  }
  // Alone, such a sheet names no image: said before anything is read.
  try {
    flac_harness({"--cue", (dir / "nofile.cue").string()}).encoder().default_inputs();
    ADD_FAILURE() << "a sheet without FILE gave inputs";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("has no FILE line"), std::string::npos) << e.what();
  }
  EXPECT_NE(error_of(dir / "nofile.cue", dir / "alone").find("has no FILE line"), std::string::npos);

  // One track, FILE naming the image under another name: track 1, not 1999.
  mbtest::write_file(dir / "one.cue", "PERFORMER \"A\"\nTITLE \"B\"\nFILE \"CDImage.wav\" WAVE\n  TRACK 01 AUDIO\n"
                                      "    TITLE \"Only\"\n    INDEX 01 00:00:00\n");
  auto one = flac_harness({"--cue", (dir / "one.cue").string(), image.string()});
  const fs::path out = outputs_of(one.encode_into(image, dir / "one")).at(0);
  EXPECT_EQ(exported_tags(out), "TITLE=Only\nARTIST=A\nALBUM=B\nTRACKNUMBER=1\nTRACKTOTAL=1\n");
}

TEST(FlacEncoder, CueSheetSplitsAWholeDiscImageSampleExactly) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  {
    auto h = flac_harness({"--cue", (dir / "disc.cue").string(), (dir / "disc.wav").string()});
    EXPECT_EQ(h.encoder().output_name(dir / "disc.wav"), "track01.flac");
    check_split(dir, outputs_of(h.encode_into(dir / "disc.wav", dir / "parallel", with_threads(2))));
  }
  {
    // The cue sheet alone as the input: it names its image.
    auto h = flac_harness({(dir / "disc.cue").string()});
    check_split(dir, outputs_of(h.encode_into(dir / "disc.cue", dir / "from_cue")));
  }
  mbtest::write_file(dir / "broken.cue", "FILE \"disc.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:99:00\n");
  try {
    flac_harness({"--cue", (dir / "broken.cue").string(), (dir / "disc.wav").string()});
    ADD_FAILURE() << "bad INDEX accepted";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.cue:3"), std::string::npos) << e.what();
  }
}

// beta.wav and alpha.wav with album.cue naming them as tracks 1 and 2.
void write_two_file_album(const TempDir& dir) {
  gen(ffmpeg_wav(dir / "beta.wav", kNoise, "pcm_s16le", "-t 0.3"));
  gen(ffmpeg_wav(dir / "alpha.wav", kNoise, "pcm_s16le", "-t 0.3"));
  mbtest::write_file(dir / "album.cue",
                     "PERFORMER \"P\"\nTITLE \"Two Files\"\nFILE \"beta.wav\" WAVE\n  TRACK 01 AUDIO\n    TITLE \"B\"\n"
                     "    INDEX 01 00:00:00\nFILE \"alpha.wav\" WAVE\n  TRACK 02 AUDIO\n    TITLE \"A\"\n"
                     "    INDEX 01 00:00:00\n");
}

TEST(FlacEncoder, CueSheetOfSeparateFilesTagsEachFileByItsFileEntry) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  write_two_file_album(dir);
  auto h = flac_harness({"--cue", (dir / "album.cue").string(), (dir / "alpha.wav").string(),
                         (dir / "beta.wav").string()});
  h.plan({dir / "alpha.wav", dir / "beta.wav"}, dir / "out");
  const fs::path a = h.encode_into(dir / "alpha.wav", dir / "out").output;
  EXPECT_EQ(a.filename(), "alpha.flac");
  EXPECT_EQ(exported_tags(a), "TITLE=A\nARTIST=P\nALBUM=Two Files\nTRACKNUMBER=2\nTRACKTOTAL=2\n");
}

TEST(FlacEncoder, TracksWithoutANumberAreNumberedByTheirPlaceAmongTheBatchsWavs) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  for (const char* name : {"b.wav", "a.wav", "c.wav"}) gen(ffmpeg_wav(dir / name, kNoise, "pcm_s16le", "-t 0.2"));
  mbtest::write_file(dir / "album.json", R"({"artist": "A", "title": "T", "tracks": ["one", "two"]})");
  mbtest::write_file(dir / "disc.cue", kCue);
  {
    // Named out of order, and with a cue sheet input that is no track of the album: a is 1, b is 2.
    auto h = flac_harness({"--album", (dir / "album.json").string()});
    h.plan({dir / "b.wav", dir / "disc.cue", dir / "a.wav"}, dir / "out");
    EXPECT_EQ(tag_map(h.encode_into(dir / "b.wav", dir / "out").output)["TRACKNUMBER"], "2");
    EXPECT_EQ(tag_map(h.encode_into(dir / "a.wav", dir / "out").output)["TITLE"], "one");
  }
  // The other WAVs of the folder are not the batch's: only what was planned counts.
  auto h = flac_harness({"--album", (dir / "album.json").string()});
  h.plan({dir / "c.wav"}, dir / "out_c");
  EXPECT_EQ(tag_map(h.encode_into(dir / "c.wav", dir / "out_c").output)["TITLE"], "one");
  try {
    h.plan({dir / "a.wav", dir / "b.wav", dir / "c.wav"}, dir / "out_abc");
    ADD_FAILURE() << "a third track accepted for an album of two";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("album.json has no entry for track 3 (c.wav)"), std::string::npos) << e.what();
  }
}

TEST(FlacEncoder, CoverIsEmbeddedWithItsDimensions) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const fs::path wav = dir / "a.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-t 0.5"));
  gen("ffmpeg -v error -y -f lavfi -i testsrc=s=64x48 -frames:v 1 '" + (dir / "c.jpg").string() + "'");
  gen("ffmpeg -v error -y -f lavfi -i testsrc=s=40x30 -frames:v 1 -pix_fmt rgba '" + (dir / "c.png").string() + "'");
  struct Case {
    const char* file;
    const char* mime;
    const char* width;
    const char* height;
    const char* depth;
  };
  for (const Case& c : {Case{"c.jpg", "image/jpeg", "64", "48", "24"}, Case{"c.png", "image/png", "40", "30", "32"}}) {
    SCOPED_TRACE(c.file);
    const fs::path out = encode_one(wav, dir / (std::string("out_") + c.file), {"--cover", (dir / c.file).string()});
    EXPECT_TRUE(flac_test_passes(out));
    auto r = mbtest::run({"metaflac", "--list", "--block-type=PICTURE", out.string()});
    EXPECT_NE(r.out.find("type: 3 (Cover (front))"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("MIME type: ") + c.mime), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("width: ") + c.width + "\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("height: ") + c.height + "\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("depth: ") + c.depth + "\n"), std::string::npos) << r.out;
    auto back = mbtest::run({"metaflac", "--export-picture-to=-", out.string()});
    EXPECT_TRUE(back.out == mbtest::read_file(dir / c.file));
  }
  EXPECT_THROW(flac_harness({"--cover", wav.string(), wav.string()}), mediabatch::UsageError);
}

// The integrated loudness in the summary of ffmpeg's ebur128 filter ("    I:         -23.1 LUFS").
double ffmpeg_integrated_loudness(const std::string& inputs_and_filter) {
  auto r = mbtest::sh("ffmpeg -nostats -hide_banner " + inputs_and_filter + " -f null - 2>&1");
  const auto summary = r.out.rfind("Integrated loudness:");
  const auto at = summary == std::string::npos ? summary : r.out.find("I:", summary);
  EXPECT_NE(at, std::string::npos) << r.out;
  return at == std::string::npos ? 0 : std::stod(r.out.substr(at + 2));
}

double gain_of(const std::string& s) { return std::stod(s); }  // "-7.12 dB"

TEST(FlacEncoder, ReplayGainMatchesKnownLoudness) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  // A full-scale 1 kHz sine on both channels reads 0 LUFS (the -0.691 dB of BS.1770 cancels
  // the K-weighting's gain at 1 kHz, +3.01 dB for two channels less -3.01 dB for a sine's RMS).
  const fs::path sine = dir / "track01.wav";
  gen("ffmpeg -v error -y -f lavfi -i 'aevalsrc=sin(2*PI*1000*t)|sin(2*PI*1000*t):s=48000:d=6' -c:a pcm_s24le '" +
      sine.string() + "'");
  const fs::path noise = dir / "track02.wav";
  gen("ffmpeg -v error -y -f lavfi -i 'anoisesrc=color=pink:amplitude=0.1:seed=3:sample_rate=48000' -ac 2 -t 6 "
      "-af volume=-6dB -c:a pcm_s24le '" + noise.string() + "'");
  auto h = flac_harness({"--replay-gain", sine.string(), noise.string()});
  h.plan({sine, noise}, dir / "out");
  const fs::path a = h.encode_into(sine, dir / "out").output;
  const fs::path b = h.encode_into(noise, dir / "out").output;
  const auto size_before = fs::file_size(a);
  h.finish();
  EXPECT_EQ(fs::file_size(a), size_before) << "tags must go into the padding, not rewrite the file";
  EXPECT_TRUE(flac_test_passes(a));
  EXPECT_TRUE(decode_pcm(b) == wav_data(noise));

  auto ta = tag_map(a), tb = tag_map(b);
  EXPECT_NEAR(gain_of(ta["REPLAYGAIN_TRACK_GAIN"]), -18.0, 0.05) << ta["REPLAYGAIN_TRACK_GAIN"];
  EXPECT_NEAR(std::stod(ta["REPLAYGAIN_TRACK_PEAK"]), 1.0, 0.0002);
  const double noise_lufs = ffmpeg_integrated_loudness("-i '" + noise.string() + "' -af ebur128");
  EXPECT_NEAR(gain_of(tb["REPLAYGAIN_TRACK_GAIN"]), -18.0 - noise_lufs, 0.1) << tb["REPLAYGAIN_TRACK_GAIN"];
  const double album_lufs = ffmpeg_integrated_loudness("-i '" + sine.string() + "' -i '" + noise.string() +
                                                       "' -filter_complex '[0][1]concat=n=2:v=0:a=1,ebur128'");
  EXPECT_NEAR(gain_of(ta["REPLAYGAIN_ALBUM_GAIN"]), -18.0 - album_lufs, 0.15) << ta["REPLAYGAIN_ALBUM_GAIN"];
  EXPECT_EQ(ta["REPLAYGAIN_ALBUM_GAIN"], tb["REPLAYGAIN_ALBUM_GAIN"]);
  EXPECT_EQ(ta["REPLAYGAIN_ALBUM_PEAK"], ta["REPLAYGAIN_TRACK_PEAK"]);
  EXPECT_LT(std::stod(tb["REPLAYGAIN_TRACK_PEAK"]), std::stod(tb["REPLAYGAIN_ALBUM_PEAK"]));
  const auto rg = std::count_if(ta.begin(), ta.end(), [](const auto& t) { return t.first.rfind("REPLAYGAIN_", 0) == 0; });
  EXPECT_EQ(rg, 4) << exported_tags(a);
}

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// Two short tracks of one album, encoded with --replay-gain; finish() not yet called.
std::vector<fs::path> encode_for_replay_gain(mbtest::EncoderHarness& h, const TempDir& dir) {
  const std::vector<fs::path> wavs = make_tracks(dir, 2);
  h.plan(wavs, dir / "out");
  std::vector<fs::path> outs;
  for (const auto& w : wavs) outs.emplace_back(h.encode_into(w, dir / "out").output);
  return outs;
}

TEST(FlacEncoder, ReplayGainReplacesEachFileWholeKeepingItsTimeAndMode) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  auto h = flac_harness({"--replay-gain"});
  const auto outs = encode_for_replay_gain(h, dir);
  fs::permissions(outs[1], fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  std::vector<ino_t> inodes;
  std::vector<fs::file_time_type> times;
  std::vector<fs::perms> modes;
  for (const auto& o : outs) {
    inodes.push_back(inode_of(o));
    times.push_back(fs::last_write_time(o));
    modes.push_back(fs::status(o).permissions());
  }
  h.finish();
  for (std::size_t i = 0; i < outs.size(); ++i) {
    SCOPED_TRACE(outs[i].filename().string());
    // A new inode: the tagged file came in by a rename, so the file under this name was
    // never written to where it stands.
    EXPECT_NE(inode_of(outs[i]), inodes[i]);
    EXPECT_TRUE(fs::last_write_time(outs[i]) == times[i]) << "skip-if-newer would see a different time";
    EXPECT_EQ(fs::status(outs[i]).permissions(), modes[i]);
    EXPECT_TRUE(flac_test_passes(outs[i]));
    EXPECT_FALSE(tag_map(outs[i])["REPLAYGAIN_TRACK_GAIN"].empty()) << exported_tags(outs[i]);
    EXPECT_EQ(tag_map(outs[i])["TRACKNUMBER"], "");  // no album: only the ReplayGain tags were added
  }
  EXPECT_EQ(tag_map(outs[0])["REPLAYGAIN_ALBUM_GAIN"], tag_map(outs[1])["REPLAYGAIN_ALBUM_GAIN"]);
  std::vector<fs::path> in_folder;
  for (const auto& e : fs::directory_iterator(dir / "out")) in_folder.push_back(e.path());
  std::sort(in_folder.begin(), in_folder.end());
  EXPECT_EQ(in_folder, outs) << "a temporary file was left behind";
}

// Lowers this process's file size limit (RLIMIT_FSIZE, which binds root too) for its lifetime:
// a write past it fails with EFBIG, as on a disk that fills up.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) : old_handler_(std::signal(SIGXFSZ, SIG_IGN)) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &old_), 0);
    struct rlimit lower = old_;
    lower.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lower), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct rlimit old_ {};
  void (*old_handler_)(int);
};

TEST(FlacEncoder, ReplayGainThatFailsLeavesTheFileAsItWasAndNoTemporary) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  auto h = flac_harness({"--replay-gain"});
  const auto outs = encode_for_replay_gain(h, dir);
  const std::string before = mbtest::read_file(outs[0]);
  std::string error = "(no error)";
  {
    // The tagged copy cannot be written past half the size of the file.
    FileSizeLimit limit(before.size() / 2);
    try {
      h.finish();
    } catch (const mediabatch::Error& e) {
      error = e.what();
    }
  }
  EXPECT_NE(error.find("track01.flac"), std::string::npos) << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;  // the system's reason
  EXPECT_TRUE(mbtest::read_file(outs[0]) == before) << "the file was changed";
  EXPECT_TRUE(flac_test_passes(outs[0]));
  EXPECT_EQ(tag_map(outs[0]).count("REPLAYGAIN_TRACK_GAIN"), 0u);
  for (const auto& e : fs::directory_iterator(dir / "out"))
    EXPECT_FALSE(mediabatch::is_temp_name(e.path().filename().string())) << "left behind: " << e.path();
  // With room again, the same batch is tagged.
  h.finish();
  EXPECT_FALSE(tag_map(outs[0])["REPLAYGAIN_TRACK_GAIN"].empty());
}

fs::path track_flac(const fs::path& folder, int number) {
  char name[32];
  std::snprintf(name, sizeof name, "track%02d.flac", number);
  return folder / name;
}

mbtest::JobOptions skip_if_newer() {
  mbtest::JobOptions o;
  o.force = false;
  return o;
}

// Encodes `wavs` as one batch into `out` and runs its album pass.
void encode_album(const std::vector<fs::path>& wavs, const fs::path& out) {
  auto h = flac_harness({"--replay-gain"});
  h.plan(wavs, out);
  for (const auto& w : wavs) h.encode_into(w, out);
  h.finish();
}

double album_gain_of(const fs::path& flac_file) { return gain_of(tag_map(flac_file)["REPLAYGAIN_ALBUM_GAIN"]); }

TEST(FlacEncoder, ReplayGainOfAnAlbumEncodedOverTwoRunsCoversAllItsTracks) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const std::vector<fs::path> wavs = make_tracks(dir, 6, 2.0, 3.0);
  const fs::path out = dir / "out";
  {
    // The first run is stopped after three tracks, before its album pass.
    auto first = flac_harness({"--replay-gain"});
    first.plan(wavs, out);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(first.encode_into(wavs[i], out).status, mediabatch::Status::ok);
  }
  auto rerun = flac_harness({"--replay-gain"});
  rerun.plan(wavs, out);
  for (int i = 0; i < 6; ++i) {
    const mediabatch::Result r = rerun.encode_into(wavs[i], out, skip_if_newer());
    EXPECT_EQ(r.status, i < 3 ? mediabatch::Status::skipped : mediabatch::Status::ok) << i << ": " << r.error;
    EXPECT_EQ(r.output, track_flac(out, i + 1).string());
  }
  rerun.finish();

  encode_album(wavs, dir / "whole");
  encode_album(std::vector<fs::path>(wavs.begin(), wavs.begin() + 3), dir / "first_three");
  const double whole = album_gain_of(track_flac(dir / "whole", 1));
  // Else the comparison below could not tell the two albums apart.
  ASSERT_GT(std::abs(album_gain_of(track_flac(dir / "first_three", 1)) - whole), 0.5);
  for (int i = 1; i <= 6; ++i) {
    SCOPED_TRACE(i);
    const auto tags = tag_map(track_flac(out, i));
    ASSERT_EQ(tags.count("REPLAYGAIN_ALBUM_GAIN"), 1u) << exported_tags(track_flac(out, i));
    EXPECT_NEAR(gain_of(tags.at("REPLAYGAIN_ALBUM_GAIN")), whole, 0.01);
    EXPECT_EQ(tags.at("REPLAYGAIN_TRACK_GAIN"), tag_map(track_flac(dir / "whole", i))["REPLAYGAIN_TRACK_GAIN"]);
  }
}

bool fully_tagged(const fs::path& f) {
  const auto tags = tag_map(f);
  for (const char* key : {"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN",
                          "REPLAYGAIN_ALBUM_PEAK"})
    if (tags.count(key) == 0) return false;
  return flac_test_passes(f);
}

// Each file is as it was or carries all four tags; none is left under a temporary name.
// Returns how many were left as they were.
int check_untouched_or_tagged(const std::vector<fs::path>& files, const std::vector<std::string>& before) {
  int untouched = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (mbtest::read_file(files[i]) == before[i]) {
      ++untouched;
    } else {
      EXPECT_TRUE(fully_tagged(files[i])) << files[i] << " changed but is not fully tagged";
    }
  }
  for (const auto& e : fs::directory_iterator(files.front().parent_path()))
    EXPECT_FALSE(mediabatch::is_temp_name(e.path().filename().string())) << "left behind: " << e.path();
  return untouched;
}

// Runs finish() with a stop that comes once tagging has begun (the first file's tagged copy
// is there, or the file was replaced). Returns whether finish() was stopped.
bool finish_stopped_while_tagging(mbtest::EncoderHarness& h, const fs::path& first_file) {
  const ino_t first_inode = inode_of(first_file);
  std::atomic<bool> stop{false}, finished{false};
  auto tagging_began = [&] {
    for (const auto& e : fs::directory_iterator(first_file.parent_path()))
      if (mediabatch::is_temp_name(e.path().filename().string())) return true;
    struct stat st {};
    return ::stat(first_file.c_str(), &st) == 0 && st.st_ino != first_inode;
  };
  std::thread watcher([&] {
    while (!finished.load() && !tagging_began()) {
    }
    stop = true;
  });
  bool stopped = false;
  try {
    h.finish(&stop);
  } catch (const mediabatch::Cancelled& e) {
    EXPECT_STREQ(e.what(), "interrupted");
    stopped = true;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "finish() failed: " << e.what();
  }
  finished = true;
  watcher.join();
  return stopped;
}

TEST(FlacEncoder, ReplayGainStoppedLeavesEachFileAsItWasOrFullyTagged) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const std::vector<fs::path> wavs = make_tracks(dir, 6, 2.0, 3.0);
  auto h = flac_harness({"--replay-gain"});
  h.plan(wavs, dir / "out");
  std::vector<fs::path> outs;
  std::vector<std::string> before;
  for (const auto& w : wavs) {
    outs.emplace_back(h.encode_into(w, dir / "out").output);
    before.push_back(mbtest::read_file(outs.back()));
  }

  // Stopped before it starts: nothing is measured or written.
  const std::atomic<bool> stopped{true};
  EXPECT_THROW(h.finish(&stopped), mediabatch::Cancelled);
  EXPECT_EQ(check_untouched_or_tagged(outs, before), 6);

  // Stopped while it tags: the file being tagged is finished, the ones after it are not
  // started. When the scheduler runs the whole pass before the stop lands, try again.
  bool cancelled = false;
  for (int attempt = 0; attempt < 5 && !cancelled; ++attempt) {
    for (std::size_t i = 0; i < outs.size(); ++i) mbtest::write_file(outs[i], before[i]);
    cancelled = finish_stopped_while_tagging(h, outs.front());
    const int untouched = check_untouched_or_tagged(outs, before);
    if (cancelled) {
      EXPECT_TRUE(fully_tagged(outs.front()));
      EXPECT_GE(untouched, 1);
    }
  }
  EXPECT_TRUE(cancelled) << "finish() did not stop in five tries";
}

// A small tmpfs of our own for one test, unmounted afterwards. Tests run as root (CI does):
// a mount that fails fails the test.
class FlacOnSmallDisk : public ::testing::Test {
 protected:
  void mount_tmpfs(unsigned long flags) {
    fs::create_directories(mount_point_);
    ASSERT_EQ(::mount("tmpfs", mount_point_.c_str(), "tmpfs", flags, "size=256k"), 0)
        << "mount -t tmpfs " << mount_point_ << ": " << std::strerror(errno) << " (these tests need root)";
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount2(mount_point_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }
  void expect_nothing_left() {
    for (const auto& e : fs::directory_iterator(mount_point_)) ADD_FAILURE() << "left behind: " << e.path();
  }

  TempDir dir_;
  const fs::path mount_point_ = dir_ / "disk";
  bool mounted_ = false;
};

TEST_F(FlacOnSmallDisk, AFullDiskGivesTheSystemsReasonNamingTheOutput) {
  REQUIRE_FLAC_TOOLS();
  const fs::path wav = dir_ / "big.wav";
  // White noise hardly compresses: 360 KB as FLAC (the two channels are one), for a disk of 256 KB.
  gen(ffmpeg_wav(wav, "-f lavfi -i 'anoisesrc=color=white:amplitude=0.9:seed=3:sample_rate=44100'", "pcm_s16le",
                 "-ac 2 -t 4"));
  ASSERT_NO_FATAL_FAILURE(mount_tmpfs(0));
  const std::string error = error_of(wav, mount_point_);
  EXPECT_NE(error.find(std::strerror(ENOSPC)), std::string::npos) << error;
  EXPECT_NE(error.find((mount_point_ / "big.flac").string()), std::string::npos) << error;
  EXPECT_EQ(error.find(".mbtmp"), std::string::npos) << error;
  expect_nothing_left();
}

TEST_F(FlacOnSmallDisk, AReadOnlyFolderGivesTheSystemsReasonNamingTheOutput) {
  REQUIRE_FLAC_TOOLS();
  const fs::path wav = dir_ / "a.wav";
  gen(ffmpeg_wav(wav, kNoise, "pcm_s16le", "-t 0.5"));
  ASSERT_NO_FATAL_FAILURE(mount_tmpfs(MS_RDONLY));
  const std::string error = error_of(wav, mount_point_);
  EXPECT_NE(error.find(std::strerror(EROFS)), std::string::npos) << error;
  EXPECT_NE(error.find((mount_point_ / "a.flac").string()), std::string::npos) << error;
  EXPECT_EQ(error.find(".mbtmp"), std::string::npos) << error;
  expect_nothing_left();
}

TEST(FlacEncoder, ASplitPlansEveryTrackAndIsRedoneWhenOneIsMissing) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  const fs::path out = dir / "out";
  const std::vector<fs::path> tracks = {out / "track01.flac", out / "track02.flac", out / "track03.flac"};
  // The cue sheet as the input, or a WAV image with --cue; a plain WAV writes its one file.
  EXPECT_EQ(flac_harness().encoder().planned_outputs(dir / "disc.cue", out / "track01.flac"), tracks);
  auto h = flac_harness({"--cue", (dir / "disc.cue").string(), (dir / "disc.wav").string()});
  EXPECT_EQ(h.encoder().planned_outputs(dir / "disc.wav", out / "track01.flac"), tracks);
  EXPECT_EQ(flac_harness().encoder().planned_outputs(dir / "disc.wav", out / "disc.flac"),
            std::vector<fs::path>{out / "disc.flac"});

  ASSERT_EQ(h.encode_into(dir / "disc.wav", out, skip_if_newer()).status, mediabatch::Status::ok);
  const mediabatch::Result again = h.encode_into(dir / "disc.wav", out, skip_if_newer());
  EXPECT_EQ(again.status, mediabatch::Status::skipped) << again.error;
  EXPECT_EQ(outputs_of(again), tracks);
  fs::remove(tracks[1]);
  EXPECT_EQ(h.encode_into(dir / "disc.wav", out, skip_if_newer()).status, mediabatch::Status::ok);
  check_split(dir, tracks);
}

// ---- size limits: what a header claims is checked, never allocated ------------------------

// Caps this process's address space (RLIMIT_AS) at what it maps now plus `headroom` for its
// lifetime: an allocation or reservation of a size a header claims then fails (bad_alloc)
// instead of passing unnoticed. The encoder runs on this thread only (one thread a job).
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(rlim_t headroom) {
    EXPECT_EQ(::getrlimit(RLIMIT_AS, &old_), 0);
    unsigned long pages = 0;
    std::istringstream(mbtest::read_file("/proc/self/statm")) >> pages;
    struct rlimit lower = old_;
    lower.rlim_cur = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + headroom;
    EXPECT_EQ(::setrlimit(RLIMIT_AS, &lower), 0);
  }
  ~AddressSpaceCap() { ::setrlimit(RLIMIT_AS, &old_); }
  AddressSpaceCap(const AddressSpaceCap&) = delete;
  AddressSpaceCap& operator=(const AddressSpaceCap&) = delete;

 private:
  struct rlimit old_ {};
};

// 16-bit stereo PCM at `rate`: the fmt chunk's 16 bytes.
std::string pcm_fmt(std::uint32_t rate) {
  return "fmt " + le32(16) + le16(1) + le16(2) + le32(rate) + le32(rate * 4) + le16(4) + le16(16);
}

std::string riff(const std::string& chunks) {
  return "RIFF" + le32(static_cast<std::uint32_t>(4 + chunks.size())) + "WAVE" + chunks;
}

TEST(FlacEncoder, WavHeadersClaimingMoreThanTheFileFailWithoutAllocatingIt) {
  TempDir dir;
  const std::string samples(16, '\x11');
  const std::string ds64 = "ds64" + le32(28) + le32(0) + le32(0) + le32(0) + le32(256) + le32(0) + le32(0) + le32(0);
  const struct {
    const char* name;
    std::string bytes, error;
  } cases[] = {
      // Claimed sizes past the file: its 4 frames are encoded (with a warning), no more.
      {"data.wav", riff(pcm_fmt(44100) + "data" + le32(0xFFFFFFF0u) + samples), "(no error)"},
      {"rf64.wav",
       "RF64" + le32(0xFFFFFFFFu) + "WAVE" + ds64 + pcm_fmt(44100) + "data" + le32(0xFFFFFFFFu) + samples,
       "(no error)"},
      {"empty.wav", riff(pcm_fmt(44100) + "data" + le32(0)), "no audio data (the WAV data chunk is empty)"},
      {"fmt.wav", riff("fmt " + le32(0xFFFFFFF0u) + pcm_fmt(44100).substr(8) + "data" + le32(16) + samples),
       "WAV has no data chunk"},
      {"list.wav", riff(pcm_fmt(44100) + "LIST" + le32(0xFFFFFFF0u) + "INFO" + "data" + le32(16) + samples),
       "WAV has no data chunk"},
      {"rate.wav", riff(pcm_fmt(429496730u) + "data" + le32(16) + samples),
       "WAV sample rate 429496730 Hz: FLAC holds 1 to 1048575 Hz"},
  };
  for (const auto& c : cases) mbtest::write_file(dir / c.name, c.bytes);
  std::map<std::string, std::string> errors;
  {
    AddressSpaceCap cap(rlim_t{256} << 20);
    for (const auto& c : cases) errors[c.name] = error_of(dir / c.name, dir / "out");
  }
  for (const auto& c : cases) EXPECT_EQ(errors[c.name], c.error) << c.name;
  for (const char* name : {"data.wav", "rf64.wav"})
    EXPECT_EQ(stream_info(dir / "out" / (fs::path(name).stem().string() + ".flac")).get_total_samples(), 4u) << name;
}

TEST(FlacEncoder, CueSheetAndAlbumFilesOverAMebibyteAreRefused) {
  TempDir dir;
  std::string cue = "PERFORMER \"A\"\nFILE \"disc.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n";
  while (cue.size() <= (1u << 20)) cue += "REM COMMENT \"padding a cue sheet past any real one\"\n";
  mbtest::write_file(dir / "big.cue", cue);
  std::string album = R"({"artist": "A", "title": "T", "tracks": ["one"], "notes": ")";
  album += std::string(1u << 20, 'x') + "\"}";
  mbtest::write_file(dir / "big.json", album);
  for (const auto& [option, file, what] : {std::tuple{"--cue", "big.cue", "cue sheet"}, {"--album", "big.json", "album file"}}) {
    try {
      flac_harness({option, (dir / file).string()});
      ADD_FAILURE() << file << " accepted";
    } catch (const mediabatch::UsageError& e) {
      EXPECT_EQ(std::string(e.what()), std::string(what) + " " + (dir / file).string() + ": more than 1 MiB, too large to be one");
    }
  }
}

}  // namespace

namespace {

// Through the command line, as a user runs it.
TEST(FlacCli, AFloatWavFailsAloneAndTheOthersAreTagged) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  make_tracks(dir, 2, 0.5);
  gen(ffmpeg_wav(dir / "track03.cdda.wav", kNoise, "pcm_f32le", "-t 0.5"));
  mbtest::write_file(dir / "album.json", R"({"artist": "A", "title": "T", "tracks": ["one", "two", "three"]})");
  auto r = mbtest::mediabatch({"flac", "--progress", "never", "--album", (dir / "album.json").string(), "--tag",
                               "COMMENT=c", (dir / "track01.cdda.wav").string(), (dir / "track02.cdda.wav").string(),
                               (dir / "track03.cdda.wav").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("float"), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "track03.flac"));
  ASSERT_TRUE(fs::exists(dir / "out" / "track02.flac")) << r.out << r.err;
  EXPECT_EQ(exported_tags(dir / "out" / "track02.flac"),
            "TITLE=two\nARTIST=A\nALBUM=T\nTRACKNUMBER=2\nTRACKTOTAL=3\nCOMMENT=c\n");
  EXPECT_TRUE(decode_pcm(dir / "out" / "track01.flac") == wav_data(dir / "track01.cdda.wav"));
}

TEST(FlacCli, AlbumWithoutTheTrackIsAUsageErrorBeforeAnyEncode) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  make_tracks(dir, 2, 0.2);
  mbtest::write_file(dir / "album.json", R"({"artist": "A", "title": "T", "tracks": ["one"]})");
  auto r = mbtest::mediabatch({"flac", "--album", (dir / "album.json").string(), dir.path().string(), "-o",
                               (dir / "out").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no entry for track 2"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "track01.flac"));
}

TEST(FlacCli, CueSheetSplitsTheImageAndReplayGainTagsEveryTrack) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  auto r = mbtest::mediabatch({"flac", "--progress", "never", "-j", "2", "--replay-gain", "--cue",
                               (dir / "disc.cue").string(), (dir / "disc.wav").string(), "-o", (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<fs::path> outs;
  for (const auto& e : fs::directory_iterator(dir / "out")) outs.push_back(e.path());
  std::sort(outs.begin(), outs.end());
  ASSERT_EQ(outs.size(), 3u) << r.out;
  const std::string gain = tag_map(outs[0])["REPLAYGAIN_ALBUM_GAIN"];
  EXPECT_FALSE(gain.empty());
  for (const auto& o : outs) EXPECT_EQ(tag_map(o)["REPLAYGAIN_ALBUM_GAIN"], gain) << o;
  // ReplayGain rewrote the tags in place: the tracks still join up to the image exactly.
  std::string joined;
  for (const auto& o : outs) joined += decode_pcm(o);
  EXPECT_TRUE(joined == wav_data(dir / "disc.wav"));
}

TEST(FlacCli, CueSheetAloneTakesTheFilesItNames) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  // No inputs named (and nothing on stdin): the image the cue sheet names is split.
  auto r = mbtest::mediabatch({"flac", "--progress", "never", "--cue", (dir / "disc.cue").string(), "-o",
                               (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string joined;
  for (const char* t : {"track01.flac", "track02.flac", "track03.flac"}) {
    ASSERT_TRUE(fs::exists(dir / "out" / t)) << t << r.out << r.err;
    joined += decode_pcm(dir / "out" / t);
  }
  EXPECT_TRUE(joined == wav_data(dir / "disc.wav"));

  // A cue sheet of separate files: each file it names, tagged by its entry.
  write_two_file_album(dir);
  r = mbtest::mediabatch({"flac", "--progress", "never", "--cue", (dir / "album.cue").string(), "-o",
                          (dir / "out2").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(exported_tags(dir / "out2" / "alpha.flac"), "TITLE=A\nARTIST=P\nALBUM=Two Files\nTRACKNUMBER=2\nTRACKTOTAL=2\n");
  EXPECT_EQ(exported_tags(dir / "out2" / "beta.flac"), "TITLE=B\nARTIST=P\nALBUM=Two Files\nTRACKNUMBER=1\nTRACKTOTAL=2\n");
}

}  // namespace

namespace {

// ---- through the command line: how a batch ends ---------------------------------------------

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The temporary files in a folder, by the name the README gives them (.NAME.mbtmp<host>-...).
std::vector<std::string> temporaries_in(const fs::path& folder) {
  std::vector<std::string> temps;
  for (const auto& name : names_in(folder))
    if (name.find(".mbtmp") != std::string::npos) temps.push_back(name);
  return temps;
}

// Asks `ready` every millisecond for up to `seconds`; false if it never said yes.
bool poll_until(const std::function<bool()>& ready, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The exit code (or 128+signal) of a started process that must end within `seconds`; -1,
// after killing it, if it does not.
int exit_within(pid_t pid, double seconds) {
  int status = 0;
  if (!poll_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, seconds)) {
    ::kill(pid, SIGKILL);
    mbtest::wait_for(pid);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The processes that `pid` started, whichever of its threads forked them.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> kids;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::istringstream in(mbtest::read_file(it->path() / "children"));
    for (pid_t kid; in >> kid;) kids.push_back(kid);
  }
  return kids;
}

// A process that no longer runs: gone, or a zombie that nobody reaps.
bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  const std::string stat = mbtest::read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || stat.compare(paren + 2, 1, "Z") == 0;
}

// Whether process `pid` has one of `files` open (`files` with their canonical paths). The album
// pass runs in mediabatch itself and opens each track to measure it; the encoders only ever
// write temporary names, in a worker.
bool has_open(pid_t pid, const std::vector<fs::path>& files) {
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code link_ec;
    const fs::path target = fs::read_symlink(it->path(), link_ec);
    if (!link_ec && std::find(files.begin(), files.end(), target) != files.end()) return true;
  }
  return false;
}

const char* const kReplayGainTags[] = {"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN",
                                       "REPLAYGAIN_ALBUM_PEAK"};

// How many REPLAYGAIN_* tags a file has, by metaflac.
int replay_gain_tag_count(const fs::path& f) {
  const auto tags = tag_map(f);
  return static_cast<int>(
      std::count_if(tags.begin(), tags.end(), [](const auto& t) { return t.first.rfind("REPLAYGAIN_", 0) == 0; }));
}

std::vector<fs::path> tracks_in(const fs::path& folder, int n) {
  std::vector<fs::path> tracks;
  for (int i = 1; i <= n; ++i) tracks.push_back(track_flac(folder, i));
  return tracks;
}

// A directory in the way of a cue sheet's third track: the split leaves none of its tracks.
// Without --force it is found when the job checks whether it is up to date; with --force, only
// once all three tracks are encoded and about to be committed.
TEST(FlacCli, ACueSplitWithADirectoryAtATrackWritesNoneOfItsTracks) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  const std::string cue = (dir / "disc.cue").string(), wav = (dir / "disc.wav").string();
  const fs::path out = dir / "out";
  fs::create_directories(out / "track03.flac");
  mbtest::write_file(out / "track03.flac" / "notes.txt", "mine");
  // A WAV image with --cue, and the cue sheet as the input.
  for (const auto& inputs : std::vector<std::vector<std::string>>{
           {"--cue", cue, wav}, {"--force", "--cue", cue, wav}, {"--force", cue}}) {
    std::vector<std::string> args = {"flac", "--progress", "never", "-o", out.string()};
    args.insert(args.end(), inputs.begin(), inputs.end());
    SCOPED_TRACE(inputs.front() + " " + inputs.back());
    const auto r = mbtest::mediabatch(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find((out / "track03.flac").string() + " is a directory"), std::string::npos)
        << r.out << r.err;
    EXPECT_EQ((r.out + r.err).find(".mbtmp"), std::string::npos) << r.out << r.err;
    // No track01.flac or track02.flac, and no temporary.
    EXPECT_EQ(names_in(out), std::vector<std::string>{"track03.flac"});
    EXPECT_EQ(mbtest::read_file(out / "track03.flac" / "notes.txt"), "mine");
  }

  fs::remove_all(out / "track03.flac");
  const auto r = mbtest::mediabatch({"flac", "--progress", "never", "--cue", cue, "-o", out.string(), wav});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(names_in(out), (std::vector<std::string>{"track01.flac", "track02.flac", "track03.flac"}));
  check_split(dir, tracks_in(out, 3));  // flac -t on each, and they join up to the image
}

// An album whose first run is SIGKILLed part-way (no album pass): the next run skips the tracks
// already written and its album pass covers all of them, as one uninterrupted run does.
TEST(FlacCli, ReplayGainAfterAKilledRunCoversEveryTrackOfTheAlbum) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  // Each track 3 dB quieter than the one before, so the album gain of some of them is not
  // that of all. At 20 s a track takes about 50 ms to encode at -j 1: a window of 250 ms
  // between the third track and the eighth.
  constexpr int kTracks = 8;
  const std::vector<fs::path> wavs = make_tracks(dir, kTracks, 20.0, 3.0);
  auto command = [&](const fs::path& out) {
    std::vector<std::string> args = {"flac", "--progress", "never", "--replay-gain", "-j", "1", "-o", out.string()};
    for (const auto& w : wavs) args.push_back(w.string());
    return args;
  };

  const fs::path ref = dir / "ref";
  const auto whole = mbtest::mediabatch(command(ref));
  ASSERT_EQ(whole.exit_code, 0) << whole.out << whole.err;
  const double album_gain = album_gain_of(track_flac(ref, 1));

  const fs::path out = dir / "out";
  const std::vector<fs::path> tracks = tracks_in(out, kTracks);
  auto written = [&] {
    return std::count_if(tracks.begin(), tracks.end(), [](const fs::path& t) { return fs::exists(t); });
  };
  std::vector<std::string> argv = command(out);
  argv.insert(argv.begin(), MEDIABATCH_BINARY);
  const pid_t first = mbtest::start(argv, dir / "first.out", dir / "first.err");
  int status = 0;
  bool ended = false;
  const bool three_written =
      poll_until([&] { return written() >= 3 || (ended = ::waitpid(first, &status, WNOHANG) == first); }, 60);
  const std::vector<pid_t> workers = children_of(first);
  if (!ended) {
    ::kill(first, SIGKILL);
    EXPECT_EQ(mbtest::wait_for(first), 128 + SIGKILL);
  }
  ASSERT_FALSE(ended) << "the first run ended before it was killed\n"
                      << mbtest::read_file(dir / "first.out") << mbtest::read_file(dir / "first.err");
  ASSERT_TRUE(three_written) << mbtest::read_file(dir / "first.out") << mbtest::read_file(dir / "first.err");
  // Its worker stops too (the kernel tells it): wait for it, so that what is written is final.
  EXPECT_TRUE(poll_until([&] { return std::all_of(workers.begin(), workers.end(), gone); }, 10));
  const auto done = written();
  ASSERT_LT(done, kTracks) << "the first run wrote every track before it was killed: make the tracks longer";
  std::vector<fs::path> left;  // the WAVs of the tracks the first run did not write
  for (int i = 0; i < kTracks; ++i) {
    if (!fs::exists(tracks[i])) {
      left.push_back(wavs[i]);
    } else {
      EXPECT_EQ(replay_gain_tag_count(tracks[i]), 0) << "the killed run reached its album pass";
    }
  }

  const auto rerun = mbtest::mediabatch(command(out));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  const std::string counts =
      std::to_string(kTracks - done) + " ok, 0 failed, " + std::to_string(done) + " skipped";
  EXPECT_NE(rerun.err.find(counts), std::string::npos) << "expected " << counts << "\n" << rerun.out << rerun.err;
  for (int i = 0; i < kTracks; ++i) {
    SCOPED_TRACE(tracks[i].filename().string());
    auto tags = tag_map(tracks[i]);
    for (const char* key : kReplayGainTags) EXPECT_EQ(tags.count(key), 1u) << key << "\n" << exported_tags(tracks[i]);
    if (tags.count("REPLAYGAIN_ALBUM_GAIN") == 1) {
      EXPECT_NEAR(gain_of(tags["REPLAYGAIN_ALBUM_GAIN"]), album_gain, 0.01) << tags["REPLAYGAIN_ALBUM_GAIN"];
    }
    EXPECT_EQ(tags["REPLAYGAIN_TRACK_GAIN"], tag_map(track_flac(ref, i + 1))["REPLAYGAIN_TRACK_GAIN"]);
    EXPECT_TRUE(flac_test_passes(tracks[i]));
  }
  EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});

  // Else the comparison above could not tell a pass over the whole album from one over the
  // tracks the second run encoded: ffmpeg's loudness of those alone.
  std::string inputs, pads;
  for (std::size_t i = 0; i < left.size(); ++i) {
    inputs += "-i '" + left[i].string() + "' ";
    pads += "[" + std::to_string(i) + "]";
  }
  const double left_alone = -18.0 - ffmpeg_integrated_loudness(inputs + "-filter_complex '" + pads + "concat=n=" +
                                                               std::to_string(left.size()) + ":v=0:a=1,ebur128'");
  EXPECT_GT(std::abs(left_alone - album_gain), 0.5) << left_alone << " vs " << album_gain;
}

// Ctrl-C while the album pass measures: exit 130, and each track untagged or fully tagged.
TEST(FlacCli, CtrlCDuringTheReplayGainPassExits130WithEachTrackUntaggedOrWhole) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  // A minute of 8-channel 192 kHz audio: at full speed, measuring it takes the pass most of a
  // second (the encode, at --level 0, about as long).
  constexpr int kTracks = 8;
  const std::vector<fs::path> wavs = track_wavs(dir, kTracks);
  for (int i = 0; i < kTracks; ++i)
    gen(ffmpeg_wav(wavs[i],
                   "-f lavfi -i 'anoisesrc=color=pink:amplitude=0.3:seed=" + std::to_string(i + 1) +
                       ":sample_rate=192000'",
                   "pcm_s16le", "-ac 8 -t 7.5 -af volume=-" + std::to_string(2 * i) + "dB"));
  const fs::path out = fs::canonical(dir.path()) / "out";  // as /proc/PID/fd names it
  const std::vector<fs::path> tracks = tracks_in(out, kTracks);
  std::vector<std::string> argv = {MEDIABATCH_BINARY, "flac", "--progress", "never", "--level", "0",
                                   "--replay-gain", "-o", out.string()};
  for (const auto& w : wavs) argv.push_back(w.string());
  const pid_t pid = mbtest::start(argv, dir / "stdout", dir / "stderr");

  // Every track written (the batch is over) and one of them open in mediabatch: the pass has
  // begun. Then Ctrl-C.
  int status = 0;
  bool ended = false;
  const bool in_pass = poll_until(
      [&] {
        if (::waitpid(pid, &status, WNOHANG) == pid) return ended = true;
        return std::all_of(tracks.begin(), tracks.end(), [](const fs::path& t) { return fs::exists(t); }) &&
               has_open(pid, tracks);
      },
      60);
  if (!ended) ::kill(pid, in_pass ? SIGINT : SIGKILL);
  const int code = ended ? (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) : exit_within(pid, 30);
  const std::string err = mbtest::read_file(dir / "stderr");
  ASSERT_FALSE(ended) << "the album pass ended before it was seen (exit " << code << "): make the audio longer\n"
                      << mbtest::read_file(dir / "stdout") << err;
  ASSERT_TRUE(in_pass) << "the album pass was never seen reading a track\n" << err;

  EXPECT_EQ(code, 130) << err;
  EXPECT_NE(err.find(std::to_string(kTracks) + " ok, 0 failed, 0 skipped, 0 interrupted"), std::string::npos) << err;
  for (const auto& t : tracks) {
    SCOPED_TRACE(t.filename().string());
    const int n = replay_gain_tag_count(t);
    EXPECT_TRUE(n == 0 || n == 4) << exported_tags(t);
    EXPECT_TRUE(flac_test_passes(t));
  }
  // The tracks and nothing else: no temporary left.
  std::vector<std::string> names;
  for (const auto& t : tracks) names.push_back(t.filename().string());
  EXPECT_EQ(names_in(out), names);
}

}  // namespace

namespace {

// ---- cue sheets as rippers write them: INDEX order, encodings, tags --------------------------

// A sheet of three tracks of disc.wav (lines 1-5: the disc, track 1 and its INDEX 01; line 6:
// TRACK 02), with the INDEX lines of tracks 2 and 3.
std::string three_track_cue(const std::string& track2, const std::string& track3) {
  return "PERFORMER \"P\"\nTITLE \"T\"\nFILE \"disc.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n"
         "  TRACK 02 AUDIO\n" + track2 + "  TRACK 03 AUDIO\n" + track3;
}

bool nothing_in(const fs::path& folder) { return !fs::exists(folder) || names_in(folder).empty(); }

// What flac --cuesheet refuses: each fails with its line, as --cue (a usage error before
// anything is read) and as the input (that job fails), and nothing is written.
TEST(FlacCli, CueSheetIndexesOutOfOrderFailNamingTheLineAndWriteNothing) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  const std::string i01 = "    INDEX 01 00:02:13\n", t3 = "    INDEX 01 00:04:50\n";
  const struct {
    const char* name;
    std::string cue;
    std::string error;
  } cases[] = {
      {"index01_before_00", three_track_cue(i01 + "    INDEX 00 00:01:60\n", t3),
       ":8: INDEX 00 of track 2 comes after its INDEX 01: a track's INDEX numbers ascend"},
      {"index03_before_02", three_track_cue(i01 + "    INDEX 03 00:03:00\n    INDEX 02 00:02:50\n", t3),
       ":9: INDEX 02 of track 2 comes after its INDEX 03: a track's INDEX numbers ascend"},
      {"index02_earlier_than_01", three_track_cue(i01 + "    INDEX 02 00:02:00\n", t3),
       ":8: INDEX 02 of track 2 (00:02:00) is before its INDEX 01 (00:02:13)"},
      {"track3_before_track2", three_track_cue("    INDEX 01 00:04:10\n", "    INDEX 01 00:02:00\n"),
       ":9: INDEX 01 of track 3 (00:02:00) is before track 2's INDEX 01 (00:04:10)"},
      {"index00_before_previous_01", three_track_cue(i01, "    INDEX 00 00:02:00\n" + t3),
       ":9: INDEX 00 of track 3 (00:02:00) is before track 2's INDEX 01 (00:02:13)"},
      {"track3_at_track2", three_track_cue(i01, i01),
       ":9: INDEX 01 of track 3 (00:02:13) is not after track 2's INDEX 01 (00:02:13)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path cue = dir / (std::string(c.name) + ".cue");
    mbtest::write_file(cue, c.cue);
    const std::string error = cue.string() + c.error;
    auto r = mbtest::mediabatch({"flac", "--progress", "never", "--cue", cue.string(), (dir / "disc.wav").string(),
                                 "-o", (dir / c.name).string()});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(error), std::string::npos) << r.err;
    EXPECT_TRUE(nothing_in(dir / c.name));
    r = mbtest::mediabatch({"flac", "--progress", "never", cue.string(), "-o", (dir / c.name).string()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find(error), std::string::npos) << r.out << r.err;
    EXPECT_TRUE(nothing_in(dir / c.name));
  }
}

// One FILE per track, gaps appended (as EAC writes them): track 2's pregap is at the end of
// a.wav and its INDEX 01 at 00:00:00 of b.wav; times start again with each FILE.
TEST(FlacCli, CueSheetOfOneFilePerTrackComparesIndexTimesWithinEachFile) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  for (const char* name : {"a.wav", "b.wav", "c.wav"}) gen(ffmpeg_wav(dir / name, kNoise, "pcm_s16le", "-t 1"));
  mbtest::write_file(dir / "album.cue",
                     "PERFORMER \"P\"\nTITLE \"T\"\nFILE \"a.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n"
                     "  TRACK 02 AUDIO\n    INDEX 00 00:00:50\nFILE \"b.wav\" WAVE\n    INDEX 01 00:00:00\n"
                     "FILE \"c.wav\" WAVE\n  TRACK 03 AUDIO\n    INDEX 01 00:00:00\n");
  auto r = mbtest::mediabatch({"flac", "--progress", "never", "--cue", (dir / "album.cue").string(), "-o",
                               (dir / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int number = 0;
  for (const char* name : {"a.flac", "b.flac", "c.flac"}) {
    EXPECT_TRUE(flac_test_passes(dir / "out" / name));
    EXPECT_EQ(tag_map(dir / "out" / name)["TRACKNUMBER"], std::to_string(++number)) << name;
  }
}

// The sheet's UTF-8 text in `encoding` (iconv's name) after `bom`, lines ending in `eol`.
void write_encoded_cue(const fs::path& file, const std::string& utf8, const char* encoding, const std::string& bom,
                       const std::string& eol) {
  std::string text;
  for (char ch : utf8) text += ch == '\n' ? eol : std::string(1, ch);
  const fs::path source = file.string() + ".utf8";
  mbtest::write_file(source, text);
  auto r = mbtest::run({"iconv", "-f", "UTF-8", "-t", encoding, "-o", file.string(), source.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  mbtest::write_file(file, bom + mbtest::read_file(file));
}

// UTF-16 LE and BE with a BOM, UTF-8 with one, and Latin-1, with CR LF, LF or CR line ends:
// each is recognised as a cue sheet, split, and tagged in UTF-8.
TEST(FlacCli, CueSheetsInUtf16OrUtf8WithABomOrInLatin1AreTaggedInUtf8) {
  REQUIRE_FLAC_TOOLS();
  REQUIRE_TOOL("iconv");
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  const std::string sheet =
      "REM DATE 1999\nPERFORMER \"Édith\"\nTITLE \"Café Ü\"\nFILE \"disc.wav\" WAVE\n  TRACK 01 AUDIO\n"
      "    TITLE \"Première\"\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    TITLE \"Deuxième Ü\"\n"
      "    INDEX 01 00:02:13\n";
  const struct {
    const char* name;
    const char* encoding;
    std::string bom, eol;
  } variants[] = {
      {"utf16le", "UTF-16LE", "\xFF\xFE", "\r\n"},
      {"utf16be", "UTF-16BE", "\xFE\xFF", "\r"},
      {"utf8bom", "UTF-8", "\xEF\xBB\xBF", "\r\n"},
      {"latin1", "LATIN1", "", "\r"},
  };
  const auto encoder = mediabatch::make_flac_encoder();
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    const fs::path cue = dir / (std::string(v.name) + ".cue");
    write_encoded_cue(cue, sheet, v.encoding, v.bom, v.eol);
    const std::string bytes = mbtest::read_file(cue);
    EXPECT_TRUE(encoder->accepts({cue, std::string_view(bytes).substr(0, 4096)}));
    const fs::path out = dir / v.name;
    auto r = mbtest::mediabatch({"flac", "--progress", "never", cue.string(), "-o", out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(names_in(out), (std::vector<std::string>{"track01.flac", "track02.flac"}));
    EXPECT_TRUE(flac_test_passes(out / "track01.flac"));
    EXPECT_TRUE(flac_test_passes(out / "track02.flac"));
    EXPECT_EQ(exported_tags(out / "track01.flac"),
              "TITLE=Première\nARTIST=Édith\nALBUM=Café Ü\nDATE=1999\nTRACKNUMBER=1\nTRACKTOTAL=2\n");
    EXPECT_EQ(exported_tags(out / "track02.flac"),
              "TITLE=Deuxième Ü\nARTIST=Édith\nALBUM=Café Ü\nDATE=1999\nTRACKNUMBER=2\nTRACKTOTAL=2\n");
  }
}

// kCue's tracks with ISRC, CATALOG, REM COMMENT (the disc's, unquoted, and a track's own),
// SONGWRITER (the disc's and a track's) and disc numbers as one ripper writes them.
const char* kTaggedCue = R"(REM GENRE "Jazz"
REM DATE 2001
REM DISCNUMBER 01/2
REM COMMENT ExactAudioCopy v1.6
CATALOG 0724384260521
PERFORMER "Cue Artist"
SONGWRITER "Album Writer"
TITLE "Cue Album"
FILE "disc.wav" WAVE
  TRACK 01 AUDIO
    TITLE "First"
    ISRC GBAYE0000001
    INDEX 01 00:00:00
  TRACK 02 AUDIO
    TITLE "Second"
    PERFORMER "Other Artist"
    SONGWRITER "Track Writer"
    REM COMMENT "Live take"
    ISRC GBAYE0000002
    INDEX 00 00:01:60
    INDEX 01 00:02:13
  TRACK 03 AUDIO
    TITLE "Third"
    INDEX 01 00:04:50
)";

// The tracks a split of disc.wav with this sheet (and these options) writes into `out`.
std::vector<fs::path> split_with(const TempDir& dir, const std::string& cue_text, const fs::path& out,
                                 std::vector<std::string> options = {}) {
  const fs::path cue = out.string() + ".cue";
  mbtest::write_file(cue, cue_text);
  options.insert(options.end(), {"--cue", cue.string(), (dir / "disc.wav").string()});
  auto h = flac_harness(options);
  std::vector<fs::path> tracks = outputs_of(h.encode_into(dir / "disc.wav", out));
  std::sort(tracks.begin(), tracks.end());
  for (const auto& t : tracks) EXPECT_TRUE(flac_test_passes(t));
  return tracks;
}

TEST(FlacEncoder, CueSheetTagsIsrcCatalogCommentComposerAndAlbumArtist) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  const std::vector<fs::path> tracks = split_with(dir, kTaggedCue, dir / "tagged");
  ASSERT_EQ(tracks.size(), 3u);
  // Track 2 is by another performer, so the disc's PERFORMER is every track's ALBUMARTIST.
  EXPECT_EQ(exported_tags(tracks[0]),
            "TITLE=First\nARTIST=Cue Artist\nALBUM=Cue Album\nALBUMARTIST=Cue Artist\nDATE=2001\nGENRE=Jazz\n"
            "COMPOSER=Album Writer\nISRC=GBAYE0000001\nCATALOGNUMBER=0724384260521\nTRACKNUMBER=1\nTRACKTOTAL=3\n"
            "DISCNUMBER=1\nDISCTOTAL=2\nCOMMENT=ExactAudioCopy v1.6\n");
  EXPECT_EQ(exported_tags(tracks[1]),
            "TITLE=Second\nARTIST=Other Artist\nALBUM=Cue Album\nALBUMARTIST=Cue Artist\nDATE=2001\nGENRE=Jazz\n"
            "COMPOSER=Track Writer\nISRC=GBAYE0000002\nCATALOGNUMBER=0724384260521\nTRACKNUMBER=2\nTRACKTOTAL=3\n"
            "DISCNUMBER=1\nDISCTOTAL=2\nCOMMENT=Live take\n");
  EXPECT_EQ(tag_map(tracks[2])["ARTIST"], "Cue Artist");
  EXPECT_EQ(tag_map(tracks[2])["TRACKNUMBER"], "3");
  EXPECT_EQ(tag_map(tracks[2]).count("ISRC"), 0u);

  // Every track by the disc's performer: ARTIST alone, no ALBUMARTIST.
  std::string same = kTaggedCue;
  same.replace(same.find("\"Other Artist\""), std::string("\"Other Artist\"").size(), "\"Cue Artist\"");
  for (const auto& t : split_with(dir, same, dir / "same")) {
    EXPECT_EQ(tag_map(t)["ARTIST"], "Cue Artist") << t;
    EXPECT_EQ(tag_map(t).count("ALBUMARTIST"), 0u) << t;
  }

  // --tag replaces the sheet's value on every track.
  const std::vector<fs::path> mine = split_with(dir, kTaggedCue, dir / "mine", {"--tag", "COMMENT=mine"});
  ASSERT_EQ(mine.size(), 3u);
  const std::string tags = exported_tags(mine[1]);
  EXPECT_NE(tags.find("\nCOMMENT=mine\n"), std::string::npos) << tags;
  EXPECT_EQ(tags.find("Live take"), std::string::npos) << tags;

  mbtest::write_file(dir / "bad_disc.cue", std::string("REM DISCNUMBER one\n") + kTaggedCue);
  try {
    flac_harness({"--cue", (dir / "bad_disc.cue").string()});
    ADD_FAILURE() << "a disc number that is no number accepted";
  } catch (const mediabatch::UsageError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "bad_disc.cue").string() + ":1: bad REM DISCNUMBER 'one' (a number from 1)");
  }
}

}  // namespace

namespace {

// ---- --verify: each output read back with libFLAC's decoder before it takes its name -------

// The MD5 that FLAC's STREAMINFO holds for a WAV's audio, by md5sum over the WAV's own data
// chunk: FLAC's layout is the WAV's (interleaved, little-endian), but for 8-bit WAV being
// unsigned where FLAC's samples are signed.
std::string pcm_md5(const fs::path& wav, unsigned bits) {
  std::string pcm = wav_data(wav);
  if (bits == 8)
    for (char& c : pcm) c = static_cast<char>(c ^ 0x80);
  const auto r = mbtest::run({"md5sum"}, pcm);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 32);
}

std::string streaminfo_md5(const fs::path& flac_file) {
  const auto si = stream_info(flac_file);
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    s += kDigits[si.get_md5sum()[i] >> 4];
    s += kDigits[si.get_md5sum()[i] & 15];
  }
  return s;
}

// Every bit depth and a few layouts: the check passes on each, which it does only when our
// MD5 of the samples fed to libFLAC is STREAMINFO's (and that of the audio decoded again).
TEST(FlacEncoder, VerifyPassesForEveryWavVariantWithTheMd5OfItsPcm) {
  REQUIRE_FLAC_TOOLS();
  REQUIRE_TOOL("md5sum");
  TempDir dir;
  const std::vector<Variant> variants = {
      {"s16_stereo", "pcm_s16le", ",aformat=channel_layouts=stereo", 16, 2, 44100},
      {"s24_stereo_96k", "pcm_s24le", ",aformat=channel_layouts=stereo,aresample=96000", 24, 2, 96000},
      {"s32_stereo", "pcm_s32le", ",aformat=channel_layouts=stereo,aresample=48000", 32, 2, 48000},
      {"u8_mono", "pcm_u8", ",aresample=22050", 8, 1, 22050},
      {"s24_7.1", "pcm_s24le", ",aformat=channel_layouts=7.1", 24, 8, 44100},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    const fs::path wav = dir / (std::string(v.name) + ".wav");
    gen(ffmpeg_wav(wav, noise(v.extra), v.codec, "-t 1.5"));
    const fs::path out = encode_one(wav, dir / "out", {}, verifying());  // r.verified, by encode_one
    ASSERT_TRUE(fs::exists(out));
    EXPECT_EQ(streaminfo_md5(out), pcm_md5(wav, v.bits));
  }
}

// A split image: each track (the ones added with add_output too) is checked, tracks written in
// parallel as well as one after the other.
TEST(FlacEncoder, VerifyChecksEveryTrackOfACueSplit) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    auto h = flac_harness({"--cue", (dir / "disc.cue").string(), (dir / "disc.wav").string()});
    const fs::path out = dir / ("out" + std::to_string(threads));
    const mediabatch::Result r = h.encode_into(dir / "disc.wav", out, verifying(threads));
    EXPECT_TRUE(r.verified);
    check_split(dir, outputs_of(r));
  }
}

// MEDIABATCH_TEST_CORRUPT_OUTPUT for the mediabatch processes started while it lives.
class CorruptOutputs {
 public:
  explicit CorruptOutputs(const std::string& rule) { ::setenv("MEDIABATCH_TEST_CORRUPT_OUTPUT", rule.c_str(), 1); }
  ~CorruptOutputs() { ::unsetenv("MEDIABATCH_TEST_CORRUPT_OUTPUT"); }
  CorruptOutputs(const CorruptOutputs&) = delete;
  CorruptOutputs& operator=(const CorruptOutputs&) = delete;
};

// The last record of each input in a --report file, by the input's file name.
std::map<std::string, nlohmann::json> report_by_name(const fs::path& report) {
  std::map<std::string, nlohmann::json> by_name;
  std::istringstream in(mbtest::read_file(report));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    by_name[fs::path(j.at("input").get<std::string>()).filename().string()] = j;
  }
  return by_name;
}

bool ok_and_verified(const nlohmann::json& j) {
  return j.value("status", "") == "ok" && j.value("verified", false) && j.value("error", "").empty();
}

// `mediabatch flac --verify --report REPORT -o OUT` with these inputs (and options first).
mbtest::Run verify_run(const fs::path& report, const fs::path& out, const std::vector<std::string>& rest) {
  std::vector<std::string> args = {"flac", "--progress", "never", "--verify", "--report", report.string(),
                                   "-o", out.string()};
  args.insert(args.end(), rest.begin(), rest.end());
  return mbtest::mediabatch(args);
}

// Three WAVs of different kinds and a cue split, as a user runs them: every output checked.
TEST(FlacCli, VerifyOfACleanBatchAndACueSplitIsAllOkAndVerified) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  gen(ffmpeg_wav(dir / "a.wav", kNoise, "pcm_s16le", "-ac 2 -t 2"));
  gen(ffmpeg_wav(dir / "b.wav", noise(",aformat=channel_layouts=5.1"), "pcm_s24le", "-t 1"));
  gen(ffmpeg_wav(dir / "c.wav", noise(",aresample=22050"), "pcm_u8", "-t 1"));
  auto r = verify_run(dir / "report.jsonl", dir / "out",
                      {(dir / "a.wav").string(), (dir / "b.wav").string(), (dir / "c.wav").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("3 ok, 0 failed, 0 skipped, 3 verified"), std::string::npos) << r.err;
  const auto report = report_by_name(dir / "report.jsonl");
  EXPECT_EQ(report.size(), 3u);
  for (const auto& [name, j] : report) EXPECT_TRUE(ok_and_verified(j)) << j.dump();
  EXPECT_EQ(names_in(dir / "out"), (std::vector<std::string>{"a.flac", "b.flac", "c.flac"}));
  for (const char* f : {"a.flac", "b.flac", "c.flac"}) EXPECT_TRUE(flac_test_passes(dir / "out" / f));

  // A whole-disc image split in parallel: one job, three outputs, all checked.
  gen(ffmpeg_wav(dir / "disc.wav", kNoise, "pcm_s16le", "-ac 2 -t 6.3"));
  mbtest::write_file(dir / "disc.cue", kCue);
  r = verify_run(dir / "split.jsonl", dir / "split",
                 {"-j", "2", "--cue", (dir / "disc.cue").string(), (dir / "disc.wav").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("1 ok, 0 failed, 0 skipped, 1 verified"), std::string::npos) << r.err;
  const auto split = report_by_name(dir / "split.jsonl");
  ASSERT_EQ(split.count("disc.wav"), 1u);
  EXPECT_TRUE(ok_and_verified(split.at("disc.wav"))) << split.at("disc.wav").dump();
  EXPECT_EQ(split.at("disc.wav").value("outputs", nlohmann::json::array()).size(), 3u);
  check_split(dir, tracks_in(dir / "split", 3));

  // One damaged track fails the split: none of its tracks stay, nor any temporary.
  {
    CorruptOutputs damage("track02:flip");
    r = verify_run(dir / "damaged.jsonl", dir / "damaged",
                   {"-j", "2", "--cue", (dir / "disc.cue").string(), (dir / "disc.wav").string()});
  }
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto damaged = report_by_name(dir / "damaged.jsonl");
  ASSERT_EQ(damaged.count("disc.wav"), 1u);
  EXPECT_EQ(damaged.at("disc.wav").value("status", ""), "failed");
  const std::string error = damaged.at("disc.wav").value("error", "");
  EXPECT_EQ(error.rfind("verify: track02.flac: ", 0), 0u) << error;
  EXPECT_TRUE(nothing_in(dir / "damaged")) << r.out << r.err;
}

// The three WAVs t1..t3 of 2 s each, converted with --verify while t2's output is damaged.
struct DamagedRun {
  mbtest::Run run;
  std::map<std::string, nlohmann::json> report;
  std::string error;  // t2.wav's
};

DamagedRun run_with_t2_damaged(const TempDir& dir, const std::string& how) {
  std::vector<std::string> wavs;
  for (const char* name : {"t1.wav", "t2.wav", "t3.wav"}) {
    if (!fs::exists(dir / name)) gen(ffmpeg_wav(dir / name, kNoise, "pcm_s16le", "-ac 2 -t 2"));
    wavs.push_back((dir / name).string());
  }
  DamagedRun d;
  {
    CorruptOutputs damage("t2:" + how);
    d.run = verify_run(dir / (how + ".jsonl"), dir / how, wavs);
  }
  d.report = report_by_name(dir / (how + ".jsonl"));
  if (d.report.count("t2.wav")) d.error = d.report.at("t2.wav").value("error", "");
  return d;
}

// What every damaged batch shows: t2 failed, with nothing of it left; t1 and t3 ok and verified.
void expect_only_t2_failed(const DamagedRun& d, const fs::path& out) {
  EXPECT_EQ(d.run.exit_code, 1) << d.run.out << d.run.err;
  EXPECT_NE(d.run.err.find("2 ok, 1 failed, 0 skipped, 2 verified"), std::string::npos) << d.run.err;
  ASSERT_EQ(d.report.size(), 3u);
  EXPECT_EQ(d.report.at("t2.wav").value("status", ""), "failed");
  EXPECT_FALSE(d.report.at("t2.wav").value("verified", false));
  EXPECT_EQ(d.error.rfind("verify: ", 0), 0u) << d.error;
  EXPECT_EQ(d.error.find(".mbtmp"), std::string::npos) << d.error;  // the output's name, not the temporary's
  EXPECT_TRUE(ok_and_verified(d.report.at("t1.wav"))) << d.report.at("t1.wav").dump();
  EXPECT_TRUE(ok_and_verified(d.report.at("t3.wav"))) << d.report.at("t3.wav").dump();
  EXPECT_EQ(names_in(out), (std::vector<std::string>{"t1.flac", "t3.flac"}));  // no t2.flac, no temporary
  EXPECT_TRUE(temporaries_in(out).empty());
  EXPECT_TRUE(flac_test_passes(out / "t1.flac"));
  EXPECT_TRUE(flac_test_passes(out / "t3.flac"));
}

// 64 bytes inverted in the middle of the audio: the decoded audio is not what was encoded.
TEST(FlacCli, VerifyFailsAFlippedOutputAndKeepsTheOthers) {
  REQUIRE_FLAC_TOOLS();
  REQUIRE_TOOL("md5sum");
  TempDir dir;
  const DamagedRun d = run_with_t2_damaged(dir, "flip");
  expect_only_t2_failed(d, dir / "flip");
  // Either the damaged frames decode to other samples, or libFLAC drops them; either way the
  // reason gives the numbers, the encoded side of them being the WAV's own.
  const std::string md5 = pcm_md5(dir / "t2.wav", 16);
  const std::regex other_md5("^verify: MD5 of the decoded audio is [0-9a-f]{32}, the audio encoded has MD5 " + md5 +
                             "; libFLAC: [a-z ]+ at sample [0-9]+ \\(FLAC__STREAM_DECODER_ERROR_STATUS_[A-Z_]+\\).*");
  const std::regex fewer("^verify: decoded [0-9]+ samples, 88200 were encoded; libFLAC: .*");
  EXPECT_TRUE(std::regex_match(d.error, other_md5) || std::regex_match(d.error, fewer)) << d.error;
}

// The file cut to 60%: fewer samples decode than were encoded.
TEST(FlacCli, VerifyFailsATruncatedOutputAndKeepsTheOthers) {
  REQUIRE_FLAC_TOOLS();
  TempDir dir;
  const DamagedRun d = run_with_t2_damaged(dir, "truncate");
  expect_only_t2_failed(d, dir / "truncate");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(d.error, m, std::regex("^verify: decoded ([0-9]+) samples, 88200 were encoded")))
      << d.error;
  EXPECT_LT(std::stoul(m[1]), 88200ul * 7 / 10) << d.error;
  EXPECT_GT(std::stoul(m[1]), 0ul) << d.error;
}

// Damage that falls in the metadata, not the audio: a long tag or a large cover fills the middle
// of the file, so the flip lands in it and the check finds the tag or the picture changed.
TEST(FlacCli, VerifyComparesTheTagsAndTheCoverReadBack) {
  REQUIRE_FLAC_TOOLS();
  REQUIRE_TOOL("md5sum");
  TempDir dir;
  gen(ffmpeg_wav(dir / "short.wav", kNoise, "pcm_s16le", "-ac 2 -t 0.05"));
  std::string lyrics;
  while (lyrics.size() < 100000) lyrics += "la ";
  mbtest::Run r;
  {
    CorruptOutputs damage("short:flip");
    r = verify_run(dir / "tag.jsonl", dir / "tag", {"--tag", "LYRICS=" + lyrics, (dir / "short.wav").string()});
  }
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto report = report_by_name(dir / "tag.jsonl");
  std::string error = report["short.wav"].value("error", "");
  // The middle of the file, where the damage is, is the middle of the tag.
  const std::string bytes = std::to_string(lyrics.size() + 7);
  const std::regex tag_reason("^verify: tag 1 \\(LYRICS\\) read back differs from the one written from byte ([0-9]+) "
                              "on \\(" + bytes + " bytes read back, " + bytes + " written\\)$");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(error, m, tag_reason)) << error;
  EXPECT_GT(std::stoul(m[1]), lyrics.size() / 4) << error;
  EXPECT_LT(std::stoul(m[1]), lyrics.size()) << error;
  EXPECT_TRUE(nothing_in(dir / "tag"));

  // 256x256 of random RGB: a PNG of some 200 KB that deflate cannot shrink.
  gen("head -c 196608 /dev/urandom | ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s 256x256 -i - -frames:v 1 '" +
      (dir / "cover.png").string() + "'");
  const std::string cover_md5 = mbtest::run({"md5sum", (dir / "cover.png").string()}).out.substr(0, 32);
  {
    CorruptOutputs damage("short:flip");
    r = verify_run(dir / "cover.jsonl", dir / "cover", {"--cover", (dir / "cover.png").string(),
                                                          (dir / "short.wav").string()});
  }
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  report = report_by_name(dir / "cover.jsonl");
  error = report["short.wav"].value("error", "");
  const std::string size = std::to_string(fs::file_size(dir / "cover.png"));
  EXPECT_EQ(error.rfind("verify: PICTURE block read back (type 3 image/png 256x256, " + size + " bytes, MD5 ", 0), 0u)
      << error;
  EXPECT_NE(error.find("is not the one written (type 3 image/png 256x256, " + size + " bytes, MD5 " + cover_md5 + ")"),
            std::string::npos)
      << error;
  EXPECT_TRUE(nothing_in(dir / "cover"));

  // Undamaged, the same two pass.
  r = verify_run(dir / "clean.jsonl", dir / "clean",
                 {"--tag", "LYRICS=" + lyrics, "--cover", (dir / "cover.png").string(), (dir / "short.wav").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(ok_and_verified(report_by_name(dir / "clean.jsonl")["short.wav"]));
}

// --replay-gain --verify: each file the album pass rewrites is decoded again before its tagged
// copy replaces it. A clean album passes; a file whose audio is not what its STREAMINFO says
// (its MD5 changed here, as a bad copy or a bad disk would) is left as it was, and the batch fails.
TEST(FlacCli, ReplayGainWithVerifyChecksEachRewrittenFile) {
  REQUIRE_FLAC_TOOLS();
  REQUIRE_TOOL("md5sum");
  TempDir dir;
  const std::vector<fs::path> wavs = make_tracks(dir, 3, 1.0, 3.0);
  const fs::path out = dir / "out";
  std::vector<std::string> inputs = {"--replay-gain"};
  for (const auto& w : wavs) inputs.push_back(w.string());
  auto r = verify_run(dir / "first.jsonl", out, inputs);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("3 ok, 0 failed, 0 skipped, 3 verified"), std::string::npos) << r.err;
  for (const auto& [name, j] : report_by_name(dir / "first.jsonl")) EXPECT_TRUE(ok_and_verified(j)) << j.dump();
  const std::vector<fs::path> tracks = tracks_in(out, 3);
  for (const auto& t : tracks) {
    EXPECT_EQ(replay_gain_tag_count(t), 4) << exported_tags(t);
    EXPECT_TRUE(flac_test_passes(t));
  }

  // Track 2's STREAMINFO MD5 (bytes 26-41: "fLaC", a block header, 18 bytes of STREAMINFO)
  // no longer that of its audio; its time kept, so the next run skips its job as up to date
  // and only the album pass rewrites it.
  const std::string audio_md5 = pcm_md5(wavs[1], 16);
  ASSERT_EQ(streaminfo_md5(tracks[1]), audio_md5);
  std::string bytes = mbtest::read_file(tracks[1]);
  bytes[26] = static_cast<char>(bytes[26] ^ 0xFF);
  const auto mtime = fs::last_write_time(tracks[1]);
  mbtest::write_file(tracks[1], bytes);
  fs::last_write_time(tracks[1], mtime);
  const std::string wrong_md5 = streaminfo_md5(tracks[1]);
  const std::string track3_before = mbtest::read_file(tracks[2]);

  r = verify_run(dir / "second.jsonl", out, inputs);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("0 ok, 0 failed, 3 skipped"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("flac: track02.flac: ReplayGain: verify: MD5 of the decoded audio is " + audio_md5 +
                       ", the audio encoded has MD5 " + wrong_md5),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(mbtest::read_file(tracks[1]) == bytes) << "the file that failed its check was replaced";
  EXPECT_TRUE(mbtest::read_file(tracks[2]) == track3_before) << "a file after the failure was rewritten";
  EXPECT_TRUE(temporaries_in(out).empty()) << ::testing::PrintToString(names_in(out));

  // Without --verify the album pass takes the file's word for it: the failure above is the check's.
  r = mbtest::mediabatch({"flac", "--progress", "never", "--replay-gain", "-o", out.string(), wavs[0].string(),
                          wavs[1].string(), wavs[2].string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
