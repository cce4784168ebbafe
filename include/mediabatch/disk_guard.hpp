#pragma once
// --min-free: no file starts while a filesystem the batch writes to has less free space than
// the rule asks; a job waits until there is. Thread-safe: checked by the scheduler's thread (in
// the worker process too) and by the console's progress line.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace mediabatch {

struct FreeSpaceRule {
  std::uint64_t bytes = 0;  // 0: no guard
  // The default: the smaller of `bytes` (1 GiB) and 2% of the filesystem's size.
  bool at_most_two_percent = false;
};

// Parses --min-free: "0" (off), "500M", "2G", "1.5T", "4096" (bytes; K M G T are powers of
// 1024), or "auto" (1G or 2% of the filesystem, whichever is smaller). Throws UsageError.
FreeSpaceRule parse_free_space(const std::string& text);

class DiskGuard {
 public:
  // `folders`: where outputs go (the output folder, or the input folders when converting in
  // place); the nearest existing folder of each is checked.
  DiskGuard(FreeSpaceRule rule, std::vector<std::filesystem::path> folders);

  // True when every folder's filesystem has the free space the rule asks for. Looks at most
  // once a second; an error (a folder that went away) counts as enough space.
  bool enough_space();
  // Whether the rule asks for any space (--min-free 0 does not).
  bool guarding() const noexcept { return rule_.bytes > 0; }
  // "waiting for disk space: 210 MB free on out, 1.0 GB needed", or empty when there is enough.
  std::string waiting_note();

 private:
  void refresh();

  FreeSpaceRule rule_;
  std::vector<std::filesystem::path> folders_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point checked_{};
  std::string short_of_;  // the last check's note, empty when there was enough
};

}  // namespace mediabatch
