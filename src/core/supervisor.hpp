#pragma once
// Crash containment: a batch's encoder jobs run in a worker process (forked from this one),
// which this side supervises through a journal of started and finished jobs. When the worker
// dies from a signal, the jobs it was running are the suspects: each is run again alone in a
// fresh worker, the one that kills it is reported failed ("crashed: SIGABRT (...)"), the
// others are converted, and a fresh worker takes everything not yet done.
#include <atomic>
#include <cstddef>
#include <vector>

#include "core/result_feed.hpp"
#include "mediabatch/engine.hpp"

namespace mediabatch {

// Runs `jobs` (presets are reported here) in supervised worker processes, streaming every
// result to `feed` in options.order; with `only`, just those jobs (not presets). Returns how
// many jobs were not started (when `stop` turned true or the batch was drained). Main thread only.
std::size_t run_supervised(const JobList& jobs, const BatchOptions& options, ResultFeed& feed,
                           std::atomic<bool>& stop, const std::vector<std::size_t>* only = nullptr);

}  // namespace mediabatch
