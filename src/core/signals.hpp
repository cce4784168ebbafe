#pragma once
// Ctrl-C handling. SIGINT and SIGTERM are blocked in every thread (block_signals() must run
// first in main, before any thread exists, so TBB's workers inherit the mask) and taken by one
// watcher thread with sigwait: the first sets the stop flag, the second kills running
// commands, removes temporary files and exits 130 at once.
#include <atomic>
#include <functional>
#include <thread>

namespace mediabatch {

void block_signals();

// The same rules for a loop that polls, with no thread of its own (the supervisor, which
// forks: a process that forks should have no other thread). poll() fd() for POLLIN, then
// call handle().
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
  int seen_ = 0;
};

class SignalWatcher {
 public:
  SignalWatcher(std::atomic<bool>& stop, std::function<void()> on_first);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::thread thread_;
};

}  // namespace mediabatch
