// Broken files fail loudly (issue 14): a file whose name says it is a command's kind but whose
// content is not (random bytes, nothing at all, zeros) is `failed` with a reason that says what
// it is, whether a walk found it or it was named, and the batch exits 1; the good files beside
// it are converted. A file of no kind by name or content stays out of a walk.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "support/test_support.hpp"

namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string random_bytes(std::size_t n) {
  std::mt19937 gen(14);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xFF);
  s[0] = '\x13';  // not by chance a signature
  return s;
}

struct Record {
  std::string status;
  std::string error;
};

// The report's records by file name.
std::map<std::string, Record> records(const fs::path& report) {
  std::map<std::string, Record> by_name;
  std::istringstream lines(mbtest::read_file(report));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    by_name[fs::path(j["input"].get<std::string>()).filename().string()] = {j["status"], j.value("error", "")};
  }
  return by_name;
}

struct Case {
  std::string command;
  std::string good_asset;  // converted beside the broken files
  std::string ext;         // the kind's extension the broken files carry
  std::string not_kind;    // the start of the reason they fail with
};

const Case cases[] = {
    {"thumbs", "photo_drawing.png", ".jpg", "not a JPEG"},
    {"video", "video_sample.mp4", ".mp4", ""},  // the reason is FFmpeg's
    {"flac", "track01.cdda.wav", ".wav", "not a WAV file"},
    {"dicom", "dicom_colour_jpeg.dcm", ".dcm", "not DICOM"},
    {"convert", "photo_drawing.png", ".dcm", "not DICOM"},
};

// Writes the good sample and the broken ones (garbage, empty, zeros) and a README.txt.
void make_folder(const fs::path& in, const Case& c) {
  fs::create_directories(in);
  fs::copy_file(mbtest::asset(c.good_asset), in / c.good_asset);
  mbtest::write_file(in / ("garbage" + c.ext), random_bytes(20000));
  mbtest::write_file(in / ("empty" + c.ext), "");
  mbtest::write_file(in / ("zeros" + c.ext), std::string(2048, '\0'));
  mbtest::write_file(in / "README.txt", "holiday photos, 2024\n");
}

void expect_broken_ones_failed(const std::map<std::string, Record>& got, const Case& c) {
  ASSERT_EQ(got.count(c.good_asset), 1u) << c.command;
  EXPECT_EQ(got.at(c.good_asset).status, "ok") << c.command << ": " << got.at(c.good_asset).error;
  for (const std::string stem : {"garbage", "empty", "zeros"}) {
    const std::string name = stem + c.ext;
    ASSERT_EQ(got.count(name), 1u) << c.command << ": no record for " << name;
    EXPECT_EQ(got.at(name).status, "failed") << c.command << " " << name;
    if (stem != "empty") {
      EXPECT_TRUE(contains(got.at(name).error, c.not_kind)) << c.command << " " << name << ": " << got.at(name).error;
    }
  }
  EXPECT_EQ(got.at("empty" + c.ext).error, "empty file") << c.command;
  if (c.command != "video") {
    EXPECT_TRUE(contains(got.at("garbage" + c.ext).error, "are of no known format")) << got.at("garbage" + c.ext).error;
    EXPECT_TRUE(contains(got.at("zeros" + c.ext).error, "the file holds only zero bytes")) << got.at("zeros" + c.ext).error;
  }
}

}  // namespace

TEST(BrokenCli, BrokenFilesFoundByAWalkFailAndTheRestAreConverted) {
  for (const Case& c : cases) {
    mbtest::TempDir dir;
    make_folder(dir / "in", c);
    const fs::path report = dir / "report.jsonl";
    const auto r = mbtest::mediabatch({c.command, "-o", (dir / "out").string(), "--report", report.string(),
                                       (dir / "in").string()});
    EXPECT_EQ(r.exit_code, 1) << c.command << "\n" << r.out << r.err;
    const auto got = records(report);
    expect_broken_ones_failed(got, c);
    if (c.command != "convert") {
      EXPECT_EQ(got.count("README.txt"), 0u) << c.command << ": a text file is no input";
    }
    EXPECT_TRUE(contains(r.out, "garbage" + c.ext)) << c.command << ": the console names the broken file\n" << r.out;
  }
}

TEST(BrokenCli, BrokenFilesNamedFailAndAFileOfNoKindIsSkipped) {
  for (const Case& c : cases) {
    mbtest::TempDir dir;
    make_folder(dir / "in", c);
    const fs::path report = dir / "report.jsonl";
    std::vector<std::string> args{c.command, "-o", (dir / "out").string(), "--report", report.string()};
    for (const char* name : {"garbage", "empty", "zeros"}) args.push_back((dir / "in" / (name + c.ext)).string());
    args.push_back((dir / "in" / c.good_asset).string());
    args.push_back((dir / "in" / "README.txt").string());
    const auto r = mbtest::mediabatch(args);
    EXPECT_EQ(r.exit_code, 1) << c.command << "\n" << r.out << r.err;
    const auto got = records(report);
    expect_broken_ones_failed(got, c);
    ASSERT_EQ(got.count("README.txt"), 1u) << c.command;
    EXPECT_EQ(got.at("README.txt").status, "skipped") << c.command;
    EXPECT_TRUE(contains(got.at("README.txt").error, "the file is text")) << got.at("README.txt").error;
  }
}

// What the file is, when it is of a known kind but not this command's: a PNG named .wav.
TEST(BrokenCli, AFileOfAnotherKindSaysWhatItIs) {
  mbtest::TempDir dir;
  fs::copy_file(mbtest::asset("photo_drawing.png"), dir / "song.wav");
  const auto r = mbtest::mediabatch({"flac", "-o", (dir / "out").string(), (dir / "song.wav").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.out + r.err, "not a WAV file (RIFF/RF64 WAVE) or a cue sheet: the file is a PNG image"))
      << r.out << r.err;
}

// Files that are not inputs but are of their kind stay out of a walk without a word: a FLAC in
// a folder of WAVs, a TypeScript source beside transport streams.
TEST(BrokenCli, FilesOfTheirOwnKindStayOutOfAWalk) {
  mbtest::TempDir dir;
  fs::create_directories(dir / "in");
  fs::copy_file(mbtest::asset("track01.cdda.wav"), dir / "in" / "a.wav");
  auto r = mbtest::mediabatch({"flac", "-q", (dir / "in" / "a.wav").string(), "-o", (dir / "flac").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  fs::copy_file(dir / "flac" / "a.flac", dir / "in" / "earlier.flac");
  mbtest::write_file(dir / "in" / "app.ts", "export const answer: number = 42;\n");
  mbtest::write_file(dir / "in" / "empty.ts", "");
  const fs::path report = dir / "report.jsonl";
  r = mbtest::mediabatch({"flac", "-o", (dir / "out").string(), "--report", report.string(), (dir / "in").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(records(report).size(), 1u) << mbtest::read_file(report);
  const fs::path video_report = dir / "video.jsonl";
  r = mbtest::mediabatch({"video", "-o", (dir / "out").string(), "--report", video_report.string(), (dir / "in").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(records(video_report).empty()) << mbtest::read_file(video_report);
}

// A file the user may not read fails with the system's reason, walked or named; the test runs
// mediabatch as nobody, since root reads everything.
TEST(BrokenCli, AnUnreadableFileFailsWithTheSystemsReason) {
  REQUIRE_TOOL("setpriv");
  mbtest::TempDir dir;
  fs::create_directories(dir / "in");
  fs::copy_file(mbtest::asset("track01.cdda.wav"), dir / "in" / "a.wav");
  fs::copy_file(mbtest::asset("track02.cdda.wav"), dir / "in" / "secret.wav");
  fs::permissions(dir.path(), fs::perms::all);
  fs::permissions(dir / "in", fs::perms::all);
  fs::permissions(dir / "in" / "a.wav", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  fs::permissions(dir / "in" / "secret.wav", fs::perms::owner_read | fs::perms::owner_write);
  for (const bool walk : {true, false}) {
    const fs::path report = dir / (walk ? "walk.jsonl" : "named.jsonl");
    std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", MEDIABATCH_BINARY, "flac",
                                  "-o", (dir / "out").string(), "--report", report.string()};
    if (walk) {
      argv.push_back((dir / "in").string());
    } else {
      argv.push_back((dir / "in" / "a.wav").string());
      argv.push_back((dir / "in" / "secret.wav").string());
    }
    const auto r = mbtest::run(argv);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    const auto got = records(report);
    ASSERT_EQ(got.count("secret.wav"), 1u) << mbtest::read_file(report);
    EXPECT_EQ(got.at("secret.wav").status, "failed");
    EXPECT_EQ(got.at("secret.wav").error, "Permission denied");
    EXPECT_EQ(got.at("a.wav").status, "ok") << got.at("a.wav").error;
    fs::remove_all(dir / "out");
  }
}
