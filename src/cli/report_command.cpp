#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <set>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "mediabatch/report.hpp"

namespace mediabatch::cli {

// The shards' reports as one: counts, the failed inputs, and inputs that more than one
// report names (the last record counts, as after a re-run).
int merge_reports(const std::vector<std::string>& files) {
  std::vector<std::string> problems;
  std::map<std::string, Result> last;
  std::map<std::string, int> seen_in;
  std::size_t records = 0;
  for (const auto& f : files) {
    std::set<std::string> in_this;
    for (auto& r : read_report(f, problems)) {
      ++records;
      if (in_this.insert(r.input).second) ++seen_in[r.input];
      last[r.input] = std::move(r);
    }
  }
  for (const auto& p : problems) spdlog::warn("{}", p);
  std::size_t ok = 0, failed = 0, skipped = 0, repeated = 0;
  double seconds = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  for (const auto& [input, r] : last) {
    (r.status == Status::ok ? ok : r.status == Status::failed ? failed : skipped)++;
    seconds += r.seconds;
    bytes_in += r.bytes_in;
    bytes_out += r.bytes_out;
  }
  for (const auto& [input, n] : seen_in)
    if (n > 1) ++repeated;
  std::printf("%zu reports, %zu records, %zu inputs: %zu ok, %zu failed, %zu skipped\n", files.size(), records,
              last.size(), ok, failed, skipped);
  std::printf("%.2f s of work, %.1f MB in, %.1f MB out\n", seconds, bytes_in / 1e6, bytes_out / 1e6);
  if (repeated) std::printf("%zu inputs appear in more than one report (the last record counts)\n", repeated);
  if (failed) {
    std::printf("failed inputs:\n");
    for (const auto& [input, r] : last)
      if (r.status == Status::failed) std::printf("  %s: %s\n", input.c_str(), r.error.c_str());
  }
  return failed ? exit_failed : exit_ok;
}

}  // namespace mediabatch::cli
