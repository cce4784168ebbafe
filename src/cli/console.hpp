#pragma once
// What the user sees on the terminal: one line per result, a live progress line on stderr,
// and the summary. Main thread only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mediabatch/engine.hpp"
#include "mediabatch/eta.hpp"

namespace mediabatch::cli {

enum class ProgressMode { automatic, always, never };

struct ConsoleOptions {
  bool exec = false;   // exec: print the commands' output; no status line for ok files
  bool quiet = false;  // only failures, no summary
  ProgressMode progress = ProgressMode::automatic;
  std::shared_ptr<DiskGuard> disk_guard{};  // --min-free: its note goes on the progress line
  // The jobs' bytes in the order they start, and the slots, for an ETA by work; empty (exec,
  // whose jobs are made as they are needed): the ETA goes by count.
  std::vector<std::uint64_t> sizes_in_start_order{};
  int slots = 1;
};

class Console final : public BatchSink {
 public:
  Console(ConsoleOptions options, std::size_t total);
  void result(const Result& r) override;
  // Redraws the progress line; a result redraws it too, at most ten times a second.
  void tick() override;
  // Counts per status (and of ok files with warnings), wall, CPU seconds of this process and
  // its children, parallelism.
  void summary(bool interrupted, bool drained, std::size_t not_started);
  std::size_t failed() const noexcept { return failed_; }
  bool progress_on() const noexcept { return progress_on_; }
  // --watch: the batch is done and `folders` are watched for more (said once on stderr when
  // there is no progress line); add_jobs(): more files arrived.
  void watching(std::size_t folders);
  void add_jobs(std::size_t n);

  struct Totals {
    std::size_t ok = 0, failed = 0, skipped = 0, warned = 0, interrupted = 0;
    double wall_seconds = 0, cpu_seconds = 0;  // since the console was made; CPU with children
  };
  Totals totals() const;

 private:
  void clear_progress();
  void draw_progress(bool force);
  // By work when the sizes are known, else by count; negative when not known yet.
  double remaining_seconds(std::size_t done, double elapsed) const;

  ConsoleOptions options_;
  bool progress_on_;
  std::size_t total_;
  std::size_t ok_ = 0, failed_ = 0, skipped_ = 0, interrupted_ = 0;
  std::size_t warned_ = 0;  // ok files with a warning
  std::size_t verified_ = 0;  // --verify: ok files whose outputs were checked
  std::chrono::steady_clock::time_point start_;
  double cpu_start_;
  bool progress_shown_ = false;
  std::optional<WorkEstimate> estimate_;
  std::chrono::steady_clock::time_point last_draw_{};
  std::size_t watched_folders_ = 0;  // --watch: folders watched (0: not watching)
};

}  // namespace mediabatch::cli
