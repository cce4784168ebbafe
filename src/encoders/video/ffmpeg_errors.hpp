#pragma once
// How FFmpeg's failures and the file's stop flags become our exceptions, in one place: a
// failed call throws Error with FFmpeg's own message, a stop throws Cancelled.
#include <atomic>
#include <string>

extern "C" {
#include <libavformat/avio.h>
}

#include "mediabatch/encoder.hpp"

namespace mediabatch::video {

// FFmpeg's own message for an error code ("Invalid data found when processing input").
std::string av_error(int code);

// Throws Cancelled for a stop seen only as a flag: the file's abort flag, or AVERROR_EXIT
// from a blocking call once the interrupt callback said stop. The engine words the reason
// ("interrupted", "timed out after 2 s") from its own state.
[[noreturn]] void throw_stopped();

// Throws Error("WHAT: FFmpeg's message"), or Cancelled for AVERROR_EXIT.
[[noreturn]] void fail(const std::string& what, int code);

// What FFmpeg's interrupt callback checks for one file: Ctrl-C / --timeout, and the file's
// own abort flag, raised when the file ends while its parts may still run (it failed, or
// the parts do not join), so that they stop too. Read from every thread of the file; outlives its readers and threads.
class StopFlags {
 public:
  explicit StopFlags(const EncodeContext& ctx) noexcept : ctx_(ctx) {}
  StopFlags(const StopFlags&) = delete;
  StopFlags& operator=(const StopFlags&) = delete;

  void abort() noexcept { abort_ = true; }
  bool stop() const noexcept { return ctx_.should_stop() || abort_.load(std::memory_order_relaxed); }
  // Throws Cancelled: the context's own reason first.
  void throw_if_stopped() const;
  // For AVFormatContext::interrupt_callback.
  AVIOInterruptCB callback() const noexcept;

 private:
  const EncodeContext& ctx_;
  std::atomic<bool> abort_{false};
};

}  // namespace mediabatch::video
