#include "core/cleanup.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iterator>
#include <mutex>
#include <set>

namespace mediabatch::cleanup {

namespace {

struct State {
  std::mutex mutex;
  std::set<std::string> temps;
  std::set<pid_t> groups;
  std::set<pid_t> workers;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

void add_temp(const std::filesystem::path& p) {
  std::lock_guard lock(state().mutex);
  state().temps.insert(p.string());
}

void remove_temp(const std::filesystem::path& p) {
  std::lock_guard lock(state().mutex);
  state().temps.erase(p.string());
}

void add_group(pid_t pgid) {
  std::lock_guard lock(state().mutex);
  state().groups.insert(pgid);
}

void remove_group(pid_t pgid) {
  std::lock_guard lock(state().mutex);
  state().groups.erase(pgid);
}

void add_worker(pid_t pid) {
  std::lock_guard lock(state().mutex);
  state().workers.insert(pid);
}

void remove_worker(pid_t pid) {
  std::lock_guard lock(state().mutex);
  state().workers.erase(pid);
}

void signal_all(int sig) noexcept {
  std::lock_guard lock(state().mutex);
  for (pid_t g : state().groups) ::kill(-g, sig);
  for (pid_t w : state().workers) ::kill(w, sig);
}

void emergency() noexcept {
  // Hold the lock until the process exits: no task can register or rename meanwhile.
  state().mutex.lock();
  for (pid_t g : state().groups) ::kill(-g, SIGKILL);
  for (const auto& t : state().temps) ::unlink(t.c_str());
  for (pid_t w : state().workers) ::kill(w, SIGTERM);
  // A worker's own emergency takes milliseconds; give it up to two seconds.
  for (int waited = 0; waited < 200 && !state().workers.empty(); ++waited) {
    for (auto it = state().workers.begin(); it != state().workers.end();)
      it = ::waitpid(*it, nullptr, WNOHANG) == 0 ? std::next(it) : state().workers.erase(it);
    if (!state().workers.empty()) ::usleep(10000);
  }
  for (pid_t w : state().workers) ::kill(w, SIGKILL);
}

}  // namespace mediabatch::cleanup
