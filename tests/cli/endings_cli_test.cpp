// Every way a batch ends leaves it whole: special files, signals, a closed stdout, a killed
// mediabatch's commands, and jobs with several outputs. Through the real CLI (the fake
// encoders' build, build/tests/mediabatch_fake, and build/mediabatch).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using mbtest::exit_within;
using mbtest::fake_mediabatch;

namespace {

// write_file, with the folders it needs.
void put(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  mbtest::write_file(p, bytes);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren == std::string::npos || text.substr(paren + 2, 1) == "Z";  // a zombie is dead
}

void wait_until(const std::function<bool()>& ready, double seconds = 10) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!ready() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::size_t temporaries_in(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (contains(e.path().filename().string(), ".mbtmp")) ++n;
  return n;
}

}  // namespace

TEST(EndingsCli, AFifoNamedFailsAtOnceAndAWalkedOneIsLeftOut) {
  mbtest::TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo.wav").c_str(), 0644), 0);
  const pid_t named = mbtest::start({MEDIABATCH_BINARY, "flac", (dir / "fifo.wav").string()}, dir / "out1", dir / "err1");
  EXPECT_EQ(exit_within(named, 10), 1) << mbtest::read_file(dir / "err1");
  EXPECT_TRUE(contains(mbtest::read_file(dir / "out1"), "fifo.wav: not a regular file (a FIFO)"))
      << mbtest::read_file(dir / "out1");

  fs::create_directories(dir / "walk");
  ASSERT_EQ(::mkfifo((dir / "walk/x.fk").c_str(), 0644), 0);
  put(dir / "walk/a.fk", "FAKE\n");
  const pid_t walked =
      mbtest::start({MEDIABATCH_FAKE_BINARY, "convert", (dir / "walk").string()}, dir / "out2", dir / "err2");
  EXPECT_EQ(exit_within(walked, 10), 0) << mbtest::read_file(dir / "err2");
  EXPECT_FALSE(contains(mbtest::read_file(dir / "out2"), "x.fk")) << mbtest::read_file(dir / "out2");
  EXPECT_TRUE(fs::exists(dir / "walk/a.out"));
}

// Before the batch begins (here: reading an input list that never ends), Ctrl-C ends it at once.
TEST(EndingsCli, CtrlCWorksWhileInputsAreRead) {
  mbtest::TempDir dir;
  const fs::path list = dir / "list";
  ASSERT_EQ(::mkfifo(list.c_str(), 0644), 0);
  const int writer = ::open(list.c_str(), O_RDWR);  // held open: the list never ends
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "a\nb\n", 4), 4);
  const pid_t pid = mbtest::start({"sh", "-c", "exec " + std::string(MEDIABATCH_BINARY) + " exec -- true < " + list.string()},
                                  dir / "out", dir / "err");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGINT);
  EXPECT_EQ(exit_within(pid, 5), 130);
  ::close(writer);
  EXPECT_TRUE(contains(mbtest::read_file(dir / "err"), "interrupted before any file was converted"))
      << mbtest::read_file(dir / "err");
}

// SIGHUP (terminal closed) and SIGTERM end the batch as Ctrl-C does, with the shell's code.
TEST(EndingsCli, SighupAndSigtermStopTheBatchWholeWithTheirExitCodes) {
  for (int sig : {SIGHUP, SIGTERM}) {
    mbtest::TempDir dir;
    for (int i = 0; i < 4; ++i) put(dir / ("in/s" + std::to_string(i) + ".fk"), "FAKE\nchunks 400\n");
    const auto report = dir / "r.jsonl";
    const pid_t pid = mbtest::start({MEDIABATCH_FAKE_BINARY, "fake", "-j", "2", "--report", report.string(), "-o",
                                     (dir / "out").string(), (dir / "in").string()},
                                    dir / "stdout", dir / "stderr");
    wait_until([&] { return fs::exists(dir / "out") && temporaries_in(dir / "out") >= 2; });
    ::kill(pid, sig);
    EXPECT_EQ(exit_within(pid, 20), 128 + sig);
    EXPECT_EQ(temporaries_in(dir / "out"), 0u);
    const std::string err = mbtest::read_file(dir / "stderr");
    EXPECT_TRUE(contains(err, "0 ok, 0 failed, 0 skipped, 2 interrupted, 2 not started")) << err;
    std::istringstream lines(mbtest::read_file(report));
    int records = 0;
    for (std::string l; std::getline(lines, l); ++records) EXPECT_EQ(nlohmann::json::parse(l)["interrupted"], true);
    EXPECT_EQ(records, 2);
  }
}

// `mediabatch ... | head -n 1`: printing stops, the batch does not.
TEST(EndingsCli, AClosedStdoutStopsThePrintingNotTheBatch) {
  mbtest::TempDir dir;
  for (int i = 0; i < 5; ++i) put(dir / ("in/f" + std::to_string(i) + ".fk"), "FAKE\nsleep_ms 100\n");
  const auto report = dir / "r.jsonl";
  const std::string cmd = "{ " + std::string(MEDIABATCH_FAKE_BINARY) + " fake -j 1 --report " + report.string() +
                          " -o " + (dir / "out").string() + " " + (dir / "in").string() + " 2> " +
                          (dir / "err").string() + "; echo $? > " + (dir / "code").string() + "; } | head -n 1";
  auto r = mbtest::sh(cmd);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(mbtest::read_file(dir / "code"), "0\n") << mbtest::read_file(dir / "err");
  EXPECT_EQ(files_in(dir / "out").size(), 5u);
  const std::string log = mbtest::read_file(report);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 5) << log;
  EXPECT_TRUE(contains(mbtest::read_file(dir / "err"), "5 ok, 0 failed")) << mbtest::read_file(dir / "err");
}

// SIGUSR1 drains: the running files finish and are reported, nothing more starts, the exit
// status is that of the files done; the same command again converts the rest.
TEST(EndingsCli, Sigusr1DrainsTheBatchAndARerunFinishesIt) {
  mbtest::TempDir dir;
  for (int i = 0; i < 6; ++i) put(dir / ("in/d" + std::to_string(i) + ".fk"), "FAKE\nsleep_ms 600\n");
  const std::vector<std::string> command{MEDIABATCH_FAKE_BINARY, "fake", "-j", "2", "--report",
                                         (dir / "r.jsonl").string(), "-o", (dir / "out").string(),
                                         (dir / "in").string()};
  const pid_t pid = mbtest::start(command, dir / "stdout", dir / "stderr");
  wait_until([&] { return fs::exists(dir / "out") && temporaries_in(dir / "out") >= 2; });
  ::kill(pid, SIGUSR1);
  EXPECT_EQ(exit_within(pid, 20), 0) << mbtest::read_file(dir / "stderr");
  const std::string err = mbtest::read_file(dir / "stderr");
  EXPECT_TRUE(contains(err, "2 ok, 0 failed, 0 skipped")) << err;
  EXPECT_TRUE(contains(err, "drained: 4 not started; run the same command again")) << err;
  EXPECT_EQ(files_in(dir / "out").size(), 2u);
  EXPECT_EQ(temporaries_in(dir / "out"), 0u);

  const pid_t again = mbtest::start(command, dir / "stdout2", dir / "stderr2");
  EXPECT_EQ(exit_within(again, 20), 0);
  EXPECT_TRUE(contains(mbtest::read_file(dir / "stderr2"), "4 ok, 0 failed, 2 skipped")) << mbtest::read_file(dir / "stderr2");
  EXPECT_EQ(files_in(dir / "out").size(), 6u);
}

// The commands of these tests wait for a file `go` before they end, so that the two running
// ones are still running when the drain is taken, however slow the machine (a fixed sleep
// could end first under a sanitizer on a loaded machine, and a third command start).
namespace {
std::vector<std::string> exec_waiting_for_go(const fs::path& dir) {
  const std::string script = "touch \"$0.started\"; while [ ! -e \"" + (dir / "go").string() +
                             "\" ]; do sleep 0.02; done; touch \"$0.done\"";
  std::vector<std::string> argv{MEDIABATCH_BINARY, "exec", "-j", "2"};
  for (int i = 0; i < 6; ++i) argv.push_back((dir / ("e" + std::to_string(i))).string());
  argv.insert(argv.end(), {"--", "sh", "-c", script, "{}"});
  return argv;
}
}  // namespace

TEST(EndingsCli, Sigusr1DrainsExecLettingRunningCommandsFinish) {
  mbtest::TempDir dir;
  const pid_t pid = mbtest::start(exec_waiting_for_go(dir.path()), dir / "stdout", dir / "stderr");
  wait_until([&] { return fs::exists(dir / "e0.started") && fs::exists(dir / "e1.started"); });
  ::kill(pid, SIGUSR1);
  wait_until([&] { return contains(mbtest::read_file(dir / "stderr"), "mediabatch: draining: no new file starts"); });
  mbtest::write_file(dir / "go", "");
  EXPECT_EQ(exit_within(pid, 20), 0) << mbtest::read_file(dir / "stderr");
  const std::string err = mbtest::read_file(dir / "stderr");
  EXPECT_TRUE(contains(err, "draining: no new file starts, the running ones finish")) << err;
  EXPECT_TRUE(contains(err, "2 ok, 0 failed, 0 skipped")) << err;
  EXPECT_TRUE(contains(err, "drained: 4 not started")) << err;
  EXPECT_TRUE(fs::exists(dir / "e0.done") && fs::exists(dir / "e1.done"));  // not killed
  EXPECT_FALSE(fs::exists(dir / "e2.started"));
}

// `q` typed on the terminal drains as SIGUSR1 does; the terminal's settings are put back.
// mediabatch runs on a pseudo-terminal of its own, as in an interactive shell.
TEST(EndingsCli, QOnTheTerminalDrainsAndTheTerminalIsRestored) {
  mbtest::TempDir dir;
  std::vector<std::string> args = exec_waiting_for_go(dir.path());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::string screen;
  const auto read_screen = [&] {
    char buf[4096];
    for (;;) {
      pollfd p{master, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return;
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) return;
      screen.append(buf, static_cast<std::size_t>(n));
    }
  };
  wait_until([&] {
    read_screen();
    return fs::exists(dir / "e0.started") && fs::exists(dir / "e1.started");
  });
  termios during{};
  ASSERT_EQ(::tcgetattr(master, &during), 0);
  EXPECT_EQ(during.c_lflag & (ICANON | ECHO), 0u) << "keys are read one at a time, unechoed";
  ASSERT_EQ(::write(master, "q", 1), 1);
  wait_until([&] {
    read_screen();
    return contains(screen, "mediabatch: draining: no new file starts");
  });
  mbtest::write_file(dir / "go", "");
  int code = -1;
  wait_until([&] {
    read_screen();
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return false;
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  });
  read_screen();
  EXPECT_EQ(code, 0) << screen;
  EXPECT_TRUE(contains(screen, "2 ok, 0 failed, 0 skipped")) << screen;
  EXPECT_TRUE(contains(screen, "drained: 4 not started")) << screen;
  EXPECT_FALSE(fs::exists(dir / "e2.started"));
  termios after{};
  ASSERT_EQ(::tcgetattr(master, &after), 0);
  EXPECT_EQ(after.c_lflag & (ICANON | ECHO), static_cast<tcflag_t>(ICANON | ECHO)) << "the terminal is put back";
  ::close(master);
}

// The state letter of /proc/PID/stat: R, S, T (stopped), Z...
char process_state(pid_t pid) {
  const std::string stat = mbtest::read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// Ctrl-Z (SIGTSTP) stops mediabatch and exec's commands, which run in process groups of their
// own that the terminal's signal does not reach; SIGCONT continues them all and the batch ends
// as usual.
TEST(EndingsCli, SigtstpPausesExecCommandsAndSigcontResumesThem) {
  mbtest::TempDir dir;
  const std::string script = "echo $$ > \"$0.pid\"; sleep 1; touch \"$0.done\"";
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "exec", "-j", "2", (dir / "a").string(), (dir / "b").string(),
                                   "--", "sh", "-c", script, "{}"},
                                  dir / "stdout", dir / "stderr");
  wait_until([&] { return fs::exists(dir / "a.pid") && fs::exists(dir / "b.pid"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the pid file is written before sleep
  const pid_t a = std::stoi(mbtest::read_file(dir / "a.pid"));
  ::kill(pid, SIGTSTP);
  wait_until([&] { return process_state(pid) == 'T' && process_state(a) == 'T'; }, 5);
  EXPECT_EQ(process_state(pid), 'T');
  EXPECT_EQ(process_state(a), 'T');
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // longer than the command's sleep
  EXPECT_FALSE(fs::exists(dir / "a.done"));
  ::kill(pid, SIGCONT);
  EXPECT_EQ(exit_within(pid, 10), 0) << mbtest::read_file(dir / "stderr");
  EXPECT_TRUE(fs::exists(dir / "a.done") && fs::exists(dir / "b.done"));
}

// A SIGKILLed mediabatch cannot clean up; its commands must still not run on without it.
TEST(EndingsCli, ExecCommandsDieWithAKilledMediabatch) {
  mbtest::TempDir dir;
  const std::string script = "echo $$ > \"$0.pid\"; exec sleep 30";
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "exec", "-j", "2", (dir / "a").string(), (dir / "b").string(),
                                   "--", "sh", "-c", script, "{}"},
                                  dir / "stdout", dir / "stderr");
  wait_until([&] { return fs::exists(dir / "a.pid") && fs::exists(dir / "b.pid"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the pid file is written before exec
  const pid_t a = std::stoi(mbtest::read_file(dir / "a.pid")), b = std::stoi(mbtest::read_file(dir / "b.pid"));
  ASSERT_FALSE(gone(a));
  ::kill(pid, SIGKILL);
  mbtest::wait_for(pid);
  wait_until([&] { return gone(a) && gone(b); }, 5);
  EXPECT_TRUE(gone(a));
  EXPECT_TRUE(gone(b));
}

// SIGHUP reaches exec's commands, which run in process groups of their own, as SIGTERM.
TEST(EndingsCli, SighupEndsExecCommandsToo) {
  mbtest::TempDir dir;
  const std::string script = "echo $$ > \"$0.pid\"; exec sleep 30";
  const pid_t pid = mbtest::start({MEDIABATCH_BINARY, "exec", "-j", "1", (dir / "a").string(), (dir / "b").string(),
                                   "--", "sh", "-c", script, "{}"},
                                  dir / "stdout", dir / "stderr");
  wait_until([&] { return fs::exists(dir / "a.pid"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const pid_t a = std::stoi(mbtest::read_file(dir / "a.pid"));
  ::kill(pid, SIGHUP);
  EXPECT_EQ(exit_within(pid, 10), 129);
  EXPECT_TRUE(gone(a));
  EXPECT_FALSE(fs::exists(dir / "b.pid"));
  EXPECT_TRUE(contains(mbtest::read_file(dir / "stderr"), "1 interrupted, 1 not started"))
      << mbtest::read_file(dir / "stderr");
}

// A job's outputs are committed together, and skip-if-newer looks at every one of them.
TEST(EndingsCli, AJobsOutputsAreAllOrNothing) {
  mbtest::TempDir dir;
  put(dir / "in/a.fk", "FAKE\nextra b.x\nextra c.x\n");
  fs::create_directories(dir / "out/c.x");  // in the way of the third output
  auto blocked = fake_mediabatch({"fake", "-o", (dir / "out").string(), (dir / "in/a.fk").string()});
  EXPECT_EQ(blocked.exit_code, 1);
  EXPECT_TRUE(contains(blocked.out, (dir / "out/c.x").string() + " is a directory")) << blocked.out;
  EXPECT_EQ(files_in(dir / "out"), std::vector<std::string>{"c.x"});

  fs::remove(dir / "out/c.x");
  auto fixed = fake_mediabatch({"fake", "-o", (dir / "out").string(), (dir / "in/a.fk").string()});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.out;
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{"a.out", "b.x", "c.x"}));

  auto again = fake_mediabatch({"fake", "-o", (dir / "out").string(), (dir / "in/a.fk").string()});
  EXPECT_TRUE(contains(again.out, "skipped")) << again.out;
  fs::remove(dir / "out/b.x");  // one output gone: the job is not done
  auto redo = fake_mediabatch({"fake", "-o", (dir / "out").string(), (dir / "in/a.fk").string()});
  EXPECT_TRUE(contains(redo.out, "ok ")) << redo.out;
  EXPECT_TRUE(fs::exists(dir / "out/b.x"));
}

TEST(EndingsCli, ADirectoryAtTheOutputNameFailsTheFile) {
  mbtest::TempDir dir;
  put(dir / "a.fk", "FAKE\n");
  fs::create_directories(dir / "a.out");
  auto r = fake_mediabatch({"fake", (dir / "a.fk").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, (dir / "a.out").string() + " is a directory")) << r.out;
}

TEST(EndingsCli, ReasonsNameTheOutputNotTheTemporaryFile) {
  mbtest::TempDir dir;
  put(dir / "a.fk", "FAKE\nfail_naming_temp\n");
  auto r = fake_mediabatch({"fake", (dir / "a.fk").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "writing " + (dir / "a.out").string() + ": No space left on device")) << r.out;
  EXPECT_FALSE(contains(r.out, "mbtmp")) << r.out;
}
