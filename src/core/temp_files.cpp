// Temporary names, and the sweep that removes a killed run's leftovers.
#include "mediabatch/temp_files.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "mediabatch/inputs.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

namespace {

const std::string marker = ".mbtmp";

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// A running process of ours (a worker is a fork of the program, with the same name).
bool is_running_mediabatch(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.rfind("mediabatch", 0) == 0;
}

bool untouched_for_a_day(const fs::path& p) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  return !ec && fs::file_time_type::clock::now() - t > std::chrono::hours(24);
}

bool is_stale(const fs::path& p, const TempOwner& owner) {
  if (untouched_for_a_day(p)) return true;
  return owner.host == this_host_id() && owner.pid != ::getpid() && !is_running_mediabatch(owner.pid);
}

}  // namespace

std::uint32_t this_host_id() noexcept {
  static const std::uint32_t id = [] {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return static_cast<std::uint32_t>(stable_hash(name));
  }();
  return id;
}

fs::path temp_path_beside(const fs::path& final_path, const std::string& tag) {
  const std::string mark = marker + hex8(this_host_id()) + "-" + std::to_string(::getpid()) + "-";
  return final_path.parent_path() / ("." + final_path.stem().string() + mark + tag + final_path.extension().string());
}

std::optional<TempOwner> temp_owner(const std::string& filename) {
  if (!is_temp_name(filename)) return std::nullopt;
  const auto at = filename.rfind(marker);
  unsigned host = 0;
  long pid = 0;
  int used = 0;
  if (std::sscanf(filename.c_str() + at + marker.size(), "%8x-%ld-%n", &host, &pid, &used) != 2 || used == 0 ||
      pid <= 0)
    return std::nullopt;
  return TempOwner{host, static_cast<pid_t>(pid)};
}

namespace {

// Removes the temporary files in `folders` for which remove(path, owner) is true.
template <class Remove>
std::size_t remove_temporaries_if(const std::set<fs::path>& folders, Remove remove) {
  std::size_t removed = 0;
  for (const fs::path& folder : folders) {
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const auto owner = temp_owner(it->path().filename().string());
      if (!owner || !remove(it->path(), *owner)) continue;
      std::error_code rm;
      if (fs::remove(it->path(), rm)) ++removed;
    }
  }
  return removed;
}

}  // namespace

std::size_t remove_stale_temporaries(const std::set<fs::path>& folders) {
  return remove_temporaries_if(folders, is_stale);
}

std::size_t remove_temporaries_of(pid_t pid, const std::set<fs::path>& folders) {
  return remove_temporaries_if(folders, [pid](const fs::path&, const TempOwner& owner) {
    return owner.host == this_host_id() && owner.pid == pid;
  });
}

}  // namespace mediabatch
