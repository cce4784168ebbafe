#include "flac_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

IoFile* io(FLAC__IOHandle handle) { return static_cast<IoFile*>(handle); }

}  // namespace

const FLAC__IOCallbacks IoFile::callbacks = {
    [](void* data, std::size_t size, std::size_t count, FLAC__IOHandle h) { return io(h)->read(data, size, count); },
    [](const void* data, std::size_t size, std::size_t count, FLAC__IOHandle h) {
      return io(h)->write(data, size, count);
    },
    [](FLAC__IOHandle h, FLAC__int64 offset, int whence) { return io(h)->seek(offset, whence); },
    [](FLAC__IOHandle h) -> FLAC__int64 { return io(h)->tell(); },
    [](FLAC__IOHandle h) -> int { return io(h)->eof() ? 1 : 0; },
    nullptr,  // the owner closes, checked
};

IoFile IoFile::open(const std::filesystem::path& path, const char* mode, const std::string& what) {
  File file = open_file(path.string(), mode);
  if (!file) throw_system_error(what, errno);
  return IoFile(std::move(file));
}

IoFile IoFile::create_new(const std::filesystem::path& path, mode_t perms, const std::string& what) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_system_error(what, errno);
  File file;
  if (::fchmod(fd.get(), perms) == 0) file.reset(::fdopen(fd.get(), "wb"));
  if (!file) {
    const int error = errno;
    ::unlink(path.c_str());  // ours: O_EXCL created it
    throw_system_error(what, error);
  }
  fd.release();  // the FILE owns it now
  return IoFile(std::move(file));
}

// Each call clears errno first, so that what a failure leaves there is that failure's reason.
void IoFile::fail() noexcept {
  if (error_ == 0) error_ = errno != 0 ? errno : EIO;
}

std::size_t IoFile::read(void* data, std::size_t size, std::size_t count) noexcept {
  if (!file_) return 0;
  errno = 0;
  const std::size_t n = std::fread(data, size, count, file_.get());
  if (n != count && std::ferror(file_.get())) fail();
  return n;
}

std::size_t IoFile::write(const void* data, std::size_t size, std::size_t count) noexcept {
  if (!file_) return 0;
  errno = 0;
  const std::size_t n = std::fwrite(data, size, count, file_.get());
  if (n != count) fail();
  return n;
}

int IoFile::seek(std::int64_t offset, int whence) noexcept {
  if (!file_) return -1;
  // fseeko writes out the buffer first: a full disk often shows here.
  errno = 0;
  const int r = ::fseeko(file_.get(), static_cast<off_t>(offset), whence);
  if (r != 0) fail();
  return r;
}

std::int64_t IoFile::tell() noexcept {
  if (!file_) return -1;
  errno = 0;
  const off_t at = ::ftello(file_.get());
  if (at < 0) fail();
  return at;
}

bool IoFile::eof() const noexcept { return !file_ || std::feof(file_.get()) != 0; }

void IoFile::close(const std::string& what) {
  // The last buffered bytes are written here; NFS and quotas report errors here too.
  errno = 0;
  if (file_ && std::fclose(file_.release()) != 0) fail();
  if (error_ != 0) throw_system_error(what, error_);
}

std::string IoFile::reason(const char* library_status) const {
  return error_ != 0 ? errno_text(error_) : std::string(library_status);
}

}  // namespace mediabatch::flac
