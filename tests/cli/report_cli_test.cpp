// `report merge` and `--retry-failed`: how shards' logs come together and failures re-run.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using mbtest::mediabatch;
namespace fs = std::filesystem;

namespace {
bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
}  // namespace

TEST(ReportCli, MergeCombinesShardsAndListsFailures) {
  mbtest::TempDir dir;
  std::string list;
  for (int i = 0; i < 30; ++i) list += std::to_string(i) + "\n";
  std::vector<std::string> reports;
  for (int k = 1; k <= 3; ++k) {
    auto report = (dir / ("r" + std::to_string(k) + ".jsonl")).string();
    reports.push_back(report);
    // Inputs divisible by 7 fail.
    auto r = mediabatch({"exec", "-q", "--shard", std::to_string(k) + "/3", "--report", report, "--", "sh", "-c",
                         "test $(($0 % 7)) -ne 0"},
                        list);
    EXPECT_NE(r.exit_code, 2) << r.err;
  }
  std::vector<std::string> args{"report", "merge"};
  args.insert(args.end(), reports.begin(), reports.end());
  auto m = mediabatch(args);
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_TRUE(contains(m.out, "3 reports, 30 records, 30 inputs: 25 ok, 5 failed, 0 skipped")) << m.out;
  for (const char* f : {"  0: exit code 1", "  7: exit code 1", "  14: exit code 1", "  21: exit code 1", "  28: exit code 1"})
    EXPECT_TRUE(contains(m.out, f)) << f << "\n" << m.out;
  EXPECT_FALSE(contains(m.out, "more than one report"));
}

TEST(ReportCli, RetryFailedRunsOnlyTheFailuresAndMergeTakesTheLastRecord) {
  mbtest::TempDir dir;
  auto first = (dir / "first.jsonl").string(), second = (dir / "second.jsonl").string();
  auto marker = dir / "fixed";
  // Fails until the marker exists.
  const std::vector<std::string> cmd{"--", "sh", "-c", "test $(($0 % 2)) -eq 0 || test -e " + marker.string()};
  std::vector<std::string> a{"exec", "-q", "--report", first};
  a.insert(a.end(), cmd.begin(), cmd.end());
  EXPECT_EQ(mediabatch(a, "1\n2\n3\n4\n").exit_code, 1);
  mbtest::write_file(marker, "");
  std::vector<std::string> b{"exec", "--order", "input", "--retry-failed", first, "--report", second, "--", "echo", "again"};
  auto retry = mediabatch(b);
  EXPECT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_EQ(retry.out, "again 1\nagain 3\n");
  auto m = mediabatch({"report", "merge", first, second});
  EXPECT_EQ(m.exit_code, 0) << m.out;
  EXPECT_TRUE(contains(m.out, "4 inputs: 4 ok, 0 failed")) << m.out;
  EXPECT_TRUE(contains(m.out, "2 inputs appear in more than one report")) << m.out;
}

TEST(ReportCli, RetryFailedFiltersTheNamedInputsKeepingTheirPlaces) {
  mbtest::TempDir dir;
  fs::create_directories(dir / "in/sub");
  mbtest::write_file(dir / "in/sub/a.fk", "FAKE\nfail not yet\n");
  mbtest::write_file(dir / "in/sub/b.fk", "FAKE\n");
  auto report = (dir / "r.jsonl").string();
  auto out = (dir / "out").string();
  auto r1 = mbtest::fake_mediabatch({"fake", "-r", "-o", out, "--report", report, (dir / "in").string()});
  EXPECT_EQ(r1.exit_code, 1);
  mbtest::write_file(dir / "in/sub/a.fk", "FAKE\n");
  auto r2 = mbtest::fake_mediabatch({"fake", "-r", "-o", out, "--retry-failed", report, (dir / "in").string()});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_TRUE(contains(r2.err, "1 ok, 0 failed, 0 skipped")) << r2.err;
  EXPECT_TRUE(fs::exists(dir / "out/sub/a.out"));  // mirrored below -o as in the first run
}

TEST(ReportCli, ACutShortLineIsSkippedWithItsLineNumber) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "r.jsonl",
                     "{\"input\":\"a\",\"status\":\"ok\",\"seconds\":1.5}\n{\"input\":\"b\",\"status\":\"fai");
  auto m = mediabatch({"report", "merge", (dir / "r.jsonl").string()});
  EXPECT_EQ(m.exit_code, 0);
  EXPECT_TRUE(contains(m.out, "1 inputs: 1 ok")) << m.out;
  EXPECT_TRUE(contains(m.err, "r.jsonl:2: not a report line, skipped")) << m.err;
  EXPECT_EQ(mediabatch({"report", "merge", (dir / "missing.jsonl").string()}).exit_code, 2);
}
