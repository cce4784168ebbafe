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
