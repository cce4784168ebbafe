// --watch through the real CLI: files that arrive in watched folders are taken once complete
// (closed, moved in, or settled while kept open), in new subfolders with -r, never the outputs
// written beside them; a restart does only what is missing; the shard is kept; the process
// sleeps while nothing arrives; Ctrl-C and SIGUSR1 end it with the usual summary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using mbtest::exit_within;
using Clock = std::chrono::steady_clock;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool wait_until(const std::function<bool()>& done, double seconds = 20) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The report's records by input file name (the last one of each), read as the batch writes it.
std::map<std::string, nlohmann::json> records(const fs::path& report) {
  std::map<std::string, nlohmann::json> out;
  if (!fs::exists(report)) return out;
  std::istringstream in(mbtest::read_file(report));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out[fs::path(j["input"].get<std::string>()).filename().string()] = j;
  }
  return out;
}

std::size_t report_lines(const fs::path& report) {
  std::istringstream in(mbtest::read_file(report));
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Written outside the watched folder, then renamed in: it arrives whole (IN_MOVED_TO).
void move_in(const fs::path& to, const std::string& bytes) {
  const fs::path staged = to.parent_path().parent_path() / ("staged_" + to.filename().string());
  mbtest::write_file(staged, bytes);
  fs::rename(staged, to);
}

// utime + stime of a process, in clock ticks.
long cpu_ticks(pid_t pid) {
  const std::string stat = mbtest::read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  return utime + stime;
}

std::string photo() { return mbtest::read_file(mbtest::asset("photo_gray_progressive.jpg")); }

}  // namespace

// Converting in place (thumbnails beside the photos) in a folder watched with -r: a file moved
// in is taken at once; one written in chunks and kept open is taken only once it has settled,
// whole; one in a subfolder made later is taken; the thumbnails are never inputs; while nothing
// arrives the process sleeps; Ctrl-C then ends it with exit 0 and the summary.
TEST(WatchCli, FilesAreTakenWhenCompleteAndOutputsAreNeverInputs) {
  mbtest::TempDir dir;
  const fs::path in = dir / "in", report = dir / "r.jsonl";
  fs::create_directories(in);
  const std::string jpeg = photo();
  mbtest::write_file(in / "a.jpg", jpeg);
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "thumbs", "--watch", "--settle", "3", "-r", "--report",
                                   report.string(), in.string()},
                                  dir / "stdout", dir / "stderr");
  ASSERT_TRUE(wait_until([&] { return records(report).count("a.jpg"); })) << mbtest::read_file(dir / "stderr");
  ASSERT_TRUE(wait_until([&] { return contains(mbtest::read_file(dir / "stderr"), "watching 1 folder"); }))
      << mbtest::read_file(dir / "stderr");

  // Moved in: taken at once, well before the settle time.
  auto t0 = Clock::now();
  move_in(in / "b.jpg", jpeg);
  ASSERT_TRUE(wait_until([&] { return records(report).count("b.jpg"); }, 20));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 2.5);

  // Written in two chunks 1 s apart and kept open: not taken half-written, taken once it has
  // not changed for 3 s, while still open.
  const int fd = ::open((in / "c.jpg").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const std::size_t half = jpeg.size() / 2;
  ASSERT_EQ(::write(fd, jpeg.data(), half), static_cast<ssize_t>(half));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_EQ(::write(fd, jpeg.data() + half, jpeg.size() - half), static_cast<ssize_t>(jpeg.size() - half));
  t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(records(report).count("c.jpg"), 0u) << "taken before it settled";
  ASSERT_TRUE(wait_until([&] { return records(report).count("c.jpg"); }, 20));
  EXPECT_GE(std::chrono::duration<double>(Clock::now() - t0).count(), 2.9);
  EXPECT_EQ(records(report)["c.jpg"]["status"], "ok") << records(report)["c.jpg"].dump();
  ::close(fd);

  // A subfolder made after the start, and a file copied into it.
  fs::create_directories(in / "sub");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mbtest::write_file(in / "sub" / "d.jpg", jpeg);
  ASSERT_TRUE(wait_until([&] { return records(report).count("d.jpg"); }, 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // a stray event would settle by now

  for (const auto& [name, r] : records(report)) {
    EXPECT_FALSE(contains(name, "_thumbnail")) << "an output was taken as an input: " << r.dump();
    if (name != "c.jpg") {  // c may be skipped again when it is closed
      EXPECT_EQ(r["status"], "ok") << r.dump();
    }
  }
  for (const char* thumb : {"a_thumbnail.jpg", "b_thumbnail.jpg", "c_thumbnail.jpg", "sub/d_thumbnail.jpg"})
    EXPECT_TRUE(fs::exists(in / thumb)) << thumb;
  const auto c = mbtest::run({"identify", "-format", "%w %h", (in / "c_thumbnail.jpg").string()});
  EXPECT_EQ(c.exit_code, 0) << "the thumbnail of the file written slowly is whole: " << c.err;

  // Idle: asleep in the kernel, and no CPU time over 5 s.
  const long before = cpu_ticks(pid);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const double idle_ms = static_cast<double>(cpu_ticks(pid) - before) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_LT(idle_ms, 20.0);

  ::kill(pid, SIGINT);
  EXPECT_EQ(exit_within(pid, 20), 0);
  const std::string err = mbtest::read_file(dir / "stderr");
  EXPECT_TRUE(contains(err, "4 ok, 0 failed")) << err;
  EXPECT_FALSE(contains(err, "interrupted")) << err;
}

// A restart converts only what arrived meanwhile (the rest is up to date), and the report
// keeps the earlier run's records; SIGUSR1 ends a watch as a drain.
TEST(WatchCli, ARestartDoesOnlyWhatIsMissingAndKeepsTheReport) {
  mbtest::TempDir dir;
  const fs::path in = dir / "in", out = dir / "out", report = dir / "r.jsonl";
  fs::create_directories(in);
  const std::string jpeg = photo();
  mbtest::write_file(in / "a.jpg", jpeg);
  const std::vector<std::string> command{MEDIABATCH_BINARY, "thumbs",    "--watch", "--report", report.string(),
                                         "-o",              out.string(), in.string()};
  pid_t pid = mbtest::start(command, dir / "stdout", dir / "stderr");
  ASSERT_TRUE(wait_until([&] { return records(report).count("a.jpg"); }));
  move_in(in / "b.jpg", jpeg);
  ASSERT_TRUE(wait_until([&] { return records(report).count("b.jpg"); }));
  ::kill(pid, SIGINT);
  EXPECT_EQ(exit_within(pid, 20), 0);

  mbtest::write_file(in / "c.jpg", jpeg);  // while nothing watches
  pid = mbtest::start(command, dir / "stdout2", dir / "stderr2");
  ASSERT_TRUE(wait_until([&] { return records(report).count("c.jpg"); }));
  ASSERT_TRUE(wait_until([&] { return contains(mbtest::read_file(dir / "stderr2"), "watching 1 folder"); }));
  ::kill(pid, SIGUSR1);
  EXPECT_EQ(exit_within(pid, 20), 0);
  const std::string err = mbtest::read_file(dir / "stderr2");
  EXPECT_TRUE(contains(err, "1 ok, 0 failed, 2 skipped")) << err;
  EXPECT_TRUE(contains(err, "drained: 0 not started")) << err;
  EXPECT_EQ(report_lines(report), 5u) << mbtest::read_file(report);
  EXPECT_EQ(records(report)["c.jpg"]["status"], "ok");
}

// exec --watch in a shard takes exactly the files of its shard, as a batch of them would.
TEST(WatchCli, AShardTakesOnlyItsFiles) {
  mbtest::TempDir dir;
  const fs::path in = dir / "in", report = dir / "r.jsonl";
  fs::create_directories(in);
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "exec", "--watch", "--shard", "1/2", "--report",
                                   report.string(), in.string(), "--", "true", "{}"},
                                  dir / "stdout", dir / "stderr");
  ASSERT_TRUE(wait_until([&] { return fs::exists(report); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 12; ++i) move_in(in / ("f" + std::to_string(i) + ".txt"), "x");
  const auto listed = mbtest::mediabatch({"exec", "--dry-run", "--shard", "1/2", in.string(), "--", "echo", "{}"});
  std::set<std::string> expected;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) expected.insert(fs::path(line).filename().string());
  ASSERT_GT(expected.size(), 0u);
  ASSERT_LT(expected.size(), 12u);
  ASSERT_TRUE(wait_until([&] { return records(report).size() >= expected.size(); })) << mbtest::read_file(dir / "stderr");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::set<std::string> taken;
  for (const auto& [name, r] : records(report)) taken.insert(name);
  EXPECT_EQ(taken, expected);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(exit_within(pid, 20), 0);
}

// Ctrl-C while a file that arrived is being processed: that file is interrupted, exit 130.
TEST(WatchCli, CtrlCWhileAFileRunsExitsWith130) {
  mbtest::TempDir dir;
  const fs::path in = dir / "in", marks = dir / "marks";
  fs::create_directories(in);
  fs::create_directories(marks);
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "exec", "--watch", in.string(), "--", "sh", "-c",
                                   "touch \"" + marks.string() + "/$(basename \"$0\")\"; sleep 30", "{}"},
                                  dir / "stdout", dir / "stderr");
  ASSERT_TRUE(wait_until([&] { return contains(mbtest::read_file(dir / "stderr"), "watching 1 folder"); }));
  move_in(in / "long.txt", "x");
  ASSERT_TRUE(wait_until([&] { return fs::exists(marks / "long.txt"); }));
  ::kill(pid, SIGINT);
  EXPECT_EQ(exit_within(pid, 20), 130);
  EXPECT_TRUE(contains(mbtest::read_file(dir / "stderr"), "1 interrupted")) << mbtest::read_file(dir / "stderr");
}

TEST(WatchCli, NeedsAFolderToWatch) {
  mbtest::TempDir dir;
  mbtest::write_file(dir / "a.jpg", photo());
  const auto r = mbtest::mediabatch({"thumbs", "--watch", (dir / "a.jpg").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--watch: no folder to watch")) << r.err;
}
