#include "core/cleanup.hpp"

#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <set>

namespace mediabatch::cleanup {

namespace {

struct State {
  std::mutex mutex;
  std::set<std::string> temps;
  std::set<pid_t> groups;
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

void emergency() noexcept {
  // Hold the lock until the process exits: no task can register or rename meanwhile.
  state().mutex.lock();
  for (pid_t g : state().groups) ::kill(-g, SIGKILL);
  for (const auto& t : state().temps) ::unlink(t.c_str());
}

}  // namespace mediabatch::cleanup
