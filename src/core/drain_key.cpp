#include "core/drain_key.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "core/signals.hpp"

namespace mediabatch {

namespace {

std::atomic<bool> terminal_taken{false};
termios saved_settings{};
termios key_settings{};

bool in_foreground() noexcept { return ::tcgetpgrp(STDIN_FILENO) == ::getpgrp(); }

}  // namespace

void restore_terminal() noexcept {
  if (terminal_taken.load() && in_foreground()) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_settings);
}

void retake_terminal() noexcept {
  if (terminal_taken.load() && in_foreground()) ::tcsetattr(STDIN_FILENO, TCSANOW, &key_settings);
}

DrainKey::DrainKey() {
  if (!::isatty(STDIN_FILENO) || !in_foreground() || ::tcgetattr(STDIN_FILENO, &saved_settings) != 0) return;
  stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_) return;
  key_settings = saved_settings;
  key_settings.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
  key_settings.c_cc[VMIN] = 1;
  key_settings.c_cc[VTIME] = 0;
  // Read in the background (after Ctrl-Z and bg), a terminal would stop the whole process
  // with SIGTTIN; ignored, the read fails with EIO instead.
  ::signal(SIGTTIN, SIG_IGN);
  if (::tcsetattr(STDIN_FILENO, TCSANOW, &key_settings) != 0) return;
  terminal_taken.store(true);
  thread_ = std::thread([stop = stop_.get()] {
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents & POLLIN) return;
      if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return;  // the terminal went away
      if (!in_foreground()) {  // typed-ahead input for the shell: not ours, and unreadable
        ::usleep(250000);
        continue;
      }
      char key = 0;
      const ssize_t n = ::read(STDIN_FILENO, &key, 1);
      if (n == 0) return;
      if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EIO) return;
      if (n == 1 && (key == 'q' || key == 'Q')) request_drain();
    }
  });
}

DrainKey::~DrainKey() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
  restore_terminal();
  terminal_taken.store(false);
  ::signal(SIGTTIN, SIG_DFL);
}

}  // namespace mediabatch
