#include "mediabatch/scheduler.hpp"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/signals.hpp"
#include "core/tbb_handoff.hpp"
#include "mediabatch/text.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

struct Done {
  Result result;
  std::size_t index = 0;
  bool ran = false;  // false: taken after Ctrl-C, never started
};

// Results travel from the workers to the calling thread through this queue.
class ResultQueue {
 public:
  // Notifies under the lock: once the main thread has taken the last result it may destroy
  // the queue, so a worker must not touch it after unlocking.
  void push(Done&& r) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(r));
    ready_.notify_one();
  }
  // Waits up to `timeout`; returns false when nothing arrived.
  bool pop(Done& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return false;
    out = std::move(items_.front());
    items_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Done> items_;
};


// The one place a task's exceptions are caught: nothing may escape into TBB.
Result run_guarded(const Job& job, const JobFn& fn, const std::atomic<bool>& stop, double timeout) {
  const auto start = std::chrono::steady_clock::now();
  Result r;
  if (job.preset) {
    r.status = job.preset_failed ? Status::failed : Status::skipped;
    r.error = job.preset_reason;
  } else {
    try {
      r = fn(job);
    } catch (const Skip& e) {
      r = Result{};
      r.status = Status::skipped;
      r.error = e.what();
    } catch (const Cancelled& e) {
      r = Result{};
      r.status = Status::failed;
      r.cancelled = stop.load();
      r.transient = !r.cancelled && timeout > 0;
      r.error = r.cancelled ? "interrupted" : timeout > 0 ? "timed out after " + seconds_text(timeout) + " s" : e.what();
    } catch (const TransientError& e) {
      r = Result{};
      r.status = Status::failed;
      r.transient = true;
      r.out_of_space = e.error() == ENOSPC || e.error() == EDQUOT;
      r.error = e.what();
    } catch (const std::exception& e) {
      r = Result{};
      r.status = Status::failed;
      r.error = e.what();
    } catch (...) {
      r = Result{};
      r.status = Status::failed;
      r.error = "unknown error";
    }
  }
  r.index = job.index;
  if (r.input.empty()) r.input = job.input;
  if (r.output.empty() && !job.output.empty()) r.output = job.output.string();
  if (r.bytes_in == 0) r.bytes_in = job.size;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  slots_ = options_.slots > 0 ? options_.slots : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Input order starts jobs in order so that little must be held back; completion order starts
// the largest first (longest-processing-time-first), and jobs that do not run (presets)
// before anything, so they are reported at once.
std::vector<std::size_t> Scheduler::start_order_for(const std::vector<Job>& jobs) const {
  std::vector<std::size_t> order(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) order[i] = i;
  if (options_.order == Order::completion && options_.largest_first) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (jobs[a].preset != jobs[b].preset) return jobs[a].preset;
      return jobs[a].size > jobs[b].size;
    });
  }
  return order;
}

// Libraries with threads of their own get one per file unless the batch is smaller than the
// slots; then each file gets its share, and the slots left over go to the largest files
// (3 files on 8 slots: 3, 3 and 2 threads). `batch` is the whole batch, or more jobs than slots.
void Scheduler::assign_thread_shares(std::deque<Job>& batch) const {
  std::vector<Job*> by_size;
  for (Job& j : batch)
    if (!j.preset) by_size.push_back(&j);
  const auto slots = static_cast<std::size_t>(slots_);
  if (by_size.empty() || by_size.size() >= slots) return;
  std::stable_sort(by_size.begin(), by_size.end(), [](const Job* a, const Job* b) { return a->size > b->size; });
  for (std::size_t k = 0; k < by_size.size(); ++k)
    by_size[k]->threads = static_cast<int>(slots / by_size.size() + (k < slots % by_size.size() ? 1 : 0));
}

namespace {

// A batch given whole, in the order its jobs are to start.
class VectorSource final : public JobSource {
 public:
  VectorSource(std::vector<Job> jobs, std::vector<std::size_t> order) : jobs_(std::move(jobs)), order_(std::move(order)) {}
  bool next(Job& job) override {
    if (next_ == order_.size()) return false;
    job = std::move(jobs_[order_[next_++]]);
    return true;
  }

 private:
  std::vector<Job> jobs_;
  std::vector<std::size_t> order_;
  std::size_t next_ = 0;
};

// Jobs handed from the calling thread to the tasks, first in first out: the arena does not run
// enqueued tasks in FIFO order, so a task does not carry its job but takes the next one.
class JobQueue {
 public:
  void push(Job&& job) {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  Job pop() {
    std::lock_guard lock(mutex_);
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    return job;
  }

 private:
  std::mutex mutex_;
  std::deque<Job> jobs_;
};

// The source, with its first jobs read ahead: enough to tell a batch smaller than the slots.
class LookAhead {
 public:
  LookAhead(JobSource& source, std::size_t count) : source_(source) {
    Job j;
    while (first_.size() < count && (more_ = source_.next(j))) first_.push_back(std::move(j));
  }
  // The jobs read ahead, and whether they are all there are.
  std::deque<Job>& first() noexcept { return first_; }
  bool complete() const noexcept { return !more_; }
  bool next(Job& job) {
    if (!first_.empty()) {
      job = std::move(first_.front());
      first_.pop_front();
      return true;
    }
    return more_ && (more_ = source_.next(job));
  }

 private:
  JobSource& source_;
  std::deque<Job> first_;
  bool more_ = true;
};

}  // namespace

RunTotals Scheduler::run(std::vector<Job> jobs, const JobFn& fn, const ResultSink& sink,
                         const std::atomic<bool>& stop, const std::function<void()>& on_tick) {
  std::vector<std::size_t> order = start_order_for(jobs);
  VectorSource source(std::move(jobs), std::move(order));
  return run(source, fn, sink, stop, on_tick);
}

RunTotals Scheduler::run(JobSource& source, const JobFn& fn, const ResultSink& sink, const std::atomic<bool>& stop,
                         const std::function<void()>& on_tick) {
  RunTotals totals;
  const std::size_t window = options_.window > 0 ? options_.window : static_cast<std::size_t>(slots_) * 4;
  LookAhead jobs(source, static_cast<std::size_t>(slots_) + 1);
  if (jobs.complete()) assign_thread_shares(jobs.first());

  // TBB's default pool has one worker fewer than the hardware threads; -j may ask for more
  // (exec jobs mostly wait on their programs), so raise the limit for this run. No slot is
  // reserved for this thread: it only collects results.
  tbb::global_control workers(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(slots_) + 1);
  tbb::task_arena arena(slots_, 0);
  ResultQueue queue;
  JobQueue ready;
  const double timeout = options_.timeout_seconds;

  auto task = [&] {
    tbb_handoff_acquire(&ready);
    const Job job = ready.pop();
    if ((stop.load() || drain_requested()) && !job.preset) {
      queue.push({Result{}, job.index, false});  // cancelled or drained before it started: not reported
      return;
    }
    queue.push({run_guarded(job, fn, stop, timeout), job.index, true});
  };

  std::size_t submitted = 0, in_flight = 0, next_to_emit = 0;
  bool exhausted = false;
  std::map<std::size_t, Done> held;  // input order: finished, waiting for an earlier job
  auto emit = [&](Done&& d) {
    --in_flight;
    if (!d.ran) {
      ++totals.not_started;
      return;
    }
    ++totals.reported;
    sink(std::move(d.result));
  };

  std::optional<Job> waiting;  // next in line, held while options_.may_start says no
  for (;;) {
    while (!stop.load() && !drain_requested() && !exhausted && in_flight < window) {
      Job job;
      if (waiting) {
        job = std::move(*waiting);
        waiting.reset();
      } else if (!jobs.next(job)) {
        exhausted = true;
        break;
      }
      if (options_.may_start && !options_.may_start(job)) {
        waiting = std::move(job);
        break;
      }
      ++submitted;
      ++in_flight;
      totals.max_in_flight = std::max(totals.max_in_flight, in_flight);
      ready.push(std::move(job));
      tbb_handoff_release(&ready);
      arena.enqueue(task);
    }
    const bool may_wait = waiting && !stop.load() && !drain_requested();
    if (in_flight == 0 && !may_wait) break;

    Done d;
    if (!queue.pop(d, options_.tick)) {
      if (on_tick) on_tick();
      continue;
    }
    if (options_.order == Order::completion) {
      emit(std::move(d));
      continue;
    }
    held.emplace(d.index, std::move(d));
    // Input order: release everything that is now next in line.
    for (auto it = held.find(next_to_emit); it != held.end(); it = held.find(next_to_emit)) {
      Done ready_result = std::move(it->second);
      held.erase(it);
      ++next_to_emit;
      emit(std::move(ready_result));
    }
  }
  totals.started = submitted - totals.not_started;
  if (waiting) ++totals.not_started;
  for (Job rest; !exhausted && jobs.next(rest);) ++totals.not_started;
  return totals;
}

}  // namespace mediabatch
