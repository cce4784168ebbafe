// How a planned batch runs: the encoders see it first, the scheduler (or a supervised worker
// process) runs it, each result goes to the sinks, and the encoders finish it.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/result_feed.hpp"
#include "core/signals.hpp"
#include "core/supervisor.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

void ResultFeed::operator()(Result&& r) {
  if (r.command.empty()) r.command = command_;
  (r.status == Status::ok ? outcome_.ok : r.status == Status::failed ? outcome_.failed : outcome_.skipped)++;
  if (r.status == Status::ok && keep_outputs_) {
    written_.emplace_back(r.output);
    written_.insert(written_.end(), r.more_outputs.begin(), r.more_outputs.end());
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

Batch::Batch(std::vector<Job> jobs, std::vector<Encoder*> encoders, BatchOptions options)
    : jobs_(std::move(jobs)), encoders_(std::move(encoders)), options_(std::move(options)) {
  for (Encoder* e : encoders_) {
    std::vector<const Job*> own;
    for (const Job& j : jobs_)
      if (j.encoder == e && !j.preset) own.push_back(&j);
    e->plan(own);
  }
}

Result Batch::run_one(const Job& job, const std::atomic<bool>& stop) const {
  if (job.encoder) return run_job(job, options_.job, stop);
  ExecLimits limits;
  limits.timeout_seconds = options_.job.timeout_seconds;
  limits.grace_seconds = options_.exec_grace_seconds;
  return run_program(expand_placeholders(options_.exec_command, job.input), stop, limits);
}

BatchOutcome Batch::run(const std::vector<BatchSink*>& sinks, std::atomic<bool>& stop) {
  BatchOutcome outcome;
  const bool keep_outputs =
      std::any_of(encoders_.begin(), encoders_.end(), [](const Encoder* e) { return e->wants_outputs(); });
  ResultFeed feed(sinks, options_.command, keep_outputs, outcome);
  const bool supervised = options_.isolate && !encoders_.empty();
  if (supervised) {
    outcome.not_started = run_supervised(jobs_, options_, feed, stop);  // watches signals itself
  } else {
    SignalWatcher watcher(stop, {});
    const RunTotals totals = Scheduler(options_.scheduler()).run(
        std::move(jobs_), [&](const Job& j) { return run_one(j, stop); }, [&](Result&& r) { feed(std::move(r)); },
        stop, [&] { feed.tick(); });
    outcome.not_started = totals.not_started;
  }
  jobs_.clear();
  outcome.interrupted = stop.load();
  if (!outcome.interrupted) finish_encoders(feed.written(), outcome);
  return outcome;
}

void Batch::finish_encoders(const std::vector<fs::path>& written, BatchOutcome& outcome) {
  for (Encoder* e : encoders_) {
    try {
      e->finish(written);
    } catch (const std::exception& ex) {
      spdlog::error("{}: {}", e->name(), ex.what());
      outcome.batch_failed = true;
    }
  }
}

}  // namespace mediabatch
