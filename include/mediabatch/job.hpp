#pragma once
// A planned unit of work: one input, where its output goes, and how big it is.
#include <cstdint>
#include <filesystem>
#include <string>

namespace mediabatch {

class Encoder;

struct Job {
  std::size_t index = 0;       // position in input order (0-based, dense)
  std::string input;           // the input as named or found (exec: any argument)
  std::filesystem::path output;  // planned final output; empty for exec
  std::uint64_t size = 0;      // bytes of the input file (0 when not a file)
  const Encoder* encoder = nullptr;  // null for exec
  // Threads the job may use; set by the scheduler (more than 1 only when the batch has fewer
  // files than slots).
  int threads = 1;
  // Convert even when an earlier output looks up to date: a job redone after a crash may have
  // written its output before the crash.
  bool redo = false;
  // When set, the job does not run: it is reported at once with this status and reason
  // (a file named on the command line that is not of the command's kind, a missing file).
  bool preset = false;
  bool preset_failed = false;
  std::string preset_reason;
};

}  // namespace mediabatch
