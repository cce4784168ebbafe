// How a planned batch runs: the encoders see it first, the scheduler runs it, each result goes
// to the sinks, and the encoders finish it.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/signals.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

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
  SchedulerOptions sopts;
  sopts.slots = options_.slots;
  sopts.order = options_.order;
  sopts.largest_first = options_.largest_first;
  sopts.timeout_seconds = options_.job.timeout_seconds;
  Scheduler scheduler(sopts);

  BatchOutcome outcome;
  std::vector<BatchSink*> live = sinks;
  std::vector<fs::path> written;  // kept only for an encoder whose finish() wants it
  const bool keep_outputs =
      std::any_of(encoders_.begin(), encoders_.end(), [](const Encoder* e) { return e->wants_outputs(); });
  RunTotals totals;
  {
    SignalWatcher watcher(stop, {});
    totals = scheduler.run(
        std::move(jobs_), [&](const Job& j) { return run_one(j, stop); },
        [&](Result&& r) {
          if (r.command.empty()) r.command = options_.command;
          (r.status == Status::ok ? outcome.ok : r.status == Status::failed ? outcome.failed : outcome.skipped)++;
          if (r.status == Status::ok && keep_outputs) {
            written.emplace_back(r.output);
            written.insert(written.end(), r.more_outputs.begin(), r.more_outputs.end());
          }
          for (auto it = live.begin(); it != live.end();) {
            try {
              (*it)->result(r);
              ++it;
            } catch (const Error& e) {
              spdlog::error("{}", e.what());
              outcome.batch_failed = true;
              it = live.erase(it);
            }
          }
        },
        stop, [&] {
          for (BatchSink* s : live) s->tick();
        });
  }
  jobs_.clear();
  outcome.not_started = totals.not_started;
  outcome.interrupted = stop.load();
  if (outcome.interrupted) return outcome;
  for (Encoder* e : encoders_) {
    try {
      e->finish(written);
    } catch (const std::exception& ex) {
      spdlog::error("{}: {}", e->name(), ex.what());
      outcome.batch_failed = true;
    }
  }
  return outcome;
}

}  // namespace mediabatch
