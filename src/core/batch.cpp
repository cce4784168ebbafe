// How a planned batch runs: the encoders see it first, the scheduler (or a supervised worker
// process) runs it, each result goes to the sinks, and the encoders finish it.
#include <oneapi/tbb/task_arena.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "core/result_feed.hpp"
#include "core/signals.hpp"
#include "core/supervisor.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/temp_files.hpp"

namespace mediabatch {

void ResultFeed::operator()(Result&& r) {
  if (r.command.empty()) r.command = command_;
  r.attempts = attempt_;
  const bool again = attempt_ <= retries_ || (r.out_of_space && hold_out_of_space_ && attempt_ == 1);
  if (r.status == Status::failed && r.transient && again) {
    held_.push_back(std::move(r));
    return;
  }
  report(std::move(r));
}

void ResultFeed::release_held() {
  for (Result& r : take_held()) report(std::move(r));
}

void ResultFeed::report(Result&& r) {
  (r.cancelled                  ? outcome_.interrupted_jobs
   : r.status == Status::ok     ? outcome_.ok
   : r.status == Status::failed ? outcome_.failed
                                : outcome_.skipped)++;
  // Done: written now, or skipped because an earlier run's outputs are up to date.
  const bool done = r.status == Status::ok || (r.status == Status::skipped && !r.output.empty());
  if (done && keep_outputs_) {
    outputs_.emplace_back(r.output);
    outputs_.insert(outputs_.end(), r.more_outputs.begin(), r.more_outputs.end());
  }
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    try {
      (*it)->result(r);
      ++it;
    } catch (const Error& e) {
      spdlog::error("{}", e.what());
      outcome_.batch_failed = true;
      it = sinks_.erase(it);
    }
  }
}

void ResultFeed::tick() {
  for (BatchSink* s : sinks_) s->tick();
}

Batch::Batch(JobList jobs, std::vector<Encoder*> encoders, BatchOptions options)
    : jobs_(std::move(jobs)), count_(jobs_.size()), encoders_(std::move(encoders)), options_(std::move(options)) {
  for (Encoder* e : encoders_) {
    e->set_verify(options_.job.verify);
    e->plan(EncoderJobs(jobs_, e));
  }
}

Batch::Batch(std::unique_ptr<JobSource> jobs, std::size_t count, BatchOptions options)
    : source_(std::move(jobs)), count_(count), options_(std::move(options)) {}

Result Batch::run_one(const Job& job, const std::atomic<bool>& stop) const {
  if (job.encoder) return run_job(job, options_.job, stop);
  ExecLimits limits;
  limits.timeout_seconds = options_.job.timeout_seconds;
  limits.grace_seconds = options_.exec_grace_seconds;
  // The scheduler's arena reserves no slot for the thread that collects results, so its
  // threads are numbered 0..-j-1: one number per running job, as parallel's job slots.
  const JobPlace place{job.index + 1, tbb::this_task_arena::current_thread_index() + 1};
  return run_program(expand_placeholders(options_.exec_command, job.input, place), stop, limits);
}

namespace {

// What a killed earlier run left in the folders this one writes to.
void remove_stale_temporaries_of(const JobList& jobs) {
  std::set<fs::path> folders;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs.preset(i)) continue;
    const fs::path folder = jobs.output(i).parent_path();
    folders.insert(folder.empty() ? fs::path(".") : folder);
  }
  if (folders.empty()) return;
  const std::size_t removed = remove_stale_temporaries(folders);
  spdlog::debug("removed {} stale temporary file{} of killed runs from {} output folder{}", removed,
                removed == 1 ? "" : "s", folders.size(), folders.size() == 1 ? "" : "s");
}

}  // namespace

BatchOutcome Batch::run(const std::vector<BatchSink*>& sinks, std::atomic<bool>& stop) {
  stop_batch_on_signal();
  remove_stale_temporaries_of(jobs_);
  BatchOutcome outcome;
  const bool keep_outputs =
      std::any_of(encoders_.begin(), encoders_.end(), [](const Encoder* e) { return e->wants_outputs(); });
  ResultFeed feed(sinks, options_.command, keep_outputs, outcome);
  feed.hold_retries(options_.retries, 1);
  feed.hold_out_of_space(options_.disk_guard && options_.disk_guard->guarding());
  if (supervised()) {
    outcome.not_started = run_supervised(jobs_, options_, feed, stop);
  } else {
    std::unique_ptr<JobSource> planned;
    if (!source_) planned = jobs_.source(options_.order == Order::completion && options_.largest_first);
    const RunTotals totals = Scheduler(options_.scheduler()).run(
        source_ ? *source_ : *planned, [&](const Job& j) { return run_one(j, stop); },
        [&](Result&& r) { feed(std::move(r)); }, stop, [&] { feed.tick(); });
    outcome.not_started = totals.not_started;
  }
  retry(feed, stop, outcome);
  jobs_ = JobList();
  source_.reset();
  outcome.interrupted = stop.load();
  outcome.drained = drain_requested() && !outcome.interrupted;
  // A drained batch is finished by the run that converts the rest (album ReplayGain needs every
  // track of the album).
  if (!outcome.interrupted && !(outcome.drained && outcome.not_started > 0))
    finish_encoders(feed.outputs(), stop, outcome);
  outcome.interrupted = stop.load();
  return outcome;
}

namespace {

// Before attempt 2, 3, 4...: 1 s, 2 s, 4 s... (at most 30 s), for a share to come back or a
// disk to be cleared. False when the batch is stopped or drained meanwhile.
bool wait_before_attempt(int attempt, const std::atomic<bool>& stop) {
  const auto wait = std::chrono::seconds(std::min(30, 1 << std::min(attempt - 2, 5)));
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load() || drain_requested()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stop.load() && !drain_requested();
}

}  // namespace

// --retries (and a first attempt that ran out of disk space, with --min-free): the transient
// failures the feed held back run again, after every other file, each pass in completion
// order (the disk guard holds each back until there is space); what is still held when the
// batch stops is reported as it is.
void Batch::retry(ResultFeed& feed, std::atomic<bool>& stop, BatchOutcome& outcome) {
  for (int attempt = 2;; ++attempt) {
    std::vector<Result> failed = feed.take_held();
    if (failed.empty()) break;
    spdlog::info("trying {} failed file{} again (attempt {})", failed.size(), failed.size() == 1 ? "" : "s", attempt);
    if (!wait_before_attempt(attempt, stop)) {
      for (Result& r : failed) feed(std::move(r));  // still held back; released below
      break;
    }
    feed.hold_retries(options_.retries, attempt);
    if (supervised()) {
      std::vector<std::size_t> indexes;
      for (const Result& r : failed) indexes.push_back(r.index);
      outcome.not_started += run_supervised(jobs_, options_, feed, stop, &indexes);
      continue;
    }
    std::vector<Job> jobs;
    for (const Result& r : failed) {
      if (!source_) {
        jobs.push_back(jobs_.job(r.index));
        continue;
      }
      Job again;  // exec: its input is all there is to a job
      again.index = r.index;
      again.input = r.input;
      jobs.push_back(std::move(again));
    }
    SchedulerOptions scheduler = options_.scheduler();
    scheduler.order = Order::completion;
    outcome.not_started += Scheduler(scheduler)
                               .run(std::move(jobs), [&](const Job& j) { return run_one(j, stop); },
                                    [&](Result&& r) { feed(std::move(r)); }, stop, [&] { feed.tick(); })
                               .not_started;
  }
  feed.release_held();
}

void Batch::finish_encoders(const std::vector<fs::path>& outputs, const std::atomic<bool>& stop,
                            BatchOutcome& outcome) {
  for (Encoder* e : encoders_) {
    try {
      e->finish(outputs, stop);
    } catch (const Cancelled& c) {
      spdlog::warn("{}: {}", e->name(), c.what());
      return;
    } catch (const std::exception& ex) {
      spdlog::error("{}: {}", e->name(), ex.what());
      outcome.batch_failed = true;
    }
    if (stop.load()) return;
  }
}

}  // namespace mediabatch
