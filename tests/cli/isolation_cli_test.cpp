// Crash containment through the real CLI (build/tests/mediabatch_fake): files whose encoder
// aborts, segfaults or is killed for memory fail alone, with the reason; every other file is
// converted, in the order asked, and nothing is left behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.hpp"

using mbtest::fake_mediabatch;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> report_lines(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::istringstream in(mbtest::read_file(p));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::size_t hidden_files(const fs::path& dir) {
  std::size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().rfind(".", 0) == 0) ++n;
  return n;
}

// 200 inputs, three of which crash their worker; the others take a little time each so
// that crashers share the worker with innocent files.
void make_batch(const fs::path& in) {
  fs::create_directories(in);
  for (int i = 0; i < 200; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%03d.fk", i);
    std::string body = "FAKE\nsleep_ms " + std::to_string(i % 7) + "\n";
    if (i == 20) body = "FAKE\nsleep_ms 30\nabort\n";
    if (i == 101) body = "FAKE\nsegv\n";
    if (i == 150) body = "FAKE\nchunks 2\noom\n";
    mbtest::write_file(in / name, body);
  }
}

}  // namespace

TEST(IsolationCli, CrashingFilesFailAloneAndEveryOtherFileIsConverted) {
  mbtest::TempDir dir;
  make_batch(dir / "in");
  const fs::path report = dir / "report.jsonl";
  auto r = fake_mediabatch({"fake", "-j", "2", "--order", "input", "--report", report.string(), "-o",
                            (dir / "out").string(), (dir / "in").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = report_lines(report);
  ASSERT_EQ(lines.size(), 200u);
  std::map<std::string, std::string> failed;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%03zu.fk", i);
    EXPECT_EQ(fs::path(lines[i]["input"].get<std::string>()).filename(), name) << "not in input order";
    if (lines[i]["status"] == "failed") failed[name] = lines[i]["error"];
    else EXPECT_EQ(lines[i]["status"], "ok") << name;
  }
  ASSERT_EQ(failed.size(), 3u) << r.err;
  EXPECT_EQ(failed["f020.fk"].rfind("crashed: SIGABRT", 0), 0u) << failed["f020.fk"];
  EXPECT_NE(failed["f020.fk"].find("deliberate assertion `input is sane' failed"), std::string::npos)
      << failed["f020.fk"];
  // SIGSEGV; under a sanitizer its handler turns the fault into an exit code.
  EXPECT_EQ(failed["f101.fk"].rfind("crashed: ", 0), 0u) << failed["f101.fk"];
  EXPECT_EQ(failed["f150.fk"].rfind("crashed: SIGKILL", 0), 0u) << failed["f150.fk"];
  std::size_t outputs = 0;
  for (auto& e : fs::directory_iterator(dir / "out")) outputs += e.path().extension() == ".out";
  EXPECT_EQ(outputs, 197u);
  EXPECT_EQ(hidden_files(dir / "out"), 0u) << "a temporary file was left";
  EXPECT_NE(r.err.find("197 ok, 3 failed"), std::string::npos) << r.err;
}

TEST(IsolationCli, InnocentFilesRunningBesideACrashAreRedoneNotFailed) {
  mbtest::TempDir dir;
  // Three slow files are running when the fourth aborts: all three must come out ok.
  for (int i = 0; i < 3; ++i) mbtest::write_file(dir / ("slow" + std::to_string(i) + ".fk"), "FAKE\nsleep_ms 400\n");
  mbtest::write_file(dir / "bad.fk", "FAKE\nsleep_ms 100\nabort\n");
  auto r = fake_mediabatch({"fake", "-j", "4", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fs::exists(dir / ("slow" + std::to_string(i) + ".out"))) << r.out << r.err;
  EXPECT_NE(r.out.find("bad.fk: crashed: SIGABRT"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("3 ok, 1 failed"), std::string::npos) << r.err;
  EXPECT_EQ(hidden_files(dir.path()), 0u);
}

TEST(IsolationCli, WithoutIsolationACrashEndsTheBatch) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "bad.fk", "FAKE\nabort\n" + std::string(100, '#'));  // the larger starts first
  mbtest::write_file(dir / "good.fk", "FAKE\nsleep_ms 500\n");
  auto r = fake_mediabatch({"fake", "-j", "1", "--no-isolation", (dir / "bad.fk").string(), (dir / "good.fk").string()});
  EXPECT_EQ(r.exit_code, 128 + SIGABRT) << r.err;
  EXPECT_FALSE(fs::exists(dir / "good.out"));
}

// Real files: the DICOM test files Debian's python3-pydicom ships. GDCM (built with its
// assertions on) aborts on three of them; each fails alone, the rest are exported.
TEST(IsolationCli, PydicomTestFilesExportAroundTheFilesThatCrashGdcm) {
  const fs::path folder = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  ASSERT_TRUE(fs::is_directory(folder)) << "python3-pydicom is not installed (scripts/install-deps.sh installs it)";
  mbtest::TempDir dir;
  const fs::path report = dir / "report.jsonl";
  auto r = mbtest::mediabatch({"dicom", "-j", "2", "--report", report.string(), "-o", (dir / "out").string(),
                               folder.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::size_t ok = 0;
  std::vector<std::string> crashed;
  for (const auto& line : report_lines(report)) {
    const std::string name = fs::path(line["input"].get<std::string>()).filename().string();
    if (line["status"] == "ok") ++ok;
    const std::string error = line["error"];
    if (error.rfind("crashed: SIGABRT", 0) == 0) {
      crashed.push_back(name);
      EXPECT_NE(error.find("gdcmAttribute.h"), std::string::npos) << error;
    }
  }
  std::sort(crashed.begin(), crashed.end());
  EXPECT_EQ(crashed, (std::vector<std::string>{"rtdose_1frame.dcm", "rtdose_expb_1frame.dcm", "rtdose_rle_1frame.dcm"}));
  std::size_t pngs = 0;
  for (auto& e : fs::directory_iterator(dir / "out")) pngs += e.path().extension() == ".png";
  EXPECT_GE(ok, 40u);
  EXPECT_EQ(pngs, ok);
  EXPECT_EQ(hidden_files(dir / "out"), 0u);
}
