#include "core/worker.hpp"

#include <exception>

#include "core/signals.hpp"
#include "core/worker_protocol.hpp"
#include "mediabatch/scheduler.hpp"

namespace mediabatch {

namespace {

// The worker's share of the batch, largest first, with the suspects of a crash marked to be
// converted even when their outputs look up to date.
class WorkerJobs final : public JobSource {
 public:
  WorkerJobs(const JobList& jobs, const JobSet& run, const std::set<std::size_t>& redo, bool largest_first)
      : source_(jobs.source(largest_first, &run.bits())), redo_(redo) {}
  bool next(Job& job) override {
    if (!source_->next(job)) return false;
    job.redo = redo_.count(job.index) > 0;
    return true;
  }

 private:
  std::unique_ptr<JobSource> source_;
  const std::set<std::size_t>& redo_;
};

}  // namespace

int worker_main(const JobList& jobs, const JobSet& run, const std::set<std::size_t>& redo,
                const BatchOptions& options, volatile unsigned char* started, int journal_fd) noexcept {
  try {
    // Under --order input the supervisor holds each result until the earlier ones are in:
    // start them in input order, so that it holds a window's worth, not the batch.
    WorkerJobs mine(jobs, run, redo, options.largest_first && options.order == Order::completion);
    worker::RecordWriter journal(journal_fd);
    std::atomic<bool> stop{false};
    no_drain_notice();  // the supervisor said it
    SignalWatcher watcher(stop);
    SchedulerOptions sopts = options.scheduler();
    sopts.order = Order::completion;  // the supervisor puts results in order
    Scheduler(sopts).run(
        mine,
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
