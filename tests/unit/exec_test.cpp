#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"

using namespace mediabatch;

TEST(Placeholders, AsGnuParallelHasThem) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_placeholders({"conv", "{}", "{.}.png"}, "dir/sub/a.b.jpg"),
            (V{"conv", "dir/sub/a.b.jpg", "dir/sub/a.b.png"}));
  EXPECT_EQ(expand_placeholders({"{/}", "{/.}", "{//}"}, "dir/sub/a.b.jpg"), (V{"a.b.jpg", "a.b", "dir/sub"}));
  EXPECT_EQ(expand_placeholders({"{/}", "{/.}", "{//}", "{.}"}, "plain"), (V{"plain", "plain", ".", "plain"}));
  EXPECT_EQ(expand_placeholders({"{.}"}, "dir.d/noext"), (V{"dir.d/noext"}));
  // The job's number and slot; like any placeholder they keep the input from being appended.
  EXPECT_EQ(expand_placeholders({"echo", "{#}-{%}"}, "a.jpg", {12, 2}), (V{"echo", "12-2"}));
  EXPECT_EQ(expand_placeholders({"cp", "{}", "out/{#}.jpg"}, "a.jpg", {3, 1}), (V{"cp", "a.jpg", "out/3.jpg"}));
  EXPECT_EQ(expand_placeholders({"{.}"}, ".hidden"), (V{".hidden"}));
  EXPECT_EQ(expand_placeholders({"pre{}post", "{x}", "{"}, "f"), (V{"prefpost", "{x}", "{"}));
}

TEST(Placeholders, InputIsAppendedWhenNoneIsGiven) {
  EXPECT_EQ(expand_placeholders({"gzip", "-k"}, "a file"), (std::vector<std::string>{"gzip", "-k", "a file"}));
}

TEST(RunProgram, CapturesOutputAndExitCode) {
  std::atomic<bool> stop{false};
  auto r = run_program({"sh", "-c", "echo out; echo err >&2; exit 3"}, stop, {});
  EXPECT_EQ(r.status, Status::failed);
  EXPECT_EQ(r.error, "exit code 3");
  EXPECT_EQ(r.out_text, "out\n");
  EXPECT_EQ(r.err_text, "err\n");
  auto ok = run_program({"true"}, stop, {});
  EXPECT_EQ(ok.status, Status::ok);
  EXPECT_TRUE(ok.error.empty());
}

// Past a few MB, a command's output goes to an unlinked temporary file, in order.
TEST(RunProgram, BigOutputSpillsToAFileNotMemory) {
  std::atomic<bool> stop{false};
  auto r = run_program({"sh", "-c", "seq 1 2000000"}, stop, {});
  ASSERT_EQ(r.status, Status::ok);
  ASSERT_TRUE(r.out_spill);
  EXPECT_LE(r.out_text.size(), std::size_t{4} << 20);
  struct stat st {};
  ASSERT_EQ(fstat(r.out_spill->get(), &st), 0);
  std::string all = r.out_text;
  all.resize(r.out_text.size() + static_cast<std::size_t>(st.st_size));
  ASSERT_EQ(pread(r.out_spill->get(), all.data() + r.out_text.size(), static_cast<std::size_t>(st.st_size), 0),
            st.st_size);
  std::string expected;
  for (int i = 1; i <= 2000000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(all.size(), expected.size());
  EXPECT_TRUE(all == expected);
  EXPECT_FALSE(r.err_spill);
}

TEST(RunProgram, DeathBySignalIsNamed) {
  std::atomic<bool> stop{false};
  auto r = run_program({"sh", "-c", "kill -SEGV $$"}, stop, {});
  EXPECT_EQ(r.status, Status::failed);
  EXPECT_EQ(r.error, "killed by SIGSEGV");
}

TEST(RunProgram, MissingProgramIsAClearError) {
  std::atomic<bool> stop{false};
  try {
    run_program({"no-such-program-mediabatch"}, stop, {});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run no-such-program-mediabatch"), std::string::npos) << e.what();
  }
}

TEST(RunProgram, TimeoutKillsTheWholeProcessGroup) {
  std::atomic<bool> stop{false};
  ExecLimits limits;
  limits.timeout_seconds = 0.3;
  limits.grace_seconds = 0.5;
  auto start = std::chrono::steady_clock::now();
  // A shell that ignores SIGTERM and runs a child: SIGKILL to the group must end both.
  auto r = run_program({"sh", "-c", "trap '' TERM; sleep 30; echo never"}, stop, limits);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, Status::failed);
  EXPECT_EQ(r.error, "timed out after 0.3 s");
  EXPECT_LT(took, 10.0);
  EXPECT_EQ(r.out_text, "");
}

TEST(RunProgram, StopFlagCancelsARunningProgram) {
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(run_program({"sleep", "30"}, stop, {}), Cancelled);
  stopper.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

TEST(RunProgram, ABackgroundedGrandchildDoesNotHoldTheJob) {
  std::atomic<bool> stop{false};
  auto start = std::chrono::steady_clock::now();
  auto r = run_program({"sh", "-c", "echo done; sleep 20 & exit 0"}, stop, {});
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.out_text, "done\n");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}
