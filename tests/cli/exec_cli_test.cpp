// exec as a user runs it: build/mediabatch exec ... -- CMD ARG...
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

using mbtest::mediabatch;
namespace fs = std::filesystem;

TEST(ExecCli, StdinArgumentsNeedNotBeFiles) {
  auto r = mediabatch({"exec", "-j", "3", "--order", "input", "--", "echo", "n={}"}, "1\n2\n3\n4\n5\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "n=1\nn=2\nn=3\nn=4\nn=5\n");
  EXPECT_NE(r.err.find("5 ok, 0 failed, 0 skipped"), std::string::npos) << r.err;
}

TEST(ExecCli, HostileNamesAreOnlyNames) {
  mbtest::TempDir dir;
  const std::vector<std::string> names = {"with space.txt", "new\nline.txt", "quote's \"q\".txt", "ünïcødé 日本.txt",
                                          "$(touch pwned).txt", "`touch pwned2`;.txt", "-dash.txt"};
  std::string list;
  for (const auto& n : names) {
    mbtest::write_file(dir / n, "content of " + n);
    list += (dir / n).string();
    list.push_back('\0');
  }
  // cp FILE FILE.copy, then the copy must have the original bytes under the exact name.
  auto r = mediabatch({"exec", "-0", "--", "cp", "--", "{}", "{}.copy"}, list);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& n : names) {
    auto copy = dir / (n + ".copy");
    ASSERT_TRUE(fs::exists(copy)) << n;
    EXPECT_EQ(mbtest::read_file(copy), "content of " + n);
  }
  EXPECT_FALSE(fs::exists("pwned"));
  EXPECT_FALSE(fs::exists(dir / "pwned"));
  EXPECT_FALSE(fs::exists("pwned2"));
}

TEST(ExecCli, PlaceholdersOnRealFiles) {
  mbtest::TempDir dir;
  fs::create_directories(dir / "sub");
  mbtest::write_file(dir / "sub/pic.one.jpg", "x");
  auto r = mediabatch({"exec", (dir / "sub/pic.one.jpg").string(), "--", "echo", "{/}|{/.}|{.}|{//}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto d = (dir / "sub").string();
  EXPECT_EQ(r.out, "pic.one.jpg|pic.one|" + d + "/pic.one|" + d + "\n");
}

// {#} numbers the jobs in input order from 1; {%} is the slot a job runs in, 1..-j, never
// shared by two jobs at once: each job holds a lock file named after its slot while it sleeps.
TEST(ExecCli, JobNumberAndSlotPlaceholders) {
  mbtest::TempDir dir;
  auto r = mediabatch({"exec", "-j", "3", "--order", "input", "--", "echo", "{#}:{}"}, "a\nb\nc\nd\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1:a\n2:b\n3:c\n4:d\n");
  const std::string script = "set -e; f=" + dir.path().string() + "/slot$1; mkdir \"$f\"; sleep 0.2; rmdir \"$f\"; echo $1";
  r = mediabatch({"exec", "-j", "3", "--", "sh", "-c", script, "sh", "{%}"}, "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;  // mkdir fails if two jobs share a slot
  std::istringstream slots(r.out);
  int count = 0;
  for (int slot; slots >> slot; ++count) EXPECT_TRUE(slot >= 1 && slot <= 3) << slot;
  EXPECT_EQ(count, 9);
  r = mediabatch({"exec", "--dry-run", "--", "mv", "{}", "{#}.jpg"}, "x.jpg\ny.jpg\n");
  EXPECT_EQ(r.out, "mv x.jpg 1.jpg\nmv y.jpg 2.jpg\n");
}

// --progress is a flag as in GNU parallel, and still takes a value, with = or a space.
TEST(ExecCli, ProgressIsAFlagThatTakesAValue) {
  for (const std::vector<std::string>& form :
       {std::vector<std::string>{"--progress"}, {"--progress=always"}, {"--progress", "always"}}) {
    std::vector<std::string> args{"exec"};
    args.insert(args.end(), form.begin(), form.end());
    args.insert(args.end(), {"--", "true"});
    const auto r = mediabatch(args, "a\nb\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("\r"), std::string::npos) << form.size() << ": no live line in " << r.err;
  }
  auto r = mediabatch({"exec", "--progress", "never", "--", "true"}, "a\n");
  EXPECT_EQ(r.err.find("\r"), std::string::npos) << r.err;
  EXPECT_EQ(mediabatch({"exec", "--progress=sometimes", "--", "true"}, "a\n").exit_code, 2);
}

// --on-done runs once at the end with the summary as JSON on stdin; its words are split as a
// shell splits them (quotes, backslashes), with no shell; its exit status changes nothing.
TEST(ExecCli, OnDoneRunsOnceWithTheSummaryOnStdin) {
  mbtest::TempDir dir;
  const std::string summary = (dir / "summary.json").string();
  const std::string report = (dir / "r.jsonl").string();
  auto r = mediabatch({"exec", "-q", "--report", report, "--on-done",
                       "sh -c 'cat > \"$0\"; printf \"%s|\" \"$@\"; exit 3' " + summary + " 'a b' c\\ d \"e'f\"", "--",
                       "sh", "-c", "test {} != bad"},
                      "good\nbad\nfine\n");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the failed input's, not the command's 3
  EXPECT_EQ(r.out, "a b|c d|e'f|");
  EXPECT_TRUE(r.err.find("--on-done sh: exited with 3") != std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(mbtest::read_file(summary));
  EXPECT_EQ(j["ok"], 2);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["skipped"], 0);
  EXPECT_EQ(j["exit_code"], 1);
  EXPECT_EQ(j["report"], report);
  EXPECT_GT(j["wall_seconds"].get<double>(), 0);
  EXPECT_TRUE(j.contains("cpu_seconds"));
  EXPECT_EQ(mediabatch({"exec", "--on-done", "'unclosed", "--", "true"}, "a\n").exit_code, 2);
  r = mediabatch({"exec", "-q", "--on-done", "no-such-program-here", "--", "true"}, "a\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.err.find("cannot start it: No such file or directory") != std::string::npos) << r.err;
}

TEST(ExecCli, FailuresCarryExitCodeOrSignalAndDoNotStopTheBatch) {
  auto r = mediabatch({"exec", "-j", "2", "--", "sh", "-c", "case $0 in 2) exit 5;; 3) kill -KILL $$;; *) echo ok $0;; esac", "{}"},
                      "1\n2\n3\n4\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("failed: 2: exit code 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("failed: 3: killed by SIGKILL"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("ok 1\n"), std::string::npos);
  EXPECT_NE(r.out.find("ok 4\n"), std::string::npos);
  EXPECT_NE(r.err.find("2 ok, 2 failed"), std::string::npos) << r.err;
}

TEST(ExecCli, EachTasksOutputIsPrintedWholeNeverInterleaved) {
  auto r = mediabatch({"exec", "-j", "4", "--", "sh", "-c", "echo begin $0; sleep 0.2; echo end $0", "{}"},
                      "a\nb\nc\nd\ne\nf\ng\nh\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string first, second;
  int pairs = 0;
  while (std::getline(lines, first) && std::getline(lines, second)) {
    ASSERT_EQ(first.substr(0, 6), "begin ");
    EXPECT_EQ(second, "end " + first.substr(6));
    ++pairs;
  }
  EXPECT_EQ(pairs, 8);
}

// A command that prints 300 MB: mediabatch passes it on whole without holding it in memory.
TEST(ExecCli, AHugeOutputIsPassedOnWithBoundedMemory) {
  int code = -1;
  const long kb = mbtest::peak_rss_kb({MEDIABATCH_BINARY, "exec", "a", "--", "sh", "-c", "head -c 300000000 /dev/zero"},
                                      &code);
  EXPECT_EQ(code, 0);
  EXPECT_GT(kb, 0);
  EXPECT_LT(kb, 100 * 1024) << kb << " KB";
  // And every byte reaches stdout.
  auto r = mbtest::sh(std::string(MEDIABATCH_BINARY) + " exec a -- sh -c 'head -c 300000000 /dev/zero' | wc -c");
  EXPECT_EQ(r.out, "300000001\n");  // ended by a newline
}

TEST(ExecCli, TimeoutKillsTheTask) {
  auto start = std::chrono::steady_clock::now();
  auto r = mediabatch({"exec", "--timeout", "0.5", "--", "sleep", "{}"}, "30\n0\n");
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("failed: 30: timed out after 0.5 s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 ok, 1 failed"), std::string::npos) << r.err;
  EXPECT_LT(took, 15.0);
}

TEST(ExecCli, ReportIsJsonLinesWithEveryField) {
  mbtest::TempDir dir;
  auto report = dir / "log.jsonl";
  auto r = mediabatch({"exec", "--report", report.string(), "--", "sh", "-c", "exit $0"}, "0\n4\n");
  EXPECT_EQ(r.exit_code, 1);
  std::istringstream lines(mbtest::read_file(report));
  std::string line;
  std::map<std::string, nlohmann::json> by_input;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    for (const char* key : {"input", "output", "command", "status", "error", "seconds", "bytes_in", "bytes_out"})
      EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    by_input[j["input"]] = j;
  }
  ASSERT_EQ(by_input.size(), 2u);
  EXPECT_EQ(by_input["0"]["status"], "ok");
  EXPECT_EQ(by_input["0"]["command"], "exec");
  EXPECT_EQ(by_input["4"]["status"], "failed");
  EXPECT_EQ(by_input["4"]["error"], "exit code 4");
}

TEST(ExecCli, CtrlCStopsRunningCommandsAndExits130) {
  mbtest::TempDir dir;
  // Each task would create a marker after 20 s; none may, since Ctrl-C kills them.
  std::string list;
  for (int i = 0; i < 6; ++i) list += (dir / ("m" + std::to_string(i))).string() + "\n";
  mbtest::write_file(dir / "list", list);
  auto pid = mbtest::start({"sh", "-c",
                            "exec " + std::string(MEDIABATCH_BINARY) +
                                " exec -j 2 -- sh -c 'touch \"$0.started\"; sleep 20; touch \"$0\"' {} < " +
                                (dir / "list").string()},
                           dir / "out", dir / "err");
  // Interrupt once both slots run a command.
  for (int i = 0; i < 200 && !(fs::exists(dir / "m0.started") && fs::exists(dir / "m1.started")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir / "m1.started"));
  auto start = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int code = mbtest::wait_for(pid);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(code, 130);
  EXPECT_LT(took, 8.0);
  auto err = mbtest::read_file(dir / "err");
  EXPECT_NE(err.find("2 interrupted, 4 not started"), std::string::npos) << err;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 6; ++i) EXPECT_FALSE(fs::exists(dir / ("m" + std::to_string(i))));
}

TEST(ExecCli, DryRunPrintsCommandsAndRunsNothing) {
  mbtest::TempDir dir;
  auto r = mediabatch({"exec", "--dry-run", "--", "touch", (dir / "{}").string()}, "a b\nc\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "touch '" + (dir / "a b").string() + "'\ntouch " + (dir / "c").string() + "\n");
  EXPECT_FALSE(fs::exists(dir / "c"));
}

TEST(Cli, UsageErrorsExit2WithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "A subcommand is required"},
      {{"nosuchcommand"}, "nosuchcommand"},
      {{"exec", "--bogus", "--", "true"}, "--bogus"},
      {{"exec", "x"}, "no command"},
      {{"exec", "--shard", "3/2", "--", "true"}, "K must be between 1 and N"},
      {{"exec", "-j", "0", "--", "true"}, "--jobs"},
      {{"exec", "--order", "random", "--", "true"}, "--order"},
      {{"exec", "--shard-from-env", "--", "true"}, "--shard-from-env"},
  };
  for (const auto& c : cases) {
    auto r = mediabatch(c.args, "x\n");
    EXPECT_EQ(r.exit_code, 2) << c.args.size();
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  auto help = mediabatch({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("exec"), std::string::npos);
}

TEST(ExecCli, ShardsOfARunPartitionTheInputs) {
  std::string list;
  for (int i = 0; i < 200; ++i) list += "item" + std::to_string(i) + "\n";
  std::multiset<std::string> all;
  for (int k = 1; k <= 3; ++k) {
    auto r = mediabatch({"exec", "-q", "--shard", std::to_string(k) + "/3", "--", "echo"}, list);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string l;
    while (std::getline(lines, l)) all.insert(l);
  }
  EXPECT_EQ(all.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(all.count("item" + std::to_string(i)), 1u);
}

// `mediabatch --help` names every command without loading any encoder module (so it works,
// and is quick, even where the modules are missing); each command's help shows its usage, its
// own options before the common ones, examples and the exit codes.
TEST(ExecCli, HelpNamesEveryCommandWithoutLoadingTheModules) {
  ASSERT_EQ(setenv("MEDIABATCH_ENCODER_DIR", "/nonexistent", 1), 0);
  auto top = mediabatch({"--help"});
  unsetenv("MEDIABATCH_ENCODER_DIR");
  EXPECT_EQ(top.exit_code, 0) << top.err;
  for (const char* command : {"exec", "convert", "report", "thumbs", "dicom", "video", "flac"})
    EXPECT_NE(top.out.find(std::string("\n  ") + command + " "), std::string::npos) << command << "\n" << top.out;
  EXPECT_NE(top.out.find("Exit status: 0"), std::string::npos) << top.out;

  auto exec = mediabatch({"exec", "--help"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_NE(exec.out.find("Usage: mediabatch exec [OPTIONS] [INPUT...] -- CMD [ARG...]"), std::string::npos)
      << exec.out;
  auto thumbs = mediabatch({"thumbs", "--help"});
  EXPECT_EQ(thumbs.exit_code, 0) << thumbs.err;
  const auto own = thumbs.out.find("--size N|WxH");
  const auto common = thumbs.out.find("Common options:");
  ASSERT_NE(own, std::string::npos) << thumbs.out;
  ASSERT_NE(common, std::string::npos) << thumbs.out;
  EXPECT_LT(own, common) << thumbs.out;
  EXPECT_NE(thumbs.out.find("-j,--jobs N "), std::string::npos) << thumbs.out;
  EXPECT_NE(thumbs.out.find("Examples:\n  mediabatch thumbs"), std::string::npos) << thumbs.out;
}

// `mediabatch --version` names the version and, per command, the libraries it converts with
// as loaded; a module that cannot be loaded is named with the reason, and it still exits 0.
TEST(ExecCli, VersionNamesTheLibrariesOfEachCommand) {
  auto r = mediabatch({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("mediabatch 0.", 0), 0u) << r.out;
  for (const char* line : {"engine: oneTBB 20", "thumbs: libjpeg-turbo 2.", "libheif 1.", "ImageMagick 6.",
                           "dicom: GDCM 3.", "video: FFmpeg 5.", "libtheora 1.", "flac: libFLAC 1.", "libebur128 1."})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;

  ASSERT_EQ(setenv("MEDIABATCH_ENCODER_DIR", "/nonexistent", 1), 0);
  auto missing = mediabatch({"--version"});
  unsetenv("MEDIABATCH_ENCODER_DIR");
  EXPECT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_NE(missing.out.find("video: cannot load the video encoder: /nonexistent/mediabatch-video.so"),
            std::string::npos)
      << missing.out;
}
