#include "cli/app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::cli {

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

  try {
    if (exec->parsed()) return run_exec(common, exec_command);
    if (merge->parsed()) return merge_reports(report_files);
    if (convert->parsed()) {
      std::vector<Encoder*> all;
      for (auto& e : encoders) all.push_back(e.get());
      return run_encoders(common, all, "convert");
    }
    for (auto& [sub, enc] : encoder_commands)
      if (sub->parsed()) return run_encoders(common, {enc}, std::string(enc->name()));
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
