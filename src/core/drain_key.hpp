#pragma once
// `q` typed on the terminal drains the batch as SIGUSR1 does (no file starts after it, the
// running ones finish), as ffmpeg's `q` ends its run. While a DrainKey lives and stdin is the
// terminal of the foreground process group, a thread of its own reads stdin key by key (no
// echo, no line editing; Ctrl-C and Ctrl-Z still signal). The terminal's settings are put
// back when it ends, for Ctrl-Z (taken again at fg), and on an emergency exit.
#include <thread>

#include "mediabatch/file_io.hpp"

namespace mediabatch {

class DrainKey {
 public:
  DrainKey();
  ~DrainKey();
  DrainKey(const DrainKey&) = delete;
  DrainKey& operator=(const DrainKey&) = delete;

 private:
  Fd stop_;  // an eventfd that ends the thread
  std::thread thread_;
};

// The terminal as it was before a DrainKey took it, and taken again (when this process is in
// the foreground). No-ops while none lives. Async-signal-safe.
void restore_terminal() noexcept;
void retake_terminal() noexcept;

}  // namespace mediabatch
