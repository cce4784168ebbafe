#pragma once
// MemoryFile: a file in memory with a path, for harnesses of parsers that open files by name.
// Owns one memfd, refilled for each input, so the hundreds of thousands of runs of a fuzzer
// never touch the disk. Not thread-safe (one per harness; libFuzzer runs one input at a time).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mediabatch/file_io.hpp"

namespace mbfuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("mediabatch-fuzz", 0)) {
    if (!fd_) std::abort();  // no harness can run without it; not a finding
  }

  // The parsers stat and reopen this path; each open gets its own offset into the memfd.
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

  void fill(const std::uint8_t* data, std::size_t size) {
    if (ftruncate(fd_.get(), 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = pwrite(fd_.get(), data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  mediabatch::Fd fd_;
};

}  // namespace mbfuzz
