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
  const double x = static_cast<double>(bytes);
  n_ += 1;
  sx_ += x;
  sy_ += seconds;
  sxx_ += x * x;
  sxy_ += x * seconds;
}

double WorkEstimate::cost(std::uint64_t bytes) const {
  const double x = static_cast<double>(bytes);
  const double spread = n_ * sxx_ - sx_ * sx_;
  // One size seen so far: a line through the origin and the mean.
  if (n_ < 2 || spread <= 1e-9 * sxx_ * n_) return sx_ > 0 ? sy_ / sx_ * x : sy_ / n_;
  double b = (n_ * sxy_ - sx_ * sy_) / spread;
  double a = (sy_ - b * sx_) / n_;
  if (b < 0) {  // noise on files of one cost: the mean
    b = 0;
    a = sy_ / n_;
  } else if (a < 0) {  // no fixed part: through the origin
    a = 0;
    b = sxy_ / sxx_;
  }
  return a + b * x;
}

double WorkEstimate::remaining(double now) const {
  if (n_ == 0) return -1;
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
