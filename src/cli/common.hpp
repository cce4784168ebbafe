#pragma once
// What every command shares: its options, the inputs they name, and running a planned batch
// with the console and the report as its sinks.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mediabatch/engine.hpp"
#include "mediabatch/inputs.hpp"

namespace mediabatch::cli {

// Options every command accepts after its name.
struct Common {
  int jobs = 0;
  std::string output_dir;
  bool recursive = false;
  std::string order = "completion";
  bool force = false;
  bool dry_run = false;
  std::string report;
  std::string progress = "auto";
  bool quiet = false;
  int verbose = 0;
  double timeout = 0;
  std::string shard;
  bool shard_from_env = false;
  bool null_separated = false;
  std::string retry_failed;
  bool no_isolation = false;
  bool fsync = false;
  int retries = 0;
  std::string min_free = "auto";
  std::string on_done;  // a command line, split into an argv
  bool verify = false;
  bool watch = false;
  double settle = 2;
  std::vector<std::string> inputs;
};

// Adds the common options to a command; with_outputs for commands that write files.
void add_common(CLI::App& cmd, Common& c, bool with_outputs);

// The inputs the options name, one at a time: the arguments (walked), or stdin's list,
// narrowed to the failures of --retry-failed and to the --shard. exec's stdin lines are plain
// arguments. Never a list of every input: a walk holds one folder's names at a time.
class InputStream {
 public:
  // Reads stdin's list now, when the inputs come from there. Throws UsageError.
  InputStream(const Common& c, bool exec);
  bool next(Input& in);  // throws Error when a folder cannot be read
  // Whether an input found otherwise (--watch) is one of these: of the --shard, and of the
  // failures of --retry-failed.
  bool wanted(const Input& in) const;
  // How many inputs a fresh pass yields (walks the arguments again).
  std::size_t count() const;

 private:
  NameList args_;
  bool recursive_, walk_;
  std::optional<std::set<std::string>> retry_;
  std::optional<Shard> shard_;
  InputWalker walker_;
};

// The batch settings the common options give.
BatchOptions batch_options(const Common& c, std::string command);

// --watch: the batch for files that arrived in the watched folders (as a walk of their folder
// argument finds them, not yet narrowed to the --shard); null when none is for this command.
// May throw Error (the files are then reported as an error and the watch goes on).
using WatchBatch = std::function<std::unique_ptr<Batch>(std::vector<Input>)>;

// Runs the batch with the console (and --report) as sinks; with --watch, then the batches
// that `watch` makes of the files arriving in the directory arguments, until Ctrl-C or a
// drain. Prints the summary and returns the exit code.
int run_batch(const Common& c, Batch& batch, bool exec, std::atomic<bool>& stop, const WatchBatch& watch = {});

}  // namespace mediabatch::cli
