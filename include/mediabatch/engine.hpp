#pragma once
// The engine: how one planned job runs (run_job) and how a planned batch runs (Batch). This
// is the single place that knows a job's whole life: skip-if-newer, the output folder, the
// deadline, the encoder's context, commit or discard, the result; and for a batch the thread
// shares, the scheduler, the stream of results to the sinks, Ctrl-C and the encoders' finish().
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "mediabatch/disk_guard.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/exec.hpp"
#include "mediabatch/job.hpp"
#include "mediabatch/job_list.hpp"
#include "mediabatch/result.hpp"
#include "mediabatch/scheduler.hpp"

namespace mediabatch {

class ResultFeed;  // where a batch's results go (src/core/result_feed.hpp)


struct JobSettings {
  bool force = false;           // convert even when a done marker is newer than the input
  double timeout_seconds = 0;   // 0 = none
  bool fsync = false;           // outputs and their folders reach the disk before a job is ok
  bool verify = false;          // outputs are read back and checked before they are renamed
};

// Runs one planned encoder job end to end and returns its result: skipped when an earlier
// run's output is up to date, else the output folder is made, job.encoder->encode() writes
// temporary files, and they are all renamed into place (or all removed). The only caller of
// Encoder::encode(). Thread-safe; throws Error, Skip and Cancelled as the encoder does (the
// scheduler turns them into results).
Result run_job(const Job& job, const JobSettings& settings, const std::atomic<bool>& stop);

// Receives each result as the batch reports it, on the thread that called Batch::run(), one
// at a time. result() may throw Error: the batch then says so once, stops feeding that sink
// and ends as failed (a report file on a full disk).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void result(const Result& r) = 0;
  // Called every quarter second or so while the batch waits for results.
  virtual void tick() {}
};

struct BatchOptions {
  int slots = 0;                  // files at once; 0 = the hardware threads
  Order order = Order::completion;
  bool largest_first = true;      // completion order: biggest inputs first
  JobSettings job;
  std::string command;            // "thumbs", "convert", "exec": for results of preset jobs
  std::vector<std::string> exec_command;  // exec: the program and its arguments, with placeholders
  double exec_grace_seconds = 2;  // exec: between SIGTERM and SIGKILL
  // Encoder jobs run in a worker process forked from this one, which the batch supervises: a
  // file that crashes a library fails alone, and a fresh worker takes the rest. Off: every
  // job runs in this process.
  bool isolate = false;
  // Attempts after the first for a job that failed for a transient reason (Result::transient),
  // made after every other job.
  int retries = 0;
  // --min-free: no job starts while a filesystem written to is short of free space. Null: none.
  std::shared_ptr<DiskGuard> disk_guard{};

  // The scheduler's part of these settings.
  SchedulerOptions scheduler() const {
    SchedulerOptions s;
    s.slots = slots;
    s.order = order;
    s.largest_first = largest_first;
    s.timeout_seconds = job.timeout_seconds;
    // A preset job writes nothing: it need not wait.
    if (disk_guard) s.may_start = [guard = disk_guard](const Job& j) { return j.preset || guard->enough_space(); };
    return s;
  }
};

struct BatchOutcome {
  std::size_t ok = 0, failed = 0, skipped = 0;
  std::size_t interrupted_jobs = 0;  // running when the batch was interrupted (not in `failed`)
  std::size_t not_started = 0;    // left when the batch was interrupted or drained
  bool interrupted = false;       // Ctrl-C or SIGTERM
  bool drained = false;           // SIGUSR1: nothing started after it; not_started were left
  bool batch_failed = false;      // a sink or an encoder's finish() failed
};

// A batch. Owns its jobs; made and run on the main thread. Jobs without an encoder run the
// exec command.
class Batch {
 public:
  // Planned encoder jobs. Hands every encoder its part (Encoder::plan, which may throw
  // UsageError).
  Batch(JobList jobs, std::vector<Encoder*> encoders, BatchOptions options);
  // exec: jobs made as they are needed (an input walk), never all at once; `count` of them.
  Batch(std::unique_ptr<JobSource> jobs, std::size_t count, BatchOptions options);

  // Jobs in all.
  std::size_t size() const noexcept { return count_; }
  // The planned encoder jobs (empty for exec, and once run).
  const JobList& jobs() const noexcept { return jobs_; }
  const BatchOptions& options() const noexcept { return options_; }

  // Runs every job (on the scheduler, or in supervised worker processes), streams each result
  // to every sink, then (unless interrupted) calls each encoder's finish(). Runs once.
  // `stop` stops it (running jobs are cancelled, nothing new starts, finish() stops too); the
  // program's SignalWatcher sets it on SIGINT, SIGTERM or SIGHUP.
  BatchOutcome run(const std::vector<BatchSink*>& sinks, std::atomic<bool>& stop);

 private:
  Result run_one(const Job& job, const std::atomic<bool>& stop) const;
  bool supervised() const noexcept { return options_.isolate && !encoders_.empty(); }
  void retry(ResultFeed& feed, std::atomic<bool>& stop, BatchOutcome& outcome);
  void finish_encoders(const std::vector<fs::path>& outputs, const std::atomic<bool>& stop, BatchOutcome& outcome);

  JobList jobs_;
  std::unique_ptr<JobSource> source_;
  std::size_t count_ = 0;
  std::vector<Encoder*> encoders_;
  BatchOptions options_;
};

}  // namespace mediabatch
