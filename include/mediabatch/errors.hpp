#pragma once
// Exception types of mediabatch. Encoders throw Error for a per-file failure; the CLI
// throws UsageError for a bad command line. Exit codes are decided once, in src/cli.
#include <stdexcept>
#include <string>

namespace mediabatch {

// One file failed. what() is a one-line, human reason that includes the library's own
// message where there is one ("decoding frame 812: Invalid data found when processing input").
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure that may pass: the system said EIO, ENOSPC, EDQUOT, ESTALE, ETIMEDOUT, EAGAIN or
// ENOTCONN (a share that went away, a full disk). `--retries N` tries such a file again; a decode
// error, an unknown format or a crash is not tried again.
class TransientError : public Error {
 public:
  explicit TransientError(const std::string& what, int error = 0) : Error(what), error_(error) {}
  int error() const noexcept { return error_; }  // the errno, when the system gave one

 private:
  int error_;
};

// Whether an errno value is one of those.
bool is_transient_errno(int error) noexcept;
// Throws "what: the errno's text", as TransientError when is_transient_errno(error).
[[noreturn]] void throw_system_error(const std::string& what, int error);

// The job was stopped (Ctrl-C or --timeout) before it finished. Thrown by encoders when
// EncodeContext::should_stop() turns true; the engine reports the reason.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// The input is of the command's kind but holds nothing to convert (a DICOM file without
// pixel data, say): the file is reported as skipped with what() as the reason.
class Skip : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line or a batch-wide setting (an album file, a cue sheet) is wrong:
// nothing is encoded and the program exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mediabatch
