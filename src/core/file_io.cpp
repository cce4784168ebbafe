#include "mediabatch/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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

FileBytes read_whole_file(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_system_error("opening " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_system_error("reading " + path, errno);
  FileBytes bytes;
  const auto capacity = static_cast<std::size_t>(st.st_size);
  bytes.data.reset(new std::uint8_t[capacity > 0 ? capacity : 1]);
  while (bytes.size < capacity) {
    const ssize_t n = ::read(fd.get(), bytes.data.get() + bytes.size, capacity - bytes.size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_system_error("reading " + path, errno);
    if (n == 0) break;  // shrank while we read: the caller decodes what is there
    bytes.size += static_cast<std::size_t>(n);
  }
  return bytes;
}

int write_all(int fd, const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  for (std::size_t put = 0; put < size;) {
    const ssize_t n = ::write(fd, bytes + put, size - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    put += static_cast<std::size_t>(n);
  }
  return 0;
}

void write_whole_file(const std::string& path, const void* data, std::size_t size) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (!fd) throw_system_error("creating " + path, errno);
  if (const int error = write_all(fd.get(), data, size)) throw_system_error("writing " + path, error);
  if (fd.close() != 0) throw_system_error("writing " + path, errno);
}

File open_file(const std::string& path, const char* mode) noexcept { return File(std::fopen(path.c_str(), mode)); }

void close_file(File file, const std::string& path) {
  if (file && std::fclose(file.release()) != 0) throw_system_error("closing " + path, errno);
}

}  // namespace mediabatch
