#include "mediabatch/parallel.hpp"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mediabatch {

void run_workers(int count, const std::function<void()>& worker) {
  std::mutex mutex;
  std::exception_ptr first;
  auto guarded = [&] {
    try {
      worker();
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!first) first = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < count; ++i) threads.emplace_back(guarded);
  guarded();
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace mediabatch
