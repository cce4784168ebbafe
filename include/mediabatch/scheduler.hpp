#pragma once
// The scheduler: runs one task per job on a tbb::task_arena of N slots and hands each
// result to the calling thread the moment its job completes (or in input order).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "mediabatch/job.hpp"
#include "mediabatch/result.hpp"

namespace mediabatch {

enum class Order { completion, input };

struct SchedulerOptions {
  int slots = 0;                  // tasks at once; 0 = the hardware threads
  Order order = Order::completion;
  bool largest_first = true;      // completion order: start the biggest inputs first (LPT)
  std::size_t window = 0;         // jobs started but not yet reported; 0 = 4 per slot
  double timeout_seconds = 0;     // per job, 0 = none (reported in the reason)
  std::chrono::milliseconds tick{250};  // how often on_tick runs while waiting
  // Whether the next job may start now (--min-free); while not, nothing starts and it is asked
  // again at each tick. Empty: always.
  std::function<bool(const Job&)> may_start{};
};

struct RunTotals {
  std::size_t started = 0;
  std::size_t reported = 0;
  std::size_t not_started = 0;    // left when the run was cancelled
  std::size_t max_in_flight = 0;  // the most jobs ever started and not yet reported
};

// Runs a job on a worker thread. It may throw: the scheduler catches everything there, once,
// and turns it into a failed result, so one bad file never stops the others.
using JobFn = std::function<Result(const Job&)>;
// Receives each result on the thread that called run(), one at a time.
using ResultSink = std::function<void(Result&&)>;

// Where a run takes its jobs from: one at a time, in the order they are to start, made as
// they are needed so that a batch never holds a Job per input. Called on the thread that
// called Scheduler::run(). Indices are dense in input order; under Order::input a source
// yields them in that order.
class JobSource {
 public:
  virtual ~JobSource() = default;
  // The next job; false when there is none left.
  virtual bool next(Job& job) = 0;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // Runs the jobs (given in input order; index must equal position) until all are reported
  // or `stop` turns true, in which case no new job starts, running ones finish or cancel
  // themselves, and run() returns once every started job has been reported.
  // Each job's `threads` is set first: its share of the slots when there are fewer jobs than
  // slots, else 1. on_tick runs on the calling thread every options.tick while waiting.
  RunTotals run(std::vector<Job> jobs, const JobFn& fn, const ResultSink& sink,
                const std::atomic<bool>& stop, const std::function<void()>& on_tick = {});
  // The same, taking the jobs from a source, in the order it gives them; when it stops
  // early, the jobs left in the source are counted as not started.
  RunTotals run(JobSource& jobs, const JobFn& fn, const ResultSink& sink, const std::atomic<bool>& stop,
                const std::function<void()>& on_tick = {});

  int slots() const noexcept { return slots_; }

 private:
  std::vector<std::size_t> start_order_for(const std::vector<Job>& jobs) const;
  void assign_thread_shares(std::deque<Job>& first) const;

  SchedulerOptions options_;
  int slots_;
};

}  // namespace mediabatch
