#pragma once
// The worker's side of crash containment (supervisor.hpp): in a process forked from the
// supervisor, it runs its share of the batch on the scheduler and keeps the journal.
#include <cstddef>
#include <set>
#include <vector>

#include "core/job_set.hpp"
#include "mediabatch/engine.hpp"

namespace mediabatch {

// Runs the jobs whose index is in `run` (those in `redo` even when up to date). Marks
// started[index] as each job starts (memory shared with the supervisor: no system call, no
// wake-up) and writes each result to journal_fd. SIGTERM stops it as Ctrl-C would. Returns
// the process's exit code: 0, or 130 when stopped. Never throws.
int worker_main(const JobList& jobs, const JobSet& run, const std::set<std::size_t>& redo,
                const BatchOptions& options, volatile unsigned char* started, int journal_fd) noexcept;

}  // namespace mediabatch
