#pragma once
// The outcome of one job, as the engine hands it to the main thread. A plain value type.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mediabatch/file_io.hpp"

namespace mediabatch {

enum class Status { ok, failed, skipped };

const char* to_string(Status s) noexcept;

struct Result {
  std::size_t index = 0;    // position in input order
  std::string input;        // as named or found by the walk
  std::string output;       // final output path, empty when the command writes none (exec)
  std::vector<std::string> more_outputs;  // a job's further outputs (frames, tracks), if any
  std::string command;      // "exec", "thumbs", ...
  Status status = Status::ok;
  std::string error;        // why it failed or was skipped; empty when ok
  std::string warning;      // non-fatal notes from the encoder (e.g. libjpeg warnings)
  double seconds = 0;       // wall time of the job
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string out_text;     // exec: the task's captured stdout, printed whole on completion
  std::string err_text;     // exec: the task's captured stderr
  // exec: what the task printed past the first few MB, in an unlinked temporary file (read
  // from offset 0), so that no command's output has to fit in memory; null when it all fit.
  std::shared_ptr<Fd> out_spill, err_spill;
  bool cancelled = false;   // stopped by Ctrl-C (not by --timeout)
  // Failed for a reason that may pass (TransientError, --timeout, exec's non-zero exit): worth
  // another attempt under --retries.
  bool transient = false;
  // Transient because the disk (or the quota) was full: tried again once, when --min-free
  // finds the space back, even without --retries.
  bool out_of_space = false;
  int attempts = 1;         // how many times the job ran, this one included
  bool verified = false;    // --verify: every output was read back and found whole
};

}  // namespace mediabatch
