#include "cli/app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include "cli/console.hpp"
#include "core/signals.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"
#include "mediabatch/plan.hpp"
#include "mediabatch/report.hpp"
#include "mediabatch/scheduler.hpp"

namespace mediabatch::cli {

namespace {

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
  std::vector<std::string> inputs;
};

void add_common(CLI::App& cmd, Common& c, bool with_outputs) {
  cmd.add_option("-j,--jobs", c.jobs, "Files processed at once (default: the hardware threads)")
      ->check(CLI::Range(1, 4096))->take_last();
  if (with_outputs) {
    cmd.add_option("-o,--output-dir", c.output_dir,
                   "Write outputs under DIR, mirroring each input's path below its directory argument")->take_last();
    cmd.add_flag("--force", c.force, "Convert even when the output exists and is newer than the input");
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

std::string quote_for_display(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`;&|<>(){}*?!#~") == std::string::npos) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
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

// Writes the skip-or-convert decision and the conversion of one file.
Result run_encoder_job(const Job& job, const Common& c, int threads, const std::atomic<bool>& stop) {
  Result r;
  r.command = std::string(job.encoder->name());
  std::error_code ec;
  if (!c.force) {
    for (const fs::path& done : job.encoder->done_markers(job.output)) {
      auto out_time = fs::last_write_time(done, ec);
      if (ec) continue;
      auto in_time = fs::last_write_time(job.input, ec);
      if (!ec && out_time >= in_time) {
        r.status = Status::skipped;
        r.error = "output is up to date (use --force)";
        return r;
      }
    }
  }
  fs::create_directories(job.output.parent_path().empty() ? fs::path(".") : job.output.parent_path(), ec);
  if (ec) throw Error("cannot create " + job.output.parent_path().string() + ": " + ec.message());
  auto deadline = c.timeout > 0 ? EncodeContext::Clock::now() + std::chrono::duration_cast<EncodeContext::Clock::duration>(
                                                                    std::chrono::duration<double>(c.timeout))
                                : EncodeContext::Clock::time_point::max();
  EncodeContext ctx(job.input, job.output, threads, &stop, deadline);
  job.encoder->encode(ctx);
  if (ctx.should_stop()) throw Cancelled("stopped");
  r.bytes_out = ctx.commit();
  r.warning = ctx.warnings();
  const auto& finals = ctx.final_outputs();
  if (!finals.empty()) r.output = finals.front().string();
  for (std::size_t i = 1; i < finals.size(); ++i) r.more_outputs.push_back(finals[i].string());
  return r;
}

// One run of the scheduler over planned jobs, with console, report and Ctrl-C handling.
struct RunSetup {
  std::string command;          // for the report when a job has no encoder of its own
  bool exec = false;
  bool largest_first = true;
  std::vector<Encoder*> finishers;  // encoders whose finish() runs after the batch
};

int execute(const Common& c, const RunSetup& setup, std::vector<Job> jobs, const JobFn& fn,
            std::atomic<bool>& stop) {
  ConsoleOptions copts;
  copts.exec = setup.exec;
  copts.quiet = c.quiet;
  copts.progress = c.progress == "always" ? ProgressMode::always
                   : c.progress == "never" ? ProgressMode::never
                                           : ProgressMode::automatic;
  std::optional<ReportLog> report;
  if (!c.report.empty()) report.emplace(c.report);

  SchedulerOptions sopts;
  sopts.slots = c.jobs;
  sopts.order = c.order == "input" ? Order::input : Order::completion;
  sopts.largest_first = setup.largest_first;
  sopts.timeout_seconds = c.timeout;
  Scheduler scheduler(sopts);

  Console console(copts, jobs.size());
  std::vector<fs::path> written;
  const bool keep_outputs = std::any_of(setup.finishers.begin(), setup.finishers.end(),
                                        [](const Encoder* e) { return e->wants_outputs(); });
  bool report_failed = false;
  RunTotals totals;
  {
    SignalWatcher watcher(stop, {});
    totals = scheduler.run(
        std::move(jobs), fn,
        [&](Result&& r) {
          if (r.command.empty()) r.command = setup.command;
          if (report && !report_failed) {
            try {
              report->write(r);
            } catch (const Error& e) {
              spdlog::error("{}", e.what());
              report_failed = true;
            }
          }
          if (r.status == Status::ok && keep_outputs) {
            written.emplace_back(r.output);
            written.insert(written.end(), r.more_outputs.begin(), r.more_outputs.end());
          }
          console.result(r);
        },
        stop, [&] { console.tick(); });
  }
  bool interrupted = stop.load();
  bool batch_failed = report_failed;
  if (!interrupted) {
    for (Encoder* e : setup.finishers) {
      try {
        e->finish(written);
      } catch (const std::exception& ex) {
        spdlog::error("{}: {}", e->name(), ex.what());
        batch_failed = true;
      }
    }
  }
  console.summary(interrupted, totals.not_started);
  if (interrupted) return exit_interrupted;
  return console.failed() > 0 || batch_failed ? exit_failed : exit_ok;
}

int run_exec(const Common& c, const std::vector<std::string>& command, std::atomic<bool>& stop) {
  if (command.empty()) throw UsageError("exec: no command: give it after --, e.g. mediabatch exec -- gzip -k {}");
  auto inputs = gather_inputs(c, true);
  std::vector<Job> jobs;
  jobs.reserve(inputs.size());
  for (auto& in : inputs) {
    Job j;
    j.index = jobs.size();
    std::error_code ec;
    if (in.exists) {
      auto size = fs::file_size(in.name, ec);
      if (!ec) j.size = size;
    }
    j.input = std::move(in.name);
    jobs.push_back(std::move(j));
  }
  std::vector<Input>().swap(inputs);  // only the jobs are kept while the batch runs
  if (c.dry_run) {
    for (const auto& j : jobs) {
      std::string line;
      for (const auto& a : expand_placeholders(command, j.input)) line += (line.empty() ? "" : " ") + quote_for_display(a);
      std::cout << line << '\n';
    }
    return exit_ok;
  }
  ExecLimits limits;
  limits.timeout_seconds = c.timeout;
  JobFn fn = [&](const Job& j) { return run_program(expand_placeholders(command, j.input), stop, limits); };
  RunSetup setup;
  setup.command = "exec";
  setup.exec = true;
  setup.largest_first = !c.inputs.empty();  // stdin inputs run in the order given
  return execute(c, setup, std::move(jobs), fn, stop);
}

int run_encoders(const Common& c, const std::vector<Encoder*>& encoders, const std::string& command,
                 std::atomic<bool>& stop) {
  for (Encoder* e : encoders) e->validate();
  Common named = c;
  if (c.inputs.empty() && c.retry_failed.empty() && encoders.size() == 1) named.inputs = encoders.front()->default_inputs();
  auto inputs = gather_inputs(named, false);
  PlanOptions po;
  if (!c.output_dir.empty()) po.output_dir = fs::path(c.output_dir);
  po.report_unknown = encoders.size() > 1;
  std::vector<const Encoder*> candidates(encoders.begin(), encoders.end());
  auto jobs = plan_encoder_jobs(inputs, candidates, po);
  std::vector<Input>().swap(inputs);  // only the jobs are kept while the batch runs
  if (c.dry_run) {
    for (const auto& j : jobs) {
      if (j.preset) std::cout << j.input << ": " << (j.preset_failed ? "failed" : "skipped") << ": " << j.preset_reason << '\n';
      else std::cout << j.input << " -> " << j.output.string() << '\n';
    }
    return exit_ok;
  }
  Scheduler probe({c.jobs});
  std::size_t runnable = std::count_if(jobs.begin(), jobs.end(), [](const Job& j) { return !j.preset; });
  // Libraries with threads of their own get one per file unless the batch is smaller than the
  // slots; then each file gets its share, and the slots left over go to the largest files
  // (3 files on 8 slots: 3, 3 and 2 threads).
  std::vector<int> threads(jobs.size(), 1);
  const auto slots = static_cast<std::size_t>(probe.slots());
  if (runnable > 0 && runnable < slots) {
    std::vector<std::size_t> by_size;
    for (std::size_t i = 0; i < jobs.size(); ++i)
      if (!jobs[i].preset) by_size.push_back(i);
    std::stable_sort(by_size.begin(), by_size.end(),
                     [&](std::size_t a, std::size_t b) { return jobs[a].size > jobs[b].size; });
    for (std::size_t k = 0; k < by_size.size(); ++k)
      threads[by_size[k]] = static_cast<int>(slots / runnable + (k < slots % runnable ? 1 : 0));
  }
  JobFn fn = [&, threads = std::move(threads)](const Job& j) { return run_encoder_job(j, c, threads[j.index], stop); };
  RunSetup setup;
  setup.command = command;
  setup.finishers = encoders;
  return execute(c, setup, std::move(jobs), fn, stop);
}

// `report merge`: the shards' reports as one: counts, the failed inputs, and inputs that more
// than one report names (the last record counts, as after a re-run).
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

}  // namespace

int run(int argc, char** argv, EncoderList encoders) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> exec_command;
  if (!args.empty() && args[0] == "exec") {
    auto dashdash = std::find(args.begin(), args.end(), "--");
    if (dashdash != args.end()) {
      exec_command.assign(dashdash + 1, args.end());
      args.erase(dashdash, args.end());
    }
  }

  CLI::App app{"mediabatch: convert many media files on every core, one in-process job per file"};
  app.name("mediabatch");
  app.set_version_flag("--version", "mediabatch 0.1.0");
  app.require_subcommand(1, 1);
  Common common;
  auto* exec = app.add_subcommand("exec", "Run a program once per input: mediabatch exec [options] [INPUT...] -- CMD ARG...");
  add_common(*exec, common, false);
  auto* convert = app.add_subcommand("convert", "Convert each file with the encoder for its kind, detected by content");
  add_common(*convert, common, true);
  auto* report = app.add_subcommand("report", "Work with --report logs");
  report->require_subcommand(1, 1);
  auto* merge = report->add_subcommand("merge", "Combine the reports of several runs or shards: summary and failed inputs");
  std::vector<std::string> report_files;
  merge->add_option("reports", report_files, "JSON Lines reports written with --report")->required();
  std::vector<std::pair<CLI::App*, Encoder*>> encoder_commands;
  // Only the command being run (or top-level --help) loads an encoder's module to learn its
  // description and options; the others are known by name only.
  const std::string first = args.empty() ? "" : args[0];
  const bool top_level_help = first.empty() || (first[0] == '-' && first != "--version");
  for (auto& e : encoders) {
    const bool describe = top_level_help || first == e->name();
    auto* sub = app.add_subcommand(std::string(e->name()), describe ? std::string(e->description()) : "");
    add_common(*sub, common, true);
    if (first == e->name()) e->add_options(*sub);
    encoder_commands.emplace_back(sub, e.get());
  }

  std::string known = "exec, convert, report";
  bool is_known = !args.empty() && (args[0] == "exec" || args[0] == "convert" || args[0] == "report");
  for (auto& [sub, enc] : encoder_commands) {
    known += ", " + sub->get_name();
    is_known = is_known || (!args.empty() && args[0] == sub->get_name());
  }
  if (!args.empty() && !args[0].empty() && args[0][0] != '-' && !is_known) {
    std::cerr << "mediabatch: unknown command '" << args[0] << "' (commands: " << known << ")\n";
    return exit_usage;
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them back to front
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  auto logger = spdlog::stderr_color_mt("mediabatch");
  logger->set_pattern("mediabatch: %^%l%$: %v");
  logger->set_level(common.verbose ? spdlog::level::debug : common.quiet ? spdlog::level::err : spdlog::level::info);
  spdlog::set_default_logger(logger);

  std::atomic<bool> stop{false};
  try {
    if (exec->parsed()) return run_exec(common, exec_command, stop);
    if (merge->parsed()) return merge_reports(report_files);
    if (convert->parsed()) {
      std::vector<Encoder*> all;
      for (auto& e : encoders) all.push_back(e.get());
      return run_encoders(common, all, "convert", stop);
    }
    for (auto& [sub, enc] : encoder_commands)
      if (sub->parsed()) return run_encoders(common, {enc}, std::string(enc->name()), stop);
  } catch (const UsageError& e) {
    spdlog::error("{}", e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return exit_failed;
  }
  return exit_usage;
}

}  // namespace mediabatch::cli
