#pragma once
// Debian's libtbb is not built with ThreadSanitizer, so TSan does not see that what a thread
// wrote before enqueuing a task happens before the worker that runs it. These mark that
// hand-off for TSan (the edge TBB's own synchronisation makes); they compile to nothing in
// other builds.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace mediabatch {

// Call before handing work to TBB.
inline void tbb_handoff_release([[maybe_unused]] const void* key) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(key));
#endif
}

// Call first thing in the work TBB runs.
inline void tbb_handoff_acquire([[maybe_unused]] const void* key) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(key));
#endif
}

}  // namespace mediabatch
