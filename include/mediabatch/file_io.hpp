#pragma once
// Owned file handles: one descriptor type and one stdio type for the whole program. Each
// owns its handle and closes it on destruction (noexcept, unchecked); a write that must be
// known to have reached the file ends with the checked close(). Not thread-safe (one owner).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace mediabatch {

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;
  // Closes and reports the result: 0, or -1 with errno set.
  int close() noexcept;

 private:
  int fd_;
};

struct FileClose {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
// A stdio stream closed on destruction. Use close_file() where the close must be checked.
using File = std::unique_ptr<std::FILE, FileClose>;

// A whole file's bytes, in a buffer left uninitialised before the read (a vector would first
// zero megabytes per photo).
struct FileBytes {
  std::unique_ptr<std::uint8_t[]> data;
  std::size_t size = 0;
};
// Reads the whole file; throws Error("opening PATH: reason" / "reading PATH: reason").
FileBytes read_whole_file(const std::string& path);
// Writes all `size` bytes to fd (again after EINTR and short writes); returns 0, or the errno
// of the write that failed.
int write_all(int fd, const void* data, std::size_t size) noexcept;
// Creates (truncates) the file and writes `size` bytes, with a checked close (NFS and quotas
// report write errors there); throws Error("creating PATH: ..." / "writing PATH: ...").
void write_whole_file(const std::string& path, const void* data, std::size_t size);

// fopen(path, mode); a null File when it fails (errno set).
File open_file(const std::string& path, const char* mode) noexcept;
// Flushes and closes `file`; throws Error("closing PATH: reason") when that fails.
void close_file(File file, const std::string& path);

}  // namespace mediabatch
