#include "core/worker.hpp"

#include <exception>

#include "core/signals.hpp"
#include "core/worker_protocol.hpp"
#include "mediabatch/scheduler.hpp"

namespace mediabatch {

int worker_main(const std::vector<Job>& jobs, const std::set<std::size_t>& run, const std::set<std::size_t>& redo,
                const BatchOptions& options, volatile unsigned char* started, int journal_fd) noexcept {
  try {
    std::vector<Job> mine;
    for (const Job& j : jobs) {
      if (!run.count(j.index)) continue;
      mine.push_back(j);
      mine.back().redo = redo.count(j.index) > 0;
    }
    worker::RecordWriter journal(journal_fd);
    std::atomic<bool> stop{false};
    SignalWatcher watcher(stop);
    SchedulerOptions sopts = options.scheduler();
    sopts.order = Order::completion;  // the supervisor puts results in order
    Scheduler(sopts).run(
        std::move(mine),
        [&](const Job& j) {
          started[j.index] = 1;
          return run_job(j, options.job, stop);
        },
        [&](Result&& r) { journal.write(worker::encode_result(r)); }, stop);
    return stop.load() ? 130 : 0;
  } catch (const std::exception&) {
    return 70;  // the journal is gone: the supervisor sees the worker end early
  }
}

}  // namespace mediabatch
