// exec: one external program per input, started with fork and exec of an argv (never a shell),
// in its own process group so a timeout or Ctrl-C reaches everything it started.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "core/cleanup.hpp"
#include "mediabatch/text.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"
#include "mediabatch/file_io.hpp"

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

// A command's output: the first bytes in memory, and past `kept_in_memory` everything in an
// unlinked temporary file, so a command that prints gigabytes costs disk, not memory.
class Capture {
 public:
  static constexpr std::size_t kept_in_memory = std::size_t{4} << 20;

  Capture(std::string& text, std::shared_ptr<Fd>& spill) : text_(text), spill_(spill) {}

  void append(const char* data, std::size_t n) {
    if (!spill_ && text_.size() + n <= kept_in_memory) {
      text_.append(data, n);
      return;
    }
    if (!spill_ && !open_spill()) return;
    if (lost_) return;
    if (const int error = write_all(spill_->get(), data, n)) lost(error);
  }

 private:
  bool open_spill() {
    const char* dir = std::getenv("TMPDIR");
    Fd fd(::open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) {
      lost(errno);
      return false;
    }
    spill_ = std::make_shared<Fd>(std::move(fd));
    return true;
  }
  // The rest is dropped, and the output says so where it stops.
  void lost(int error) {
    if (lost_) return;
    lost_ = true;
    const std::string note = "\n[mediabatch: the rest of this output was dropped: cannot keep it in a temporary file: " +
                             errno_text(error) + "]\n";
    if (spill_) write_all(spill_->get(), note.data(), note.size());
    else text_ += note;
  }

  std::string& text_;
  std::shared_ptr<Fd>& spill_;
  bool lost_ = false;
};

// Reads what is available; returns false at end of file.
bool drain(int fd, Capture& into) {
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

// The child's side, between fork and exec. Only async-signal-safe calls: another thread of
// ours may have held a lock when it forked. On a failed exec, errno goes back through
// `failed` (which a successful exec closes).
[[noreturn]] void become_command(char* const* args, const Pipe& out, const Pipe& err, int failed, pid_t parent) {
  ::setpgid(0, 0);
  // Killed with mediabatch, even a SIGKILLed one. (The signal comes when the forking thread
  // ends; that thread waits for this child, so it outlives it unless the process dies.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);  // ignored by mediabatch; a command expects the default
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // our threads block SIGINT/SIGTERM/SIGHUP
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out.write.get(), 1) < 0 || ::dup2(err.write.get(), 2) < 0) {
    const int e = errno;
    [[maybe_unused]] auto n = ::write(failed, &e, sizeof e);
    ::_exit(127);
  }
  ::execvp(args[0], args);
  const int e = errno;
  [[maybe_unused]] auto n = ::write(failed, &e, sizeof e);
  ::_exit(127);
}

// Starts argv[0] in a process group of its own, stdin from /dev/null, stdout and stderr into
// the write ends of the pipes (closed here once the child has them). Not posix_spawn: it
// cannot make the child die with us.
pid_t spawn_in_group(const std::vector<std::string>& argv, Pipe& out, Pipe& err) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  Pipe failed = make_pipe();
  const pid_t parent = ::getpid();
  // vfork: the child borrows this process's memory until it execs, so starting a command
  // costs no page-table copy and no copy-on-write faults afterwards (posix_spawn does the same).
  const pid_t pid = ::vfork();
  if (pid < 0) throw Error("cannot run " + argv[0] + ": " + errno_text(errno));
  if (pid == 0) become_command(args.data(), out, err, failed.write.get(), parent);
  ::setpgid(pid, pid);  // as the child does: whichever runs first, a kill(-pid) finds the group
  failed.write.reset();
  out.write.reset();
  err.write.reset();
  int child_errno = 0;
  ssize_t n;
  do n = ::read(failed.read.get(), &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    ::waitpid(pid, nullptr, 0);
    throw Error("cannot run " + argv[0] + ": " + errno_text(child_errno));
  }
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
  Capture out_text(r.out_text, r.out_spill), err_text(r.err_text, r.err_spill);
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
    if (out_open) out_open = drain(out.read.get(), out_text);
    if (err_open) err_open = drain(err.read.get(), err_text);
    // Without a pidfd, poll a reaped status; with one, only when it says the child is gone.
    bool check = pidfd.get() < 0 || (n > 0 && (fds[n - 1].revents & POLLIN));
    if (check && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  // The child is gone; its pipes may still be held by something it left running in the
  // background, so take what is buffered now instead of waiting for end of file.
  if (out_open) drain(out.read.get(), out_text);
  if (err_open) drain(err.read.get(), err_text);
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
    r.transient = true;
    return r;
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    r.status = code == 0 ? Status::ok : Status::failed;
    if (code == 127 && r.err_text.empty()) r.error = "exit code 127 (command not found?)";
    else if (code != 0) r.error = "exit code " + std::to_string(code);
  } else if (WIFSIGNALED(status)) {
    r.status = Status::failed;
    r.error = "killed by " + signal_text(WTERMSIG(status));
  }
  // As GNU parallel's --retries: a command that failed may succeed when run again.
  r.transient = r.status == Status::failed;
  return r;
}

}  // namespace mediabatch
