#include "ffmpeg_errors.hpp"

#include "mediabatch/errors.hpp"

extern "C" {
#include <libavutil/error.h>
}

namespace mediabatch::video {

namespace {

int interrupt_requested(void* opaque) { return static_cast<const StopFlags*>(opaque)->stop() ? 1 : 0; }

}  // namespace

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void throw_stopped() { throw Cancelled("stopped"); }

void fail(const std::string& what, int code) {
  if (code == AVERROR_EXIT) throw_stopped();
  throw Error(what + ": " + av_error(code));
}

void StopFlags::throw_if_stopped() const {
  ctx_.throw_if_stopped();
  if (abort_.load(std::memory_order_relaxed)) throw_stopped();
}

AVIOInterruptCB StopFlags::callback() const noexcept {
  return AVIOInterruptCB{&interrupt_requested, const_cast<StopFlags*>(this)};
}

}  // namespace mediabatch::video
