#pragma once
// Output planning: which encoder takes each input and where its output goes.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mediabatch/encoder.hpp"
#include "mediabatch/inputs.hpp"
#include "mediabatch/job_list.hpp"

namespace mediabatch {

struct PlanOptions {
  std::optional<std::filesystem::path> output_dir;  // -o: mirror each input's relative path under it
  // convert: files of no known kind, found by a walk, are reported as skipped (a single
  // encoder's command leaves other files in a folder alone).
  bool report_unknown = false;
};

// Chooses, for each input (taken one at a time from next_input), the first encoder that
// accepts it (by reading its first bytes, in parallel a chunk at a time) and plans its output
// into a compact list. Inputs named but missing or not a regular file (a FIFO, a socket, a
// device: never opened), or named but of no accepted kind, become preset jobs (failed /
// skipped with the reason), and so does an input whose output would be itself. A file found
// by a walk that is another input's planned output (left by an earlier run in place) is left
// out. Throws UsageError when two inputs map to one output or an output would overwrite an
// input named on the command line, naming every such case. Holds the inputs by key (a hash
// of the path) only, a few bytes each, beside the list.
JobList plan_encoder_jobs(const std::function<bool(Input&)>& next_input, const std::vector<const Encoder*>& encoders,
                          const PlanOptions& options);

}  // namespace mediabatch
