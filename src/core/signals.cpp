#include "core/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/cleanup.hpp"
#include "core/drain_key.hpp"

namespace mediabatch {

namespace {

// Shared by the watcher thread and a SignalFd, which never run at the same time.
std::atomic<int> first_signal{0};
std::atomic<SignalWatcher*> active_watcher{nullptr};
std::atomic<bool> batch_running{false};
std::atomic<bool> draining{false};
std::atomic<bool> drain_notice{true};
// The wake-up eventfd; the mutex keeps its owner from closing it while a signal writes to it
// (a write after the close could reach another file that took its number).
std::mutex wake_mutex;
int wake_fd = -1;

void wake() noexcept {
  const std::lock_guard<std::mutex> lock(wake_mutex);
  const std::uint64_t one = 1;
  if (wake_fd < 0) return;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof one);
}

sigset_t batch_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTSTP);
  // Blocked, SIGCONT still continues the process; pause_all() waits for it to know when.
  sigaddset(&set, SIGCONT);
  return set;
}

[[noreturn]] void exit_at_once(const char* why) {
  restore_terminal();
  cleanup::emergency();
  [[maybe_unused]] auto n = ::write(2, why, std::strlen(why));
  ::_exit(interrupted_exit_code());
}

// Ctrl-Z: exec's commands run in process groups of their own, which the terminal's SIGTSTP
// does not reach; they are stopped with this process, and continued with it.
void pause_all() {
  sigset_t cont;
  sigemptyset(&cont);
  sigaddset(&cont, SIGCONT);
  const timespec now{0, 0};
  while (sigtimedwait(&cont, nullptr, &now) == SIGCONT) {  // an old one must not end the pause
  }
  cleanup::signal_all(SIGSTOP);
  restore_terminal();  // the shell's, while it has the terminal
  ::kill(::getpid(), SIGSTOP);
  // kill() returns before the process stops; the SIGCONT that continues it (fg, bg, kill
  // -CONT) is the one to wait for.
  int sig = 0;
  while (sigwait(&cont, &sig) != 0) {
  }
  cleanup::signal_all(SIGCONT);
  retake_terminal();  // at fg; in the background (bg) it stays the shell's
}

void take(int sig, std::atomic<bool>& stop) {
  if (sig == SIGUSR1) return request_drain();
  if (sig == SIGTSTP) return pause_all();
  if (sig == SIGCONT) return retake_terminal();  // fg after bg
  int none = 0;
  const bool first = first_signal.compare_exchange_strong(none, sig);
  if (!batch_running.load()) exit_at_once("\nmediabatch: interrupted before any file was converted\n");
  if (!first) exit_at_once("\nmediabatch: interrupted twice, exiting now\n");
  stop.store(true);
  wake();
}

}  // namespace

void block_signals() {
  sigset_t set = batch_signals();
  sigaddset(&set, SIGUSR2);  // tells the watcher thread to end
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void stop_batch_on_signal() noexcept { batch_running.store(true); }

bool drain_requested() noexcept { return draining.load(); }
void request_drain() noexcept {
  if (!draining.exchange(true) && drain_notice.load()) {
    // As GNU parallel says it on SIGHUP ("No new jobs will be started"); over a progress line.
    std::fprintf(stderr, "%smediabatch: draining: no new file starts, the running ones finish (Ctrl-C stops them)\n",
                 ::isatty(STDERR_FILENO) ? "\r\033[K" : "");
  }
  wake();
}
void no_drain_notice() noexcept { drain_notice.store(false); }
void set_wake_fd(int fd) noexcept {
  const std::lock_guard<std::mutex> lock(wake_mutex);
  wake_fd = fd;
}

int interrupted_exit_code() noexcept {
  const int sig = first_signal.load();
  return 128 + (sig ? sig : SIGINT);
}

SignalWatcher::SignalWatcher(std::atomic<bool>& stop) : stop_(stop) {
  start();
  active_watcher.store(this);
}

SignalWatcher::~SignalWatcher() {
  active_watcher.store(nullptr);
  end();
}

void SignalWatcher::start() {
  thread_ = std::thread([&stop = stop_] {
    sigset_t set = batch_signals();
    sigaddset(&set, SIGUSR2);
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2) return;
      take(sig, stop);
    }
  });
}

void SignalWatcher::end() {
  if (!thread_.joinable()) return;
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
}

SignalWatcher::Pause::Pause() : paused_(active_watcher.load()) {
  if (paused_) paused_->end();
}

SignalWatcher::Pause::~Pause() {
  if (paused_) paused_->start();
}

SignalFd::SignalFd(std::atomic<bool>& stop) : stop_(stop) {
  sigset_t set = batch_signals();
  fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

SignalFd::~SignalFd() {
  if (fd_ >= 0) ::close(fd_);
}

void SignalFd::handle() {
  signalfd_siginfo info;
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
    take(static_cast<int>(info.ssi_signo), stop_);
}

}  // namespace mediabatch
