#pragma once
// IoFile: a stdio file that libFLAC writes through (the encoder's stream, the ReplayGain
// metadata chain) and that keeps the system's reason for its first failure. libFLAC's own file
// I/O says only FLAC__STREAM_ENCODER_CLIENT_ERROR or ..._IO_ERROR when a disk is full or a
// folder read-only, and closes without checking. Owns one FILE*; one owner, one thread. The
// destructor closes unchecked; close() checks, and throws mediabatch::Error.
#include <FLAC/callback.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "mediabatch/file_io.hpp"

namespace mediabatch::flac {

class IoFile {
 public:
  // fopen(path, mode); throws Error(what + ": reason") when that fails.
  static IoFile open(const std::filesystem::path& path, const char* mode, const std::string& what);
  // A file that does not exist yet (O_EXCL: never someone else's), for writing, with the
  // permission bits `perms` whatever the umask; throws Error(what + ": reason").
  static IoFile create_new(const std::filesystem::path& path, mode_t perms, const std::string& what);

  // As fread/fwrite/fseeko/ftello/feof; a failure records errno (the first one is kept). A
  // discarded file fails every call.
  std::size_t read(void* data, std::size_t size, std::size_t count) noexcept;
  std::size_t write(const void* data, std::size_t size, std::size_t count) noexcept;
  int seek(std::int64_t offset, int whence) noexcept;
  std::int64_t tell() noexcept;
  bool eof() const noexcept;

  // Flushes and closes; throws Error(what + ": reason") when that or an earlier call failed.
  void close(const std::string& what);
  // Closes unchecked: the file is abandoned (a failed or cancelled encode).
  void discard() noexcept { file_.reset(); }

  // errno of the first failed call, 0 when none failed.
  int error() const noexcept { return error_; }
  // Why a libFLAC call on this file failed: the system's reason when one of our calls
  // failed, else libFLAC's own status text.
  std::string reason(const char* library_status) const;

  // For FLAC::Metadata::Chain's read and write with callbacks; the handle is an IoFile*.
  FLAC__IOHandle handle() noexcept { return this; }
  static const FLAC__IOCallbacks callbacks;

 private:
  explicit IoFile(File file) noexcept : file_(std::move(file)) {}
  void fail() noexcept;

  File file_;
  int error_ = 0;
};

}  // namespace mediabatch::flac
