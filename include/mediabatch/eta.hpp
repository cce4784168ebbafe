#pragma once
// How long a batch has left, by the work in its files rather than their count: a batch of six
// short videos and one long one is not 6/7 done when the short ones are. Each converted file
// teaches the cost of a file (seconds = a fixed part + a part per byte, fitted by least
// squares); the files still to come are then laid on the slots in the order the scheduler
// starts them, after the files running now. Not thread-safe; plain arithmetic.
#include <cstdint>
#include <deque>
#include <vector>

namespace mediabatch {

class WorkEstimate {
 public:
  // `sizes`: every job's bytes in the order the scheduler starts them; `slots`: files at once.
  // The first `slots` start at time 0.
  WorkEstimate(const std::vector<std::uint64_t>& sizes, int slots);

  // A job of `bytes` ended at `now` (seconds since the batch began) after `seconds` of work;
  // `converted` when it did the work (not skipped as up to date, not failed at once). The next
  // job in start order takes its slot.
  void finished(std::uint64_t bytes, double seconds, bool converted, double now);

  // Seconds from `now` until the last job ends; negative until a file has been converted.
  double remaining(double now) const;

 private:
  struct Running {
    std::uint64_t bytes;
    double start;
  };
  double cost(std::uint64_t bytes) const;

  std::deque<std::uint64_t> pending_;  // not started, in start order
  std::vector<Running> running_;
  std::size_t slots_;
  // Sums for the least-squares line seconds = a + b * bytes over converted files.
  struct Fit {
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    void add(double x, double y) noexcept;
    double cost(double x) const noexcept;
  };
  // The first file converted pays the batch's start-up (the encoder module loaded, a
  // library's tables built): it counts only until others have been converted.
  Fit warm_up_, steady_;
};

}  // namespace mediabatch
