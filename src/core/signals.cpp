#include "core/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
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

[[noreturn]] void exit_on_second_signal() {
  cleanup::emergency();
  static const char msg[] = "\nmediabatch: interrupted twice, exiting now\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(130);
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
        exit_on_second_signal();
      }
    }
  });
}

SignalFd::SignalFd(std::atomic<bool>& stop) : stop_(stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalFd::~SignalFd() {
  if (fd_ >= 0) ::close(fd_);
}

void SignalFd::handle() {
  signalfd_siginfo info;
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (++seen_ == 1) stop_.store(true);
    else exit_on_second_signal();
  }
}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

}  // namespace mediabatch
