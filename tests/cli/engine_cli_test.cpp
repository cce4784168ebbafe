// The engine end to end through the real CLI, with the fake encoders of tests/fakes/
// (build/tests/mediabatch_fake): outputs, skipping, conflicts, failures, Ctrl-C, kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "mediabatch/temp_files.hpp"
#include "support/test_support.hpp"

using mbtest::fake_mediabatch;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).generic_string());
  std::sort(out.begin(), out.end());
  return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST(EngineCli, OutputsMirrorTheTreeUnderOutputDir) {
  mbtest::TempDir dir;
  fs::create_directories(dir / "in/a/b");
  mbtest::write_file(dir / "in/top.fk", "FAKE\n");
  mbtest::write_file(dir / "in/a/b/deep.fk", "FAKE\n");
  mbtest::write_file(dir / "in/a/notes.txt", "not ours");
  mbtest::write_file(dir / "single.fk", "FAKE single\n");
  auto r = fake_mediabatch({"fake", "-r", "-o", (dir / "out").string(), (dir / "in").string(), (dir / "single.fk").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{"a/b/deep.out", "single.out", "top.out"}));
  EXPECT_EQ(mbtest::read_file(dir / "out/single.out"), "FAKE single\n");
  EXPECT_TRUE(contains(r.out, "ok      " + (dir / "in/top.fk").string() + " -> " + (dir / "out/top.out").string()));
  // Without -r only the top level; without -o next to the input.
  auto flat = fake_mediabatch({"fake", (dir / "in").string()});
  ASSERT_EQ(flat.exit_code, 0) << flat.err;
  EXPECT_TRUE(fs::exists(dir / "in/top.out"));
  EXPECT_FALSE(fs::exists(dir / "in/a/b/deep.out"));
}

TEST(EngineCli, UpToDateOutputsAreSkippedUnlessForced) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "x.fk", "FAKE\n");
  ASSERT_EQ(fake_mediabatch({"fake", (dir / "x.fk").string()}).exit_code, 0);
  auto again = fake_mediabatch({"fake", (dir / "x.fk").string()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_TRUE(contains(again.out, "skipped " + (dir / "x.fk").string() + ": output is up to date")) << again.out;
  auto forced = fake_mediabatch({"fake", "--force", (dir / "x.fk").string()});
  EXPECT_TRUE(contains(forced.out, "ok      ")) << forced.out;
  // An input newer than its output is converted again.
  fs::last_write_time(dir / "x.out", fs::last_write_time(dir / "x.fk") - std::chrono::hours(1));
  auto stale = fake_mediabatch({"fake", (dir / "x.fk").string()});
  EXPECT_TRUE(contains(stale.out, "ok      ")) << stale.out;
}

TEST(EngineCli, TwoInputsMappingToOneOutputAreRefusedBeforeAnyWork) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "song.fk", "FAKE\n");
  mbtest::write_file(dir / "song.fk2", "FAKE\n");
  mbtest::write_file(dir / "other.fk", "FAKE\n");
  auto r = fake_mediabatch({"fake", dir.path().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "both map to " + (dir / "song.out").string())) << r.err;
  EXPECT_FALSE(fs::exists(dir / "other.out"));
}

TEST(EngineCli, AnInputIsNeverOverwritten) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "a.fk", "FAKE\n");
  mbtest::write_file(dir / "a.out", "FAKE I am an input\n");
  auto r = fake_mediabatch({"fake", "--force", (dir / "a.fk").string(), (dir / "a.out").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "would overwrite the input")) << r.err;
  EXPECT_EQ(mbtest::read_file(dir / "a.out"), "FAKE I am an input\n");
}

TEST(EngineCli, AFailingFileFailsAloneAndLeavesNoOutput) {
  mbtest::TempDir dir;
  for (int i = 0; i < 6; ++i) mbtest::write_file(dir / ("f" + std::to_string(i) + ".fk"), "FAKE\n");
  mbtest::write_file(dir / "bad.fk", "FAKE\nfail decoding frame 812: Invalid data found\n");
  mbtest::write_file(dir / "std.fk", "FAKE\nthrow_std\n");
  auto report = dir / "report.jsonl";
  auto r = fake_mediabatch({"fake", "-j", "2", "--report", report.string(), "-o", (dir / "out").string(), dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "bad.fk").string() + ": decoding frame 812: Invalid data found")) << r.out;
  EXPECT_TRUE(contains(r.out, "a std::runtime_error from the job"));
  EXPECT_FALSE(fs::exists(dir / "out/bad.out"));
  EXPECT_EQ(files_in(dir / "out").size(), 6u);
  EXPECT_TRUE(contains(r.err, "6 ok, 2 failed, 0 skipped")) << r.err;
  int lines = 0;
  std::istringstream in(mbtest::read_file(report));
  for (std::string l; std::getline(in, l); ++lines) {
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["command"], "fake");
    if (j["status"] == "ok") {
      EXPECT_GT(j["bytes_out"].get<int>(), 0);
    }
  }
  EXPECT_EQ(lines, 8);
}

TEST(EngineCli, ConvertDispatchesByContentAndSkipsUnknownKinds) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "looks-like.txt", "FAKE but named .txt\n");
  mbtest::write_file(dir / "always.bin", "FAIL\n");
  mbtest::write_file(dir / "readme.md", "# nothing we know\n");
  auto r = fake_mediabatch({"convert", "-o", (dir / "out").string(), dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(fs::exists(dir / "out/looks-like.out"));
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "always.bin").string() + ": deliberate failure")) << r.out;
  EXPECT_TRUE(contains(r.out, "skipped " + (dir / "readme.md").string() + ": not a file of any known kind")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "out/always.fail"));
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{"looks-like.out"}));  // no temp file left
}

TEST(EngineCli, NamedFilesOfAnotherKindOrMissingAreReportedPerFile) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "ok.fk", "FAKE\n");
  mbtest::write_file(dir / "other.fk", "NOT FAKE\n");
  auto r = fake_mediabatch({"fake", (dir / "ok.fk").string(), (dir / "other.fk").string(), (dir / "gone.fk").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "skipped " + (dir / "other.fk").string() + ": not a fake input")) << r.out;
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "gone.fk").string() + ": No such file or directory")) << r.out;
  EXPECT_TRUE(fs::exists(dir / "ok.out"));
}

// A link to itself and a link to nothing say so, not "No such file or directory".
TEST(EngineCli, BrokenSymbolicLinksNamedSayWhatIsWrong) {
  mbtest::TempDir dir;
  fs::create_symlink("self.fk", dir / "self.fk");
  fs::create_symlink("nowhere.fk", dir / "dangling.fk");
  auto r = fake_mediabatch({"fake", (dir / "self.fk").string(), (dir / "dangling.fk").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "self.fk").string() + ": Too many levels of symbolic links")) << r.out;
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "dangling.fk").string() + ": a symbolic link to nothing (nowhere.fk)"))
      << r.out;
}

// Usage errors a user can act on: what is wrong with the value, and where options go.
TEST(EngineCli, UsageErrorsSayWhatToChange) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"fake", "--jobs", "abc", "x"}, "--jobs: not a number: abc"},
      {{"fake", "-j", "0", "x"}, "--jobs: must be 1 to 4096, not 0"},
      {{"fake", "-j", "99999999999999999999", "x"}, "--jobs: must be 1 to 4096, not 99999999999999999999"},
      {{"fake", "--retries", "2x", "x"}, "--retries: not a number: 2x"},
      {{"fake", "--timeout", "-1", "x"}, "--timeout: must be positive, not -1"},
      {{"fake", "--timeout", "soon", "x"}, "--timeout: not a number of seconds: soon"},
      {{"fake", "--watch", "--settle", "-2", "x"}, "--settle: must be 0 or more, not -2"},
      {{"-j", "2", "fake", "x"}, "put common options after the command name: mediabatch fake -j 2 ..."},
  };
  for (const auto& [args, want] : cases) {
    const auto r = fake_mediabatch(args);
    EXPECT_EQ(r.exit_code, 2) << want;
    EXPECT_TRUE(contains(r.err, want)) << r.err;
    EXPECT_LT(r.err.size(), 300u) << r.err;
  }
}

TEST(EngineCli, DryRunPlansAndWritesNothing) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "a.fk", "FAKE\n");
  auto r = fake_mediabatch({"fake", "--dry-run", "-o", (dir / "o").string(), (dir / "a.fk").string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, (dir / "a.fk").string() + " -> " + (dir / "o/a.out").string() + "\n");
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST(EngineCli, AnEncoderCanSkipAFileWithNothingToConvert) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "sr.fk", "FAKE\nskip no pixel data\n");
  auto r = fake_mediabatch({"fake", (dir / "sr.fk").string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "skipped " + (dir / "sr.fk").string() + ": no pixel data")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "sr.out"));
  EXPECT_TRUE(contains(r.err, "0 ok, 0 failed, 1 skipped")) << r.err;
}

TEST(EngineCli, ABatchSmallerThanTheSlotsSharesThemLargestFilesFirst) {
  mbtest::TempDir dir;
  const std::string ask = "FAKE\nthreads\n";
  mbtest::write_file(dir / "small.fk", ask);
  mbtest::write_file(dir / "big.fk", ask + std::string(2000, 'x'));
  mbtest::write_file(dir / "mid.fk", ask + std::string(1000, 'x'));
  auto report = dir / "r.jsonl";
  auto r = fake_mediabatch({"fake", "-j", "8", "--report", report.string(), (dir / "small.fk").string(),
                            (dir / "big.fk").string(), (dir / "mid.fk").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::map<std::string, std::string> given;
  std::istringstream lines(mbtest::read_file(report));
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    given[fs::path(j["input"].get<std::string>()).filename().string()] = j["warning"];
  }
  EXPECT_EQ(given["big.fk"], "threads 3");
  EXPECT_EQ(given["mid.fk"], "threads 3");
  EXPECT_EQ(given["small.fk"], "threads 2");
  // As many files as slots: one thread each.
  auto report2 = dir / "r2.jsonl";
  r = fake_mediabatch({"fake", "-j", "3", "--force", "--report", report2.string(), (dir / "small.fk").string(),
                       (dir / "big.fk").string(), (dir / "mid.fk").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream again(mbtest::read_file(report2));
  for (std::string line; std::getline(again, line);)
    EXPECT_EQ(nlohmann::json::parse(line)["warning"], "threads 1") << line;
}

TEST(EngineCli, WarningsReachTheResult) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "w.fk", "FAKE\nwarn Premature end of JPEG file\n");
  auto report = dir / "r.jsonl";
  auto r = fake_mediabatch({"fake", "--report", report.string(), (dir / "w.fk").string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "[warning: Premature end of JPEG file]")) << r.out;
  EXPECT_TRUE(contains(r.err, "1 ok, 0 failed, 0 skipped, 1 with warnings;")) << r.err;
  EXPECT_EQ(nlohmann::json::parse(mbtest::read_file(report))["warning"], "Premature end of JPEG file");
}

TEST(EngineCli, TimeoutStopsAnEncoder) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "slow.fk", "FAKE\nsleep_ms 20000\n");
  mbtest::write_file(dir / "fast.fk", "FAKE\n");
  auto r = fake_mediabatch({"fake", "--timeout", "0.3", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "failed  " + (dir / "slow.fk").string() + ": timed out after 0.3 s")) << r.out;
  EXPECT_TRUE(fs::exists(dir / "fast.out"));
  EXPECT_FALSE(fs::exists(dir / "slow.out"));
}

// Unsupervised, so that the process writing the file is the one killed (a supervised worker
// outlives its supervisor only long enough to remove its own temporaries).
TEST(EngineCli, KillNineMidWriteLeavesNoFinalFile) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "big.fk", "FAKE\nchunks 400\n");
  auto pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "--no-isolation", "-o", (dir / "out").string(),
                            (dir / "big.fk").string()},
                           dir / "stdout", dir / "stderr");
  // Wait until the temp file is being written, then kill -9.
  for (int i = 0; i < 100 && !(fs::exists(dir / "out") && !files_in(dir / "out").empty()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  EXPECT_EQ(mbtest::wait_for(pid), 128 + SIGKILL);
  auto left = files_in(dir / "out");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].substr(0, 5), ".big.");  // only the hidden temp file
  EXPECT_FALSE(fs::exists(dir / "out/big.out"));
  // The next run converts it and removes the killed run's temporary file.
  mbtest::write_file(dir / "big.fk", "FAKE\n");
  auto again = fake_mediabatch({"fake", "-o", (dir / "out").string(), (dir / "big.fk").string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(mbtest::read_file(dir / "out/big.out"), "FAKE\n");
  EXPECT_EQ(files_in(dir / "out"), std::vector<std::string>{"big.out"});
}

// Temporary files of writers that are gone are removed at the start of a run; a live
// writer's, or another machine's (a shared folder), are left unless a day old.
TEST(EngineCli, StaleTemporariesOfDeadWritersAreRemoved) {
  mbtest::TempDir dir;
  for (const char* sub : {"in", "out", "slow"}) fs::create_directories(dir / sub);
  mbtest::write_file(dir / "in/a.fk", "FAKE\n");
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  mbtest::wait_for(dead);
  const pid_t live_other = mbtest::start({"sleep", "30"}, dir / "sleep.out", dir / "sleep.err");
  mbtest::write_file(dir / "slow/s.fk", "FAKE\nsleep_ms 20000\n");
  const pid_t live_mediabatch =
      mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "--no-isolation", (dir / "slow").string()}, dir / "slow.out",
                    dir / "slow.err");
  for (int i = 0; i < 200 && mbtest::read_file("/proc/" + std::to_string(live_mediabatch) + "/comm").rfind("mediabatch", 0) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  char host[9];
  std::snprintf(host, sizeof host, "%08x", mediabatch::this_host_id());
  const std::string here = host, elsewhere = here == "00000001" ? "00000002" : "00000001";
  auto temp = [&](const std::string& h, pid_t pid) {
    const fs::path p = dir / ("out/.x.mbtmp" + h + "-" + std::to_string(pid) + "-0.out");
    mbtest::write_file(p, "partial");
    return p;
  };
  const fs::path of_dead = temp(here, dead), of_non_mediabatch = temp(here, live_other);
  const fs::path of_other_host = temp(elsewhere, dead), old_of_other_host = temp(elsewhere, dead + 1);
  fs::last_write_time(old_of_other_host, fs::file_time_type::clock::now() - std::chrono::hours(25));
  const fs::path of_live_mediabatch = temp(here, live_mediabatch);
  const fs::path unrelated = dir / "out/.notes.txt";
  mbtest::write_file(unrelated, "mine");

  auto r = fake_mediabatch({"fake", "-v", "-o", (dir / "out").string(), (dir / "in").string()});
  for (pid_t p : {live_other, live_mediabatch}) {
    kill(p, SIGKILL);
    mbtest::wait_for(p);
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "removed 3 stale temporary files of killed runs from 1 output folder")) << r.err;
  EXPECT_FALSE(fs::exists(of_dead));
  EXPECT_FALSE(fs::exists(of_non_mediabatch));
  EXPECT_FALSE(fs::exists(old_of_other_host));
  EXPECT_TRUE(fs::exists(of_other_host));
  EXPECT_TRUE(fs::exists(of_live_mediabatch));
  EXPECT_TRUE(fs::exists(unrelated));
  EXPECT_TRUE(fs::exists(dir / "out/a.out"));
}

TEST(EngineCli, CtrlCCancelsRemovesTempFilesPrintsSummaryExits130) {
  mbtest::TempDir dir;
  for (int i = 0; i < 6; ++i) mbtest::write_file(dir / ("s" + std::to_string(i) + ".fk"), "FAKE\nchunks 400\n");
  auto report = dir / "r.jsonl";
  auto pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "-j", "2", "--report", report.string(), "-o",
                            (dir / "out").string(), dir.path().string()},
                           dir / "stdout", dir / "stderr");
  for (int i = 0; i < 100 && !(fs::exists(dir / "out") && files_in(dir / "out").size() >= 2); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGINT);
  EXPECT_EQ(mbtest::wait_for(pid), 130);
  EXPECT_TRUE(files_in(dir / "out").empty());
  auto err = mbtest::read_file(dir / "stderr");
  EXPECT_TRUE(contains(err, "0 ok, 0 failed, 0 skipped, 2 interrupted, 4 not started")) << err;
  // The log is valid JSON Lines of what finished: failed for old readers, and interrupted.
  std::istringstream in(mbtest::read_file(report));
  int n = 0;
  for (std::string l; std::getline(in, l); ++n) {
    const auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["error"], "interrupted");
    EXPECT_EQ(j["status"], "failed");
    EXPECT_EQ(j["interrupted"], true);
  }
  EXPECT_EQ(n, 2);
}

TEST(EngineCli, SecondCtrlCExitsAtOnceLeavingNoPartialFile) {
  mbtest::TempDir dir;
  // This job does not listen for the first Ctrl-C for 20 s; the second must end the run at once.
  mbtest::write_file(dir / "stubborn.fk", "FAKE\nbusy_ms 20000\n");
  auto pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "-o", (dir / "out").string(), (dir / "stubborn.fk").string()},
                           dir / "stdout", dir / "stderr");
  for (int i = 0; i < 100 && !(fs::exists(dir / "out") && !files_in(dir / "out").empty()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(files_in(dir / "out").empty());  // the temp file exists
  auto start = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGINT);
  EXPECT_EQ(mbtest::wait_for(pid), 130);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_TRUE(files_in(dir / "out").empty());  // temp removed, no final file
  EXPECT_TRUE(contains(mbtest::read_file(dir / "stderr"), "interrupted twice"));
}

TEST(EngineCli, ProgressLineAndSummaryOnStderr) {
  mbtest::TempDir dir;
  for (int i = 0; i < 3; ++i) mbtest::write_file(dir / ("p" + std::to_string(i) + ".fk"), "FAKE\nsleep_ms 300\n");
  auto r = fake_mediabatch({"fake", "-j", "1", "--progress", "always", dir.path().string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "[1/3] 0 failed, elapsed ")) << r.err;
  EXPECT_TRUE(contains(r.err, "ETA ")) << r.err;
  EXPECT_TRUE(contains(r.err, "3 ok, 0 failed, 0 skipped;")) << r.err;
  EXPECT_TRUE(contains(r.err, "x parallel")) << r.err;
  auto quiet = fake_mediabatch({"fake", "-q", "--force", dir.path().string()});
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  auto never = fake_mediabatch({"fake", "--force", "--progress", "never", dir.path().string()});
  EXPECT_FALSE(contains(never.err, "[1/3]"));
}

TEST(EngineCli, OutputsOfAnEarlierRunInPlaceAreNotTakenAsInputs) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "a.fk", "FAKE\n");
  ASSERT_EQ(fake_mediabatch({"fake", dir.path().string()}).exit_code, 0);
  ASSERT_TRUE(fs::exists(dir / "a.out"));  // it starts with FAKE too, so the fake encoder takes it
  auto again = fake_mediabatch({"fake", "--force", dir.path().string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.err, "1 ok, 0 failed, 0 skipped")) << again.err;
  // Named on its own, an input whose output is itself fails alone.
  auto self = fake_mediabatch({"fake", (dir / "a.out").string(), (dir / "a.fk").string(), "-o", (dir / "o").string()});
  EXPECT_EQ(self.exit_code, 2);  // under -o, a.fk and a.out both map to o/a.out
  auto in_place = fake_mediabatch({"fake", "--force", (dir / "a.out").string()});
  EXPECT_EQ(in_place.exit_code, 1);
  EXPECT_TRUE(contains(in_place.out, "the output would overwrite the input itself")) << in_place.out;
}

TEST(EngineCli, AJobWithSeveralOutputsReportsThemAllAndFinishSeesThemAll) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "multi.fk", "FAKE\nextra multi_2.out\nextra multi_3.out\n");
  auto report = dir / "r.jsonl";
  auto log = dir / "finish.log";
  setenv("MEDIABATCH_FAKE_FINISH_LOG", log.c_str(), 1);
  auto r = fake_mediabatch({"fake", "--report", report.string(), "-o", (dir / "o").string(), (dir / "multi.fk").string()});
  unsetenv("MEDIABATCH_FAKE_FINISH_LOG");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, " -> " + (dir / "o/multi.out").string() + " (+2 more)")) << r.out;
  auto j = nlohmann::json::parse(mbtest::read_file(report));
  EXPECT_EQ(j["output"], (dir / "o/multi.out").string());
  EXPECT_EQ(j["outputs"].size(), 3u);
  EXPECT_EQ(j["outputs"][2], (dir / "o/multi_3.out").string());
  EXPECT_EQ(mbtest::read_file(log), (dir / "o/multi.out").string() + "\n" + (dir / "o/multi_2.out").string() + "\n" +
                                        (dir / "o/multi_3.out").string() + "\n");
  EXPECT_EQ(mbtest::read_file(dir / "o/multi_3.out"), "extra");
}

// --fsync: each output is flushed before its rename and its folder after it; without it,
// nothing is (strace counts the calls, in the worker process too).
TEST(EngineCli, FsyncFlushesEachOutputAndItsFolder) {
  REQUIRE_TOOL("strace");
  mbtest::TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) mbtest::write_file(dir / ("in/f" + std::to_string(i) + ".fk"), "FAKE\n");
  auto fsyncs = [&](const std::vector<std::string>& extra) {
    // LeakSanitizer cannot work under ptrace: off for the traced run of an ASan build.
    std::vector<std::string> argv{"strace", "-f", "-qq", "-E", "ASAN_OPTIONS=detect_leaks=0", "-e", "trace=fsync", "-o",
                                  (dir / "trace").string(),
                                  MEDIABATCH_FAKE_BINARY, "fake", "-q", "--force", "-o", (dir / "out").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back((dir / "in").string());
    const auto r = mbtest::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string trace = mbtest::read_file(dir / "trace");
    std::size_t n = 0;
    for (auto at = trace.find("fsync("); at != std::string::npos; at = trace.find("fsync(", at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(fsyncs({}), 0u);
  EXPECT_EQ(fsyncs({"--fsync"}), 3u + 3u);  // three files, and their folder once per job
  EXPECT_EQ(files_in(dir / "out").size(), 3u);
}

// --retries: a transient failure (an I/O error) runs again after the others, with a short
// wait, until it succeeds or the attempts are used up; a plain failure runs once; the report
// says how many attempts each took and holds one record per file.
TEST(EngineCli, RetriesTryTransientFailuresAgain) {
  for (const bool isolated : {true, false}) {
    mbtest::TempDir dir;
    fs::create_directories(dir / "in");
    mbtest::write_file(dir / "in/flaky.fk", "FAKE\neio_times 2 " + (dir / "count").string() + "\n");
    mbtest::write_file(dir / "in/broken.fk", "FAKE\nfail not decodable\n");
    mbtest::write_file(dir / "in/fine.fk", "FAKE\n");
    const fs::path report = dir / "r.jsonl";
    std::vector<std::string> args{"fake", "--retries", "3", "--report", report.string(), "-o", (dir / "out").string()};
    if (!isolated) args.push_back("--no-isolation");
    args.push_back((dir / "in").string());
    auto r = fake_mediabatch(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    std::map<std::string, nlohmann::json> records;
    std::istringstream lines(mbtest::read_file(report));
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line);
      records[fs::path(j["input"].get<std::string>()).filename().string()] = j;
    }
    ASSERT_EQ(records.size(), 3u) << mbtest::read_file(report);
    EXPECT_EQ(records["flaky.fk"]["status"], "ok") << records["flaky.fk"];
    EXPECT_EQ(records["flaky.fk"]["attempts"], 3);
    EXPECT_EQ(records["broken.fk"]["status"], "failed");
    EXPECT_EQ(records["broken.fk"]["attempts"], 1);
    EXPECT_EQ(records["fine.fk"]["attempts"], 1);
    EXPECT_EQ(mbtest::read_file(dir / "count"), "xxx");
    EXPECT_TRUE(fs::exists(dir / "out/flaky.out"));

    // Out of attempts: the last failure is the file's result.
    fs::remove(dir / "count");
    args[2] = "1";
    args.insert(args.begin() + 1, "--force");
    r = fake_mediabatch(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("flaky.fk: reading"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Input/output error"), std::string::npos) << r.out;
    EXPECT_EQ(mbtest::read_file(dir / "count"), "xx");
  }
}

// exec: any failure is worth another attempt, as with GNU parallel's --retries.
TEST(EngineCli, ExecRetriesAFailingCommand) {
  mbtest::TempDir dir;
  const std::string script = "echo x >> \"$0\"; test $(wc -l < \"$0\") -ge 3";
  auto r = mbtest::mediabatch({"exec", "--retries", "5", "--report", (dir / "r.jsonl").string(), "--", "sh", "-c",
                               script, "{}"},
                              (dir / "tries").string() + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(mbtest::read_file(dir / "r.jsonl"))["attempts"], 3);
}

namespace {

// A 4 MB tmpfs at `at`, unmounted at the end of the scope (tests run as root, as CI does).
struct SmallDisk {
  explicit SmallDisk(const fs::path& where) : at(where) {
    fs::create_directories(at);
    ok = ::mount("tmpfs", at.c_str(), "tmpfs", 0, "size=4m") == 0;
    if (!ok) error = std::strerror(errno);
  }
  ~SmallDisk() {
    if (ok) ::umount2(at.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  fs::path at;
  bool ok = false;
  std::string error;
};

}  // namespace

// --min-free: on a small tmpfs (tests run as root, as CI does), no file starts while the disk
// is nearly full and the progress line says why; when space returns the batch goes on; Ctrl-C
// still ends a batch that waits.
TEST(EngineCli, MinFreeWaitsForDiskSpaceAndGoesOnWhenItReturns) {
  mbtest::TempDir dir;
  const fs::path disk = dir / "disk";
  const SmallDisk mounted(disk);
  ASSERT_TRUE(mounted.ok) << "mount -t tmpfs: " << mounted.error << " (this test needs root)";
  mbtest::write_file(disk / "filler", std::string(3 << 20, 'x'));  // 1 MB left, 2 MB asked
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) mbtest::write_file(dir / ("in/w" + std::to_string(i) + ".fk"), "FAKE\n");
  for (const int ending : {0, SIGINT}) {
    const pid_t pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "--progress", "--min-free", "2M", "-o",
                                     (disk / "out").string(), (dir / "in").string()},
                                    dir / "stdout", dir / "stderr");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_FALSE(fs::exists(disk / "out/w0.out"));
    const std::string err = mbtest::read_file(dir / "stderr");
    EXPECT_NE(err.find("waiting for disk space: 1.0 MB free on " + disk.string() + ", 2.0 MB needed"),
              std::string::npos) << err;
    if (ending == SIGINT) {
      ::kill(pid, SIGINT);
      EXPECT_EQ(mbtest::wait_for(pid), 130);
      EXPECT_NE(mbtest::read_file(dir / "stderr").find("0 ok, 0 failed, 0 skipped, 0 interrupted, 3 not started"),
                std::string::npos) << mbtest::read_file(dir / "stderr");
      continue;
    }
    fs::remove(disk / "filler");
    EXPECT_EQ(mbtest::wait_for(pid), 0) << mbtest::read_file(dir / "stderr");
    EXPECT_EQ(files_in(disk / "out").size(), 3u);
    mbtest::write_file(disk / "filler", std::string(3 << 20, 'x'));
    fs::remove_all(disk / "out");
  }
  EXPECT_EQ(fake_mediabatch({"fake", "--min-free", "lots", (dir / "in").string()}).exit_code, 2);
}

// A file that runs out of disk space while it is written is tried again once the guard finds
// space back (no --retries needed); with --min-free 0 it just fails.
TEST(EngineCli, AFileThatRanOutOfSpaceIsTriedAgainWhenSpaceIsBack) {
  mbtest::TempDir dir;
  const fs::path disk = dir / "disk";
  const SmallDisk mounted(disk);
  ASSERT_TRUE(mounted.ok) << "mount -t tmpfs: " << mounted.error << " (this test needs root)";
  fs::create_directories(dir / "in");
  const fs::path full = dir / "full", report = dir / "r.jsonl";
  // 1.5 MB to write with 1 MB free, and the guard asks for 512 KB.
  mbtest::write_file(dir / "in/big.fk", "FAKE\nfill 1536 " + full.string() + "\n");
  for (const std::string min_free : {"512K", "0"}) {
    mbtest::write_file(disk / "filler", std::string(3 << 20, 'x'));
    fs::remove(full);
    const pid_t pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "--min-free", min_free, "--report",
                                     report.string(), "-o", (disk / "out").string(), (dir / "in").string()},
                                    dir / "stdout", dir / "stderr");
    for (int waited = 0; waited < 2000 && !fs::exists(full); ++waited)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(fs::exists(full)) << mbtest::read_file(dir / "stderr");
    fs::remove(disk / "filler");  // space is back
    const int code = mbtest::wait_for(pid);
    const auto r = nlohmann::json::parse(mbtest::read_file(report));
    if (min_free == "0") {
      EXPECT_EQ(code, 1);
      EXPECT_EQ(r["status"], "failed");
      EXPECT_EQ(r["attempts"], 1);
      EXPECT_NE(r["error"].get<std::string>().find("No space left on device"), std::string::npos) << r.dump();
    } else {
      EXPECT_EQ(code, 0) << mbtest::read_file(dir / "stderr");
      EXPECT_EQ(r["status"], "ok") << r.dump();
      EXPECT_EQ(r["attempts"], 2);
      EXPECT_EQ(fs::file_size(disk / "out/big.out"), 1536u * 1024 + fs::file_size(dir / "in/big.fk")) << "whole";
    }
    fs::remove_all(disk / "out");
  }
}

// --verify: each output is read back before its rename. One damaged between encode and check
// (the engine's test hook) fails alone, with nothing under its final name and no temporary
// left; the others are ok and "verified" in the report, and the summary counts them.
TEST(EngineCli, VerifyFailsADamagedOutputAloneAndMarksTheOthersVerified) {
  for (const std::string how : {"flip", "truncate"}) {
    mbtest::TempDir dir;
    fs::create_directories(dir / "in");
    for (int i = 0; i < 4; ++i)
      mbtest::write_file(dir / ("in/f" + std::to_string(i) + ".fk"), "FAKE\n" + std::string(4000, 'a' + i) + "\n");
    mbtest::write_file(dir / "in/multi.fk", "FAKE\nextra multi_b.out\n");
    ::setenv("MEDIABATCH_TEST_CORRUPT_OUTPUT", ("f2:" + how).c_str(), 1);
    const auto r = fake_mediabatch({"fake", "--verify", "-j", "2", "--report", (dir / "r.jsonl").string(), "-o",
                                    (dir / "out").string(), (dir / "in").string()});
    ::unsetenv("MEDIABATCH_TEST_CORRUPT_OUTPUT");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("4 ok, 1 failed, 0 skipped, 4 verified"), std::string::npos) << r.err;
    std::istringstream lines(mbtest::read_file(dir / "r.jsonl"));
    int verified = 0;
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j["input"].get<std::string>().find("f2.fk") != std::string::npos) {
        EXPECT_EQ(j["status"], "failed");
        EXPECT_FALSE(j.contains("verified"));
        const std::string error = j["error"];
        EXPECT_EQ(error.rfind("verify: output ", 0), 0u) << error;
      } else {
        EXPECT_EQ(j["status"], "ok") << line;
        verified += j.value("verified", false) ? 1 : 0;
      }
    }
    EXPECT_EQ(verified, 4);
    EXPECT_FALSE(fs::exists(dir / "out/f2.out"));
    EXPECT_TRUE(fs::exists(dir / "out/multi_b.out"));
    for (const auto& e : fs::directory_iterator(dir / "out"))
      EXPECT_NE(e.path().filename().string()[0], '.') << "a temporary was left: " << e.path();
  }
}
