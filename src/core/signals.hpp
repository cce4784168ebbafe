#pragma once
// Signals that end a batch. SIGINT, SIGTERM and SIGHUP are blocked in every thread from main's
// first line (block_signals(), before any thread exists, so every thread inherits the mask)
// and taken by one watcher: a thread (SignalWatcher), or a signalfd in a loop that forks
// (SignalFd; a process that forks should have no other thread). Whichever takes it: until
// the batch begins (stop_batch_on_signal()), a signal ends the process at once, since while
// inputs are walked and probed there is nothing to clean up or report, and a read of the
// input list from stdin could not be interrupted otherwise. Then the first signal sets the
// stop flag, and a second ends the process at once: commands killed, temporary files
// removed. Either way the exit code is 128 + the first signal's number. SIGPIPE is ignored: a closed
// stdout is an EPIPE error for whoever writes to it, not the end of the batch. SIGUSR1, taken
// the same way, drains the batch instead: no file starts after it, the running ones finish;
// SIGTSTP (Ctrl-Z) stops the process with exec's commands and the workers, SIGCONT continues
// them all.
#include <atomic>
#include <thread>

namespace mediabatch {

void block_signals();
// From now on the first signal stops the batch instead of ending the process.
void stop_batch_on_signal() noexcept;

// True once SIGUSR1 came (or request_drain() was called): start no new file.
bool drain_requested() noexcept;
// The first one prints "mediabatch: draining: ..." on stderr, unless no_drain_notice() was
// called (in a worker, whose supervisor has said it).
void request_drain() noexcept;
void no_drain_notice() noexcept;

// An eventfd that is written to after each signal that stops or drains the batch, so that a
// loop sleeping in poll() (--watch) wakes up for it; -1: none. Once set_wake_fd(-1) returns,
// nothing writes to the old one: its owner may close it.
void set_wake_fd(int fd) noexcept;

// What a shell reports for a process that the first signal (SIGINT, SIGTERM or SIGHUP) ended:
// 128 + its number (130 when none came).
int interrupted_exit_code() noexcept;

// A loop that polls: poll fd() for POLLIN, then call handle().
class SignalFd {
 public:
  explicit SignalFd(std::atomic<bool>& stop);
  int fd() const noexcept { return fd_; }
  void handle();
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

 private:
  std::atomic<bool>& stop_;
  int fd_;
};

// A thread that waits for the signals. At most one lives at a time in a process; main makes
// it before the first file is opened, so Ctrl-C works in every phase.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::atomic<bool>& stop);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // While one lives, the process's watcher thread (if any) is ended, and started again
  // afterwards: a process that forks workers watches with a SignalFd meanwhile. Signals that
  // arrive in between stay pending (they are blocked), so none is lost.
  class Pause {
   public:
    Pause();
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    SignalWatcher* paused_;
  };

 private:
  void start();
  void end();

  std::atomic<bool>& stop_;
  std::thread thread_;
};

}  // namespace mediabatch
