#pragma once
// --report FILE: JSON Lines, one object per file, written and flushed as each completes, so a
// killed run leaves a valid log of what finished. Used from the main thread only.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mediabatch/engine.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/result.hpp"

namespace mediabatch {

class ReportLog final : public BatchSink {
 public:
  // Opens the file, truncated (append: kept, records added after its own, as a restarted
  // --watch does); throws UsageError when it cannot.
  explicit ReportLog(const std::filesystem::path& path, bool append = false);
  // Appends one line and flushes it; throws Error when the disk refuses.
  void write(const Result& r);
  void result(const Result& r) override { write(r); }

 private:
  File file_;
  std::string path_;
};

// Reads a report back. Lines that are not a JSON object with at least "input" and "status"
// (a line cut short by a crash, say) are skipped and described in `problems` with their line
// number. Throws UsageError when the file cannot be read.
std::vector<Result> read_report(const std::filesystem::path& path, std::vector<std::string>& problems);

// The JSON object of one result: input, output, command, status, error, seconds, bytes_in,
// bytes_out (and warning when there is one; outputs, every path, when the job wrote several).
std::string to_json_line(const Result& r);

}  // namespace mediabatch
