#pragma once
// Work split inside one job or one batch step: an encoder cutting a disc image into tracks on
// ctx.threads(), ReplayGain measuring every file. Plain threads, so each worker can hold state
// of its own (an open file) and ThreadSanitizer sees every hand-off.
#include <functional>

namespace mediabatch {

// Runs worker() on `count` threads at once, the calling thread being one of them, and waits
// for all. Workers share out the work themselves (an atomic counter). The first exception a
// worker throws is rethrown here once every worker has returned; the others are dropped.
void run_workers(int count, const std::function<void()>& worker);

}  // namespace mediabatch
