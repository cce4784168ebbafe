#include "core/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "core/cleanup.hpp"

namespace mediabatch {

namespace {

// SIGUSR2 sent to the watcher thread itself tells it to quit.
sigset_t watched() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  return set;
}

}  // namespace

void block_signals() {
  sigset_t set = watched();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::atomic<bool>& stop, std::function<void()> on_first) {
  thread_ = std::thread([&stop, on_first = std::move(on_first)] {
    sigset_t set = watched();
    int seen = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;
      if (++seen == 1) {
        stop.store(true);
        if (on_first) on_first();
      } else {
        cleanup::emergency();
        static const char msg[] = "\nmediabatch: interrupted twice, exiting now\n";
        [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
        ::_exit(130);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

}  // namespace mediabatch
