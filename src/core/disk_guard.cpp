#include "mediabatch/disk_guard.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

namespace {

std::string size_text(std::uint64_t bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// The folder itself, or the nearest one above it that exists (an output folder is made when
// its first file is written).
fs::path existing(fs::path folder) {
  std::error_code ec;
  if (folder.empty()) folder = ".";
  while (!fs::is_directory(folder, ec) && folder.has_parent_path() && folder.parent_path() != folder)
    folder = folder.parent_path();
  return folder;
}

}  // namespace

FreeSpaceRule parse_free_space(const std::string& text) {
  if (text == "auto") return FreeSpaceRule{1ull << 30, true};
  const auto bad = [&] { return UsageError("--min-free: expected a size such as 500M, 2G or 0, got '" + text + "'"); };
  std::size_t end = 0;
  double number = 0;
  try {
    number = std::stod(text, &end);
  } catch (const std::exception&) {
    throw bad();
  }
  if (number < 0 || !std::isfinite(number)) throw bad();
  const std::string unit = text.substr(end);
  static const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1 && units.find(static_cast<char>(std::toupper(unit[0]))) != std::string::npos)
    scale = std::pow(1024.0, static_cast<double>(units.find(static_cast<char>(std::toupper(unit[0]))) + 1));
  else if (!unit.empty())
    throw bad();
  return FreeSpaceRule{static_cast<std::uint64_t>(number * scale), false};
}

DiskGuard::DiskGuard(FreeSpaceRule rule, std::vector<fs::path> folders) : rule_(rule), folders_(std::move(folders)) {
  std::sort(folders_.begin(), folders_.end());
  folders_.erase(std::unique(folders_.begin(), folders_.end()), folders_.end());
}

void DiskGuard::refresh() {
  const auto now = std::chrono::steady_clock::now();
  if (checked_ != std::chrono::steady_clock::time_point{} && now - checked_ < std::chrono::seconds(1)) return;
  checked_ = now;
  short_of_.clear();
  for (const fs::path& folder : folders_) {
    struct statvfs st {};
    const fs::path at = existing(folder);
    if (::statvfs(at.c_str(), &st) != 0) continue;
    const std::uint64_t size = static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize;
    const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    const std::uint64_t needed = rule_.at_most_two_percent ? std::min(rule_.bytes, size / 50) : rule_.bytes;
    if (free < needed) {
      short_of_ = "waiting for disk space: " + size_text(free) + " free on " + at.string() + ", " + size_text(needed) +
                  " needed";
      return;
    }
  }
}

bool DiskGuard::enough_space() {
  if (rule_.bytes == 0) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  refresh();
  return short_of_.empty();
}

std::string DiskGuard::waiting_note() {
  if (rule_.bytes == 0) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  refresh();
  return short_of_;
}

}  // namespace mediabatch
