#pragma once
// A set of job indices of one batch, a bit each: what the supervisor tracks of a batch of a
// million jobs (started, reported, still to run). Not thread-safe.
#include <cstddef>
#include <vector>

namespace mediabatch {

class JobSet {
 public:
  explicit JobSet(std::size_t jobs = 0) : bits_(jobs, false) {}
  JobSet(std::size_t jobs, std::size_t only) : bits_(jobs, false) { insert(only); }

  void insert(std::size_t i) {
    if (!bits_[i]) ++count_;
    bits_[i] = true;
  }
  void erase(std::size_t i) {
    if (bits_[i]) --count_;
    bits_[i] = false;
  }
  bool contains(std::size_t i) const { return bits_[i]; }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  const std::vector<bool>& bits() const noexcept { return bits_; }
  template <class F>
  void for_each(F f) const {
    for (std::size_t i = 0; i < bits_.size(); ++i)
      if (bits_[i]) f(i);
  }

 private:
  std::vector<bool> bits_;
  std::size_t count_ = 0;
};

}  // namespace mediabatch
