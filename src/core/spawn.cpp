// exec: one external program per input, started with posix_spawn and an argv (never a shell),
// in its own process group so a timeout or Ctrl-C reaches everything it started.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>

#include "core/cleanup.hpp"
#include "mediabatch/text.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"
#include "mediabatch/file_io.hpp"

extern char** environ;

namespace mediabatch {

namespace {

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("pipe: " + errno_text(errno));
  return {Fd(fds[0]), Fd(fds[1])};
}

struct SpawnFileActions {
  posix_spawn_file_actions_t fa;
  SpawnFileActions() { posix_spawn_file_actions_init(&fa); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&fa); }
};

struct SpawnAttr {
  posix_spawnattr_t attr;
  SpawnAttr() { posix_spawnattr_init(&attr); }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
};

// Reads what is available; returns false at end of file.
bool drain(int fd, std::string& into) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;  // nothing more for now
  }
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}


}  // namespace


namespace {

// Starts argv[0] in a process group of its own, stdin from /dev/null, stdout and stderr into
// the write ends of the pipes (closed here once the child has them).
pid_t spawn_in_group(const std::vector<std::string>& argv, Pipe& out, Pipe& err) {
  SpawnFileActions fa;
  posix_spawn_file_actions_addopen(&fa.fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.fa, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&fa.fa, err.write.get(), 2);

  SpawnAttr attr;
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr.attr, &none);  // our threads block SIGINT/SIGTERM; the child must not
  posix_spawnattr_setpgroup(&attr.attr, 0);
  posix_spawnattr_setflags(&attr.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &fa.fa, &attr.attr, args.data(), environ);
  if (rc != 0) throw Error("cannot run " + argv[0] + ": " + errno_text(rc));
  out.write.reset();
  err.write.reset();
  fcntl(out.read.get(), F_SETFL, O_NONBLOCK);
  fcntl(err.read.get(), F_SETFL, O_NONBLOCK);
  return pid;
}

enum class Ending { exited, cancelled, timed_out };

// Collects the child's output until it exits, sending its group SIGTERM on Ctrl-C or at the
// deadline and SIGKILL after the grace. `status` is waitpid's.
Ending wait_and_capture(pid_t pid, Pipe& out, Pipe& err, const std::atomic<bool>& stop, const ExecLimits& limits,
                        Result& r, int& status) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const bool has_timeout = limits.timeout_seconds > 0;
  const auto deadline = Clock::now() + seconds(limits.timeout_seconds);
  Clock::time_point kill_at{};
  Ending ending = Ending::exited;
  bool term_sent = false, exited = false, out_open = true, err_open = true;
  while (!exited) {
    auto now = Clock::now();
    if (!term_sent && (stop.load(std::memory_order_relaxed) || (has_timeout && now >= deadline))) {
      ending = stop.load() ? Ending::cancelled : Ending::timed_out;
      ::kill(-pid, SIGTERM);
      term_sent = true;
      kill_at = now + seconds(limits.grace_seconds);
    } else if (term_sent && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = Clock::time_point::max();
    }
    // Wake at least every 100 ms to notice Ctrl-C; sooner for a deadline.
    auto wait = std::chrono::milliseconds(100);
    if (has_timeout && !term_sent) wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out.read.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err.read.get(), POLLIN, 0};
    if (pidfd.get() >= 0) fds[n++] = {pidfd.get(), POLLIN, 0};
    int pr = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::max<long long>(wait.count(), 0)));
    if (pr < 0 && errno != EINTR) break;
    if (out_open) out_open = drain(out.read.get(), r.out_text);
    if (err_open) err_open = drain(err.read.get(), r.err_text);
    // Without a pidfd, poll a reaped status; with one, only when it says the child is gone.
    bool check = pidfd.get() < 0 || (n > 0 && (fds[n - 1].revents & POLLIN));
    if (check && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  // The child is gone; its pipes may still be held by something it left running in the
  // background, so take what is buffered now instead of waiting for end of file.
  if (out_open) drain(out.read.get(), r.out_text);
  if (err_open) drain(err.read.get(), r.err_text);
  return ending;
}

}  // namespace

Result run_program(const std::vector<std::string>& argv, const std::atomic<bool>& stop, const ExecLimits& limits) {
  if (argv.empty()) throw Error("no command to run");
  Pipe out = make_pipe(), err = make_pipe();
  const pid_t pid = spawn_in_group(argv, out, err);
  cleanup::add_group(pid);
  Result r;
  int status = 0;
  const Ending ending = wait_and_capture(pid, out, err, stop, limits, r, status);
  cleanup::remove_group(pid);

  if (ending == Ending::cancelled) throw Cancelled("interrupted");
  if (ending == Ending::timed_out) {
    r.status = Status::failed;
    r.error = "timed out after " + seconds_text(limits.timeout_seconds) + " s";
    return r;
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    r.status = code == 0 ? Status::ok : Status::failed;
    if (code == 127 && r.err_text.empty()) r.error = "exit code 127 (command not found?)";
    else if (code != 0) r.error = "exit code " + std::to_string(code);
  } else if (WIFSIGNALED(status)) {
    r.status = Status::failed;
    r.error = "killed by " + signal_name(WTERMSIG(status));
  }
  return r;
}

}  // namespace mediabatch
