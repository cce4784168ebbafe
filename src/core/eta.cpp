#include "mediabatch/eta.hpp"

#include <algorithm>
#include <functional>
#include <queue>

namespace mediabatch {

WorkEstimate::WorkEstimate(const std::vector<std::uint64_t>& sizes, int slots)
    : pending_(sizes.begin(), sizes.end()), slots_(static_cast<std::size_t>(std::max(1, slots))) {
  while (running_.size() < slots_ && !pending_.empty()) {
    running_.push_back({pending_.front(), 0});
    pending_.pop_front();
  }
}

void WorkEstimate::finished(std::uint64_t bytes, double seconds, bool converted, double now) {
  // The running job of that size (results do not say which job they are); a job reported
  // without running (a file that is missing) may still be waiting.
  auto it = std::find_if(running_.begin(), running_.end(), [&](const Running& r) { return r.bytes == bytes; });
  if (it != running_.end()) {
    running_.erase(it);
  } else if (auto p = std::find(pending_.begin(), pending_.end(), bytes); p != pending_.end()) {
    pending_.erase(p);
  } else if (!running_.empty()) {
    running_.erase(running_.begin());
  }
  while (running_.size() < slots_ && !pending_.empty()) {
    running_.push_back({pending_.front(), now});
    pending_.pop_front();
  }
  if (!converted || seconds <= 0) return;
  (warm_up_.n == 0 ? warm_up_ : steady_).add(static_cast<double>(bytes), seconds);
}

void WorkEstimate::Fit::add(double x, double y) noexcept {
  n += 1;
  sx += x;
  sy += y;
  sxx += x * x;
  sxy += x * y;
}

double WorkEstimate::Fit::cost(double x) const noexcept {
  const double spread = n * sxx - sx * sx;
  // One size seen so far: a line through the origin and the mean.
  if (n < 2 || spread <= 1e-9 * sxx * n) return sx > 0 ? sy / sx * x : sy / n;
  double b = (n * sxy - sx * sy) / spread;
  double a = (sy - b * sx) / n;
  if (b < 0) {  // noise on files of one cost: the mean
    b = 0;
    a = sy / n;
  } else if (a < 0) {  // no fixed part: through the origin
    a = 0;
    b = sxy / sxx;
  }
  return a + b * x;
}

double WorkEstimate::cost(std::uint64_t bytes) const {
  return (steady_.n > 0 ? steady_ : warm_up_).cost(static_cast<double>(bytes));
}

double WorkEstimate::remaining(double now) const {
  if (warm_up_.n == 0) return -1;
  // When each slot is free: after the job on it ends (one that has run longer than it should
  // is taken as about to end), then the waiting jobs in start order on the first free slot.
  std::priority_queue<double, std::vector<double>, std::greater<double>> free_at;
  for (const Running& r : running_) free_at.push(std::max(now, r.start + cost(r.bytes)));
  while (free_at.size() < slots_) free_at.push(now);
  double end = now;
  for (std::uint64_t bytes : pending_) {
    const double start = free_at.top();
    free_at.pop();
    free_at.push(start + cost(bytes));
  }
  while (!free_at.empty()) {
    end = std::max(end, free_at.top());
    free_at.pop();
  }
  return end - now;
}

}  // namespace mediabatch
