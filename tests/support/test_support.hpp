#pragma once
// Helpers shared by the test binaries: scratch folders, running commands, finding tools.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mbtest {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct Run {
  int exit_code = -1;  // exit status, or 128+signal when killed
  std::string out;     // captured stdout
  std::string err;     // captured stderr
};

// Runs argv (no shell) with optional stdin text; waits for it and captures both streams.
Run run(const std::vector<std::string>& argv, const std::string& stdin_text = "");
// Runs build/mediabatch with these arguments.
Run mediabatch(const std::vector<std::string>& args, const std::string& stdin_text = "");
// Runs a shell command line through /bin/sh -c (for generating test media with CLI tools).
Run sh(const std::string& command_line);
// True when a program of that name is on PATH.
bool have_tool(const std::string& name);
// Fails the test (it never skips) when a reference tool is missing: CI installs them all
// (scripts/install-deps.sh), so a missing one is a broken install, not a reason to pass.
#define REQUIRE_TOOL(name) \
  ASSERT_TRUE(mbtest::have_tool(name)) << (name) << " is not installed (scripts/install-deps.sh installs it)"

void write_file(const fs::path& p, const std::string& bytes);
std::string read_file(const fs::path& p);

// Path of a bundled sample: assets/NAME in the source tree.
fs::path asset(const std::string& name);

}  // namespace mbtest

namespace mbtest {

// Starts argv in the background with stdout and stderr going to files (for tests that send
// signals to a running mediabatch). wait_for() returns the exit code, or 128+signal.
pid_t start(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err);
int wait_for(pid_t pid);
// The exit code (or 128+signal) of a process that must end within `seconds`; -1, after
// killing it, when it does not.
int exit_within(pid_t pid, double seconds);
// Runs argv (no shell, output discarded) to its end and returns the peak resident memory in
// KB of the largest process of its tree (wait4, as GNU time's "Maximum resident set size"),
// or -1; the exit code (or 128+signal) goes to *exit_code. The address space is capped at
// 4 GB (not under ASan or TSan, which reserve terabytes for their shadow), so a size limit that
// stopped working fails with an allocation error instead of taking the machine's memory.
long peak_rss_kb(const std::vector<std::string>& argv, int* exit_code);
// Runs build/mediabatch_fake (the CLI with the fake encoders of tests/fakes/).
Run fake_mediabatch(const std::vector<std::string>& args, const std::string& stdin_text = "");

}  // namespace mbtest
