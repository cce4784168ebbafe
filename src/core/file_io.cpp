#include "mediabatch/file_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int Fd::release() noexcept { return std::exchange(fd_, -1); }

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int Fd::close() noexcept { return ::close(release()); }

File open_file(const std::string& path, const char* mode) noexcept { return File(std::fopen(path.c_str(), mode)); }

void close_file(File file, const std::string& path) {
  if (file && std::fclose(file.release()) != 0) throw Error("closing " + path + ": " + errno_text(errno));
}

}  // namespace mediabatch
