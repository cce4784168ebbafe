#include "cli/common.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/app.hpp"
#include "cli/console.hpp"
#include "core/signals.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/report.hpp"

namespace mediabatch::cli {

namespace {

// The inputs whose last record in a report is a failure.
std::set<std::string> failed_in_report(const std::string& path) {
  std::vector<std::string> problems;
  std::map<std::string, Status> last;
  for (auto& r : read_report(path, problems)) last[r.input] = r.status;
  for (const auto& p : problems) spdlog::warn("{}", p);
  std::set<std::string> failed;
  for (auto& [input, status] : last)
    if (status == Status::failed) failed.insert(input);
  return failed;
}

}  // namespace

void add_common(CLI::App& cmd, Common& c, bool with_outputs) {
  cmd.add_option("-j,--jobs", c.jobs, "Files processed at once (default: the hardware threads)")
      ->check(CLI::Range(1, 4096))->take_last();
  if (with_outputs) {
    cmd.add_option("-o,--output-dir", c.output_dir,
                   "Write outputs under DIR, mirroring each input's path below its directory argument")->take_last();
    cmd.add_flag("--force", c.force, "Convert even when the output exists and is newer than the input");
    cmd.add_flag("--no-isolation", c.no_isolation,
                 "Run the encoders in this process, unsupervised: a file that crashes a library ends the batch");
  }
  cmd.add_flag("-r,--recursive", c.recursive, "Walk directory arguments into subfolders");
  cmd.add_option("--order", c.order, "Report results as they complete, or in input order")
      ->check(CLI::IsMember({"completion", "input"}))->take_last();
  cmd.add_flag("--dry-run", c.dry_run, "Print what would be done, do nothing");
  cmd.add_option("--report", c.report, "Write a JSON Lines log, one object per file, as each completes")->take_last();
  cmd.add_option("--progress", c.progress, "Live status line on stderr")
      ->check(CLI::IsMember({"auto", "always", "never"}))->take_last();
  cmd.add_flag("-q,--quiet", c.quiet, "Print only failures");
  cmd.add_flag("-v,--verbose", c.verbose, "More log output");
  cmd.add_option("--timeout", c.timeout, "Stop a file's job after SECONDS")->check(CLI::PositiveNumber)->take_last();
  cmd.add_option("--shard", c.shard, "Take only shard K of N of the inputs (K from 1), e.g. 2/8")->take_last();
  cmd.add_flag("--shard-from-env", c.shard_from_env,
               "Shard from SLURM_ARRAY_TASK_ID/COUNT, JOB_COMPLETION_INDEX+MEDIABATCH_SHARDS or AWS_BATCH_JOB_ARRAY_*");
  cmd.add_flag("-0,--null", c.null_separated, "Inputs read from stdin are NUL-separated");
  cmd.add_option("--retry-failed", c.retry_failed,
                 "Run only the inputs that failed in this report (of the inputs named, or all it lists)")->take_last();
  cmd.add_option("inputs", c.inputs, "Files and directories (read from stdin, one per line, when none)");
}

std::vector<Input> gather_inputs(const Common& c, bool exec) {
  std::vector<Input> inputs;
  std::optional<std::set<std::string>> retry;
  if (!c.retry_failed.empty()) retry = failed_in_report(c.retry_failed);
  if (retry && c.inputs.empty()) {
    // No inputs named: exactly those the report lists as failed (named files, so -o puts
    // them straight under DIR; name the first run's inputs again to keep the mirroring).
    std::vector<std::string> names(retry->begin(), retry->end());
    if (exec) {
      for (auto& n : names) {
        Input in;
        in.name = in.relative = n;
        in.named = true;
        std::error_code ec;
        in.exists = fs::exists(n, ec);
        inputs.push_back(std::move(in));
      }
    } else {
      inputs = expand_arguments(names, false);
    }
  } else if (c.inputs.empty()) {
    if (::isatty(STDIN_FILENO)) throw UsageError("no inputs: name files or directories, or pipe a list to stdin");
    inputs = read_input_list(std::cin, c.null_separated);
    // exec's stdin lines are plain arguments; for converters they are files or directories.
    if (!exec) {
      std::vector<std::string> names;
      for (auto& i : inputs) names.push_back(i.name);
      inputs = expand_arguments(names, c.recursive);
    }
  } else {
    inputs = expand_arguments(c.inputs, c.recursive);
  }
  if (retry) {
    inputs.erase(std::remove_if(inputs.begin(), inputs.end(), [&](const Input& in) { return !retry->count(in.name); }),
                 inputs.end());
    spdlog::debug("--retry-failed: {} inputs to run again", inputs.size());
  }
  std::optional<Shard> shard;
  if (!c.shard.empty() && c.shard_from_env) throw UsageError("--shard and --shard-from-env: give one of them");
  if (!c.shard.empty()) shard = parse_shard(c.shard);
  if (c.shard_from_env) shard = shard_from_env();
  if (shard) {
    inputs.erase(std::remove_if(inputs.begin(), inputs.end(),
                                [&](const Input& in) { return !shard->contains(in.relative); }),
                 inputs.end());
    spdlog::debug("shard {}/{}: {} inputs", shard->index, shard->count, inputs.size());
  }
  return inputs;
}

BatchOptions batch_options(const Common& c, std::string command) {
  BatchOptions o;
  o.slots = c.jobs;
  o.order = c.order == "input" ? Order::input : Order::completion;
  o.job.force = c.force;
  o.job.timeout_seconds = c.timeout;
  o.command = std::move(command);
  return o;
}

int run_batch(const Common& c, Batch& batch, bool exec, std::atomic<bool>& stop) {
  ConsoleOptions copts;
  copts.exec = exec;
  copts.quiet = c.quiet;
  copts.progress = c.progress == "always" ? ProgressMode::always
                   : c.progress == "never" ? ProgressMode::never
                                           : ProgressMode::automatic;
  std::optional<ReportLog> report;
  if (!c.report.empty()) report.emplace(c.report);
  Console console(copts, batch.jobs().size());
  std::vector<BatchSink*> sinks;
  if (report) sinks.push_back(&*report);
  sinks.push_back(&console);

  const BatchOutcome outcome = batch.run(sinks, stop);
  console.summary(outcome.interrupted, outcome.not_started);
  if (outcome.interrupted) return interrupted_exit_code();
  return outcome.failed > 0 || outcome.batch_failed ? exit_failed : exit_ok;
}

}  // namespace mediabatch::cli
