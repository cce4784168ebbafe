#include "cli/common.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "cli/app.hpp"
#include "cli/console.hpp"
#include "cli/on_done.hpp"
#include "core/drain_key.hpp"
#include "core/folder_watch.hpp"
#include "core/signals.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/report.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::cli {

namespace {

// A whole number from min to max: "--jobs: not a number: abc", "--retries: must be 0 to 100".
// (CLI11's Range says "not in range" of text that is no number at all.)
CLI::Validator whole_number(long min, long max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        std::size_t used = 0;
        long value = 0;
        try {
          value = std::stol(text, &used);
        } catch (const std::out_of_range&) {
          return "must be " + range + ", not " + text;
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size()) return "not a number: " + text;
        if (value < min || value > max) return "must be " + range + ", not " + text;
        return {};
      },
      "N (" + range + ")", "WHOLE_NUMBER");
}

// Seconds: a finite number, above 0 (or from 0 with allow_zero). CLI11's PositiveNumber
// prints the largest double in full, 309 digits, as the range of -1.
CLI::Validator seconds(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        std::size_t used = 0;
        double value = 0;
        try {
          value = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != text.size() || !std::isfinite(value)) return "not a number of seconds: " + text;
        if (allow_zero ? value < 0 : value <= 0)
          return std::string(allow_zero ? "must be 0 or more" : "must be positive") + ", not " + text;
        return {};
      },
      "SECONDS", "SECONDS");
}

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
      ->check(whole_number(1, 4096))->take_last();
  if (with_outputs) {
    cmd.add_option("-o,--output-dir", c.output_dir,
                   "Write outputs under DIR, mirroring each input's path below its directory argument")->take_last();
    cmd.add_flag("--force", c.force, "Convert even when the output exists and is newer than the input");
    cmd.add_option("--min-free", c.min_free,
                   "Start no file while the output filesystem has less free space than SIZE (500M, 2G; 0: off; "
                   "auto: 1G or 2% of the filesystem, whichever is smaller)")
        ->capture_default_str()->take_last();
    cmd.add_flag("--fsync", c.fsync, "Flush each output and its folder to the disk before the file is reported ok");
    cmd.add_flag("--verify", c.verify,
                 "Read each output back with an independent decoder and check it before it takes its final name");
    cmd.add_flag("--no-isolation", c.no_isolation,
                 "Run the encoders in this process, unsupervised: a file that crashes a library ends the batch");
  }
  cmd.add_flag("-r,--recursive", c.recursive, "Walk directory arguments into subfolders");
  cmd.add_option("--order", c.order, "Report results as they complete, or in input order")
      ->check(CLI::IsMember({"completion", "input"}))->take_last();
  cmd.add_flag("--dry-run", c.dry_run, "Print what would be done, do nothing");
  cmd.add_option("--report", c.report, "Write a JSON Lines log, one object per file, as each completes")->take_last();
  cmd.add_option("--progress", c.progress, "Live status line on stderr (auto: when it is a terminal; alone: always)")
      ->check(CLI::IsMember({"auto", "always", "never"}))->take_last();
  cmd.add_flag("-q,--quiet", c.quiet, "Print only failures");
  cmd.add_flag("-v,--verbose", c.verbose, "More log output");
  cmd.add_option("--timeout", c.timeout, "Stop a file's job after SECONDS")->check(seconds(false))->take_last();
  cmd.add_option("--shard", c.shard, "Take only shard K of N of the inputs (K from 1), e.g. 2/8")->take_last();
  cmd.add_flag("--shard-from-env", c.shard_from_env,
               "Shard from MEDIABATCH_SHARD_INDEX+MEDIABATCH_SHARDS, SLURM_ARRAY_TASK_*, "
               "JOB_COMPLETION_INDEX+MEDIABATCH_SHARDS, AWS_BATCH_JOB_ARRAY_* or SGE_TASK_*");
  cmd.add_flag("-0,--null", c.null_separated, "Inputs read from stdin are NUL-separated");
  cmd.add_option("--retry-failed", c.retry_failed,
                 "Run only the inputs that failed in this report (of the inputs named, or all it lists)")->take_last();
  cmd.add_option("--retries", c.retries,
                 "Try a file that failed for a transient reason (an I/O error, --timeout; exec: any failure) "
                 "up to N more times, after the others")
      ->check(whole_number(0, 100))->take_last();
  cmd.add_option("--on-done", c.on_done,
                 "Run this command once when the batch is over, with its summary as JSON on stdin")
      ->take_last();
  cmd.add_flag("--watch", c.watch,
               "After the inputs, keep watching the directory arguments (-r: and their subfolders) and "
               "process each file that arrives, once complete, until Ctrl-C");
  cmd.add_option("--settle", c.settle,
                 "--watch: a file still open for writing is taken once its size and mtime have not changed "
                 "for SECONDS")
      ->capture_default_str()->check(seconds(true))->take_last();
  // Under their own heading, after the command's own options (and --help).
  for (CLI::Option* opt : cmd.get_options())
    if (!opt->get_positional() && opt->get_name() != "--help") opt->group("Common options");
  cmd.add_option("inputs", c.inputs, "Files and directories (read from stdin, one per line, when none)");
}

namespace {

std::optional<Shard> shard_of(const Common& c) {
  if (!c.shard.empty() && c.shard_from_env) throw UsageError("--shard and --shard-from-env: give one of them");
  if (!c.shard.empty()) return parse_shard(c.shard);
  if (c.shard_from_env) return shard_from_env();
  return std::nullopt;
}

}  // namespace

InputStream::InputStream(const Common& c, bool exec)
    : recursive_(c.recursive), walk_(true), shard_(shard_of(c)), walker_(NameList{}, false) {
  if (!c.retry_failed.empty()) retry_ = failed_in_report(c.retry_failed);
  if (retry_ && c.inputs.empty()) {
    // No inputs named: exactly those the report lists as failed (named files, so -o puts
    // them straight under DIR; name the first run's inputs again to keep the mirroring).
    for (const auto& n : *retry_) args_.add(n);
    recursive_ = false;
    walk_ = !exec;
  } else if (c.inputs.empty()) {
    if (::isatty(STDIN_FILENO)) throw UsageError("no inputs: name files or directories, or pipe a list to stdin");
    args_ = read_name_list(std::cin, c.null_separated);
    walk_ = !exec;  // exec's stdin lines are plain arguments; for converters, files or folders
  } else {
    for (const auto& n : c.inputs) args_.add(n);
  }
  walker_ = InputWalker(args_, recursive_, walk_);
  if (retry_) spdlog::debug("--retry-failed: {} inputs in the report failed", retry_->size());
  if (shard_) spdlog::debug("shard {}/{}", shard_->index, shard_->count);
}

bool InputStream::wanted(const Input& in) const {
  return (!retry_ || retry_->count(in.name)) && (!shard_ || shard_->contains(in.relative));
}

bool InputStream::next(Input& in) {
  while (walker_.next(in))
    if (wanted(in)) return true;
  return false;
}

std::size_t InputStream::count() const {
  InputWalker again(args_, recursive_, walk_);
  std::size_t n = 0;
  for (Input in; again.next(in);) n += wanted(in) ? 1 : 0;
  return n;
}

BatchOptions batch_options(const Common& c, std::string command) {
  BatchOptions o;
  o.slots = c.jobs;
  o.order = c.order == "input" ? Order::input : Order::completion;
  o.job.force = c.force;
  o.job.timeout_seconds = c.timeout;
  o.job.fsync = c.fsync;
  o.job.verify = c.verify;
  o.retries = c.retries;
  o.command = std::move(command);
  return o;
}

namespace {

// What --on-done's command reads on its stdin.
std::string summary_json(const Common& c, const Console::Totals& t, const BatchOutcome& outcome, int exit_code) {
  nlohmann::json j;
  j["ok"] = t.ok;
  j["failed"] = t.failed;
  j["skipped"] = t.skipped;
  j["with_warnings"] = t.warned;
  j["interrupted"] = t.interrupted;
  j["not_started"] = outcome.not_started;
  j["drained"] = outcome.drained;
  j["wall_seconds"] = t.wall_seconds;
  j["cpu_seconds"] = t.cpu_seconds;
  j["report"] = c.report.empty() ? nlohmann::json() : nlohmann::json(std::filesystem::absolute(c.report).string());
  j["exit_code"] = exit_code;
  return j.dump() + "\n";
}

}  // namespace

namespace {

// --watch: the outputs written so far, which a watched folder sees arrive (converting in
// place, or -o inside a watched folder) and which are never taken as inputs.
class OutputsSeen final : public BatchSink {
 public:
  void result(const Result& r) override {
    if (r.output.empty()) return;
    seen_.insert(key(r.output));
    for (const auto& o : r.more_outputs) seen_.insert(key(o));
  }
  bool contains(const std::string& path) const { return seen_.count(key(path)) > 0; }

 private:
  static std::string key(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::absolute(p, ec).lexically_normal().string();
  }
  std::set<std::string> seen_;
};

// The directory arguments, which --watch watches.
std::vector<std::string> watched_folders(const Common& c) {
  std::vector<std::string> folders;
  for (const std::string& in : c.inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) folders.push_back(in);
  }
  if (folders.empty()) throw UsageError("--watch: no folder to watch: name one or more directories as inputs");
  return folders;
}

void add_up(BatchOutcome& all, const BatchOutcome& one) {
  all.ok += one.ok;
  all.failed += one.failed;
  all.skipped += one.skipped;
  all.interrupted_jobs += one.interrupted_jobs;
  all.not_started = one.not_started;
  all.interrupted = one.interrupted;
  all.drained = one.drained;
  all.batch_failed = all.batch_failed || one.batch_failed;
}

}  // namespace

int run_batch(const Common& c, Batch& batch, bool exec, std::atomic<bool>& stop, const WatchBatch& watch_batch) {
  ConsoleOptions copts;
  copts.exec = exec;
  copts.quiet = c.quiet;
  copts.progress = c.progress == "always" ? ProgressMode::always
                   : c.progress == "never" ? ProgressMode::never
                                           : ProgressMode::automatic;
  // Watching from before the first batch: nothing that arrives meanwhile is missed.
  std::optional<FolderWatch> watch;
  if (c.watch) watch.emplace(watched_folders(c), c.recursive, c.settle);
  std::optional<ReportLog> report;
  if (!c.report.empty()) report.emplace(c.report, c.watch);
  copts.disk_guard = batch.options().disk_guard;
  if (batch.jobs().size() > 0) {
    const BatchOptions& o = batch.options();
    const auto order = batch.jobs().source(o.order == Order::completion && o.largest_first);
    for (Job j; order->next(j);) copts.sizes_in_start_order.push_back(j.size);
    copts.slots = o.slots > 0 ? o.slots : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  Console console(copts, batch.size());
  OutputsSeen outputs;
  std::vector<BatchSink*> sinks;
  if (report) sinks.push_back(&*report);
  sinks.push_back(&console);
  if (watch) sinks.push_back(&outputs);

  const std::vector<std::string> on_done = c.on_done.empty() ? std::vector<std::string>{} : split_command_line(c.on_done);
  // With a progress line on the terminal, `q` drains.
  std::optional<DrainKey> drain_key;
  if (console.progress_on()) drain_key.emplace();
  BatchOutcome outcome = batch.run(sinks, stop);
  while (watch && !stop.load() && !drain_requested() && !outcome.batch_failed) {
    console.watching(watch->folders());
    std::vector<Input> arrived = watch->wait(stop);
    arrived.erase(std::remove_if(arrived.begin(), arrived.end(),
                                 [&](const Input& in) { return outputs.contains(in.name); }),
                  arrived.end());
    if (arrived.empty()) continue;
    spdlog::debug("--watch: {} file{} arrived", arrived.size(), arrived.size() == 1 ? "" : "s");
    std::unique_ptr<Batch> next;
    try {
      next = watch_batch(std::move(arrived));
    } catch (const Error& e) {
      spdlog::error("{}", printable(e.what(), true));
      continue;
    }
    if (!next || next->size() == 0) continue;
    console.add_jobs(next->size());
    add_up(outcome, next->run(sinks, stop));
  }
  drain_key.reset();  // the terminal as it was
  if (watch) {  // ended while waiting, or by the last batch
    outcome.interrupted = stop.load();
    outcome.drained = drain_requested() && !outcome.interrupted;
  }
  // A watch that Ctrl-C ends while no file runs has lost nothing: it ends as a batch does.
  const bool interrupted =
      outcome.interrupted && (!watch || outcome.interrupted_jobs > 0 || outcome.not_started > 0);
  console.summary(interrupted, outcome.drained, outcome.not_started);
  const int code = interrupted                                    ? interrupted_exit_code()
                   : outcome.failed > 0 || outcome.batch_failed ? exit_failed
                                                                  : exit_ok;
  if (!on_done.empty()) run_on_done(on_done, summary_json(c, console.totals(), outcome, code));
  return code;
}

}  // namespace mediabatch::cli
