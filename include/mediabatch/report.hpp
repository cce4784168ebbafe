#pragma once
// --report FILE: JSON Lines, one object per file, written and flushed as each completes, so a
// killed run leaves a valid log of what finished. Used from the main thread only.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "mediabatch/result.hpp"

namespace mediabatch {

class ReportLog {
 public:
  // Opens (truncates) the file; throws UsageError when it cannot.
  explicit ReportLog(const std::filesystem::path& path);
  // Appends one line and flushes it; throws Error when the disk refuses.
  void write(const Result& r);

 private:
  struct Close {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Close> file_;
  std::string path_;
};

// The JSON object of one result: input, output, command, status, error, seconds, bytes_in,
// bytes_out (and warning when there is one).
std::string to_json_line(const Result& r);

}  // namespace mediabatch
