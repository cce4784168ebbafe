#include "cli/app.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <oneapi/tbb/version.h>
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "core/signals.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::cli {

namespace {

// The command tree: what was parsed lands in these fields.
struct CommandLine {
  CLI::App app{"mediabatch: convert many media files on every core, one in-process job per file"};
  Common common;
  CLI::App* exec = nullptr;
  CLI::App* convert = nullptr;
  CLI::App* merge = nullptr;
  std::vector<std::string> report_files;
  std::vector<std::pair<CLI::App*, Encoder*>> encoders;
  std::string known = "exec, convert, report";  // for "unknown command"
};

// Help that reads like the peers': "Usage: mediabatch thumbs [OPTIONS] [INPUT...]" and
// exec's program after "--", where CLI11 would print "[inputs...]".
class HelpFormatter final : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    if (!app->get_option_no_throw("inputs")) return CLI::Formatter::make_usage(app, std::move(name));
    return "Usage: " + name + " [OPTIONS] [INPUT...]" + (app->get_name() == "exec" ? " -- CMD [ARG...]" : "") + "\n";
  }
};

// What each option takes, by its long name (a command's own first, "video --format"): shown in
// --help instead of CLI11's TEXT, INT:INT in [1 - 4096] and the like.
const std::map<std::string, std::string>& metavariables() {
  static const std::map<std::string, std::string> names = {
      {"jobs", "N"}, {"output-dir", "DIR"}, {"min-free", "SIZE"}, {"order", "completion|input"},
      {"report", "FILE"}, {"progress", "auto|always|never"}, {"timeout", "SECONDS"}, {"shard", "K/N"},
      {"retry-failed", "REPORT"}, {"retries", "N"}, {"on-done", "CMD"}, {"settle", "SECONDS"},
      {"size", "N|WxH"}, {"thumbs format", "jpg|png|webp"}, {"background", "COLOUR"}, {"quality", "1-100"},
      {"max-pixels", "N"}, {"video format", "mkv|ogv"}, {"vq", "0-10"}, {"aq", "-1-10"}, {"speed", "0-3"},
      {"start", "SECONDS"}, {"duration", "SECONDS"}, {"max-height", "N"}, {"deinterlace", "auto|on|off"},
      {"tonemap", "auto|off"}, {"window", "file|minmax|C,W"}, {"depth", "8|16"}, {"crop", "WxH+X+Y"},
      {"density", "DPI"}, {"frames", "first|all"}, {"png-level", "0-12"}, {"level", "0-8"},
      {"album", "FILE.json"}, {"cue", "FILE.cue"}, {"tag", "KEY=VALUE"}, {"cover", "FILE"},
  };
  return names;
}

constexpr const char* kExitCodes =
    "Exit status: 0 every file ok or skipped; 1 a file failed; 2 usage error, nothing done;\n"
    "130, 143, 129 interrupted by SIGINT, SIGTERM, SIGHUP. More: man mediabatch";

const std::map<std::string, std::string>& examples() {
  static const std::map<std::string, std::string> by_command = {
      {"exec", "  mediabatch exec -j 4 photos/ -- convert {} -resize 50% {.}_half.png\n"
               "  find . -name '*.wav' | mediabatch exec -- flac --best -s {}"},
      {"convert", "  mediabatch convert -r -o out --report out/report.jsonl inbox/\n"
                  "  mediabatch convert --watch -r -o out /srv/incoming"},
      {"thumbs", "  mediabatch thumbs -r -o thumbs ~/Pictures\n"
                 "  mediabatch thumbs --size 320x240 --format webp photos/*.heic"},
      {"video", "  mediabatch video -o mkv holiday/*.mp4\n"
                "  mediabatch video --max-height 720 --start 10 --duration 30 clip.mov"},
      {"dicom", "  mediabatch dicom -r -o png export/\n"
                "  mediabatch dicom --window 40,400 --crop 512x400+0+56 --density 150 scan.dcm"},
      {"flac", "  mediabatch flac --album album.json rip/\n"
               "  mediabatch flac --cue disc.cue disc.wav --replay-gain"},
  };
  return by_command;
}

// The metavariables, the common options under their own heading after the command's own, and
// the examples and exit codes as a footer.
void tidy_help(CLI::App& command) {
  const std::string name = command.get_name();
  for (CLI::Option* opt : command.get_options()) {
    if (opt->get_name() == "inputs") {
      opt->type_name("INPUT");
      continue;
    }
    const std::string lname = opt->get_name(false, false);
    const std::string key = lname.rfind("--", 0) == 0 ? lname.substr(2) : lname;
    auto meta = metavariables().find(name + " " + key);
    if (meta == metavariables().end()) meta = metavariables().find(key);
    if (meta == metavariables().end()) continue;
    opt->type_name(meta->second);
    for (int i = 0;; ++i) {  // the validators' own descriptions would follow the name
      try {
        opt->get_validator(i)->description("");
      } catch (const CLI::OptionNotFound&) {
        break;
      }
    }
  }
  const auto example = examples().find(name);
  command.footer((example != examples().end() ? "Examples:\n" + example->second + "\n\n" : std::string()) +
                 kExitCodes);
}

// `mediabatch --version`: ours, then the libraries each command converts with, as loaded (as
// `ffmpeg -version` lists its libraries). Loads every encoder module.
std::string versions_text(const EncoderList& encoders) {
  std::string text = "mediabatch " MEDIABATCH_VERSION "\n  engine: oneTBB " + std::string(TBB_runtime_version());
  for (const auto& e : encoders) {
    std::string libraries;
    try {
      for (const std::string& library : e->library_versions())
        libraries += (libraries.empty() ? "" : ", ") + library;
    } catch (const std::exception& error) {
      libraries = error.what();  // "cannot load the video encoder: ..."
    }
    text += "\n  " + std::string(e->name()) + ": " + libraries;
  }
  return text;
}

// Every command's description is known without loading its module (src/encoders/descriptions.hpp);
// only the command being run loads its module, for its options.
void add_commands(CommandLine& cl, const EncoderList& encoders, const std::string& first) {
  CLI::App& app = cl.app;
  app.name("mediabatch");
  app.formatter(std::make_shared<HelpFormatter>());
  app.footer(std::string("Examples:\n  mediabatch thumbs -r -o thumbs ~/Pictures\n"
                         "  mediabatch flac --cue disc.cue disc.wav --replay-gain\n"
                         "  mediabatch exec -r photos -- cwebp -q 80 {} -o {.}.webp\n"
                         "Run mediabatch COMMAND --help for a command's options.\n\n") +
             kExitCodes);
  app.set_version_flag("--version", [&encoders] { return versions_text(encoders); },
                       "Print the version and those of the libraries in use, and exit");
  app.require_subcommand(1, 1);
  cl.exec = app.add_subcommand("exec", "Run a program once per input, as GNU parallel: {} is the input, {.} without its extension");
  add_common(*cl.exec, cl.common, false);
  cl.convert = app.add_subcommand("convert", "Convert each file with the encoder for its kind, detected by content");
  add_common(*cl.convert, cl.common, true);
  auto* report = app.add_subcommand("report", "Work with --report logs");
  report->require_subcommand(1, 1);
  cl.merge = report->add_subcommand("merge", "Combine the reports of several runs or shards: summary and failed inputs");
  cl.merge->add_option("reports", cl.report_files, "JSON Lines reports written with --report")->required();
  for (auto& e : encoders) {
    auto* sub = app.add_subcommand(std::string(e->name()), std::string(e->description()));
    add_common(*sub, cl.common, true);
    if (first == e->name()) e->add_options(*sub);
    cl.encoders.emplace_back(sub, e.get());
    cl.known += ", " + std::string(e->name());
  }
  for (CLI::App* command : {cl.exec, cl.convert}) tidy_help(*command);
  for (auto& [sub, e] : cl.encoders) tidy_help(*sub);
  cl.merge->get_option("reports")->type_name("REPORT");
}

void set_up_logging(const Common& c) {
  auto logger = spdlog::stderr_color_mt("mediabatch");
  logger->set_pattern("mediabatch: %^%l%$: %v");
  logger->set_level(c.verbose ? spdlog::level::debug : c.quiet ? spdlog::level::err : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Runs the parsed command; exceptions become exit codes here, once.
int dispatch(CommandLine& cl, const std::vector<std::string>& exec_command, std::atomic<bool>& stop) {
  try {
    if (cl.exec->parsed()) return run_exec(cl.common, exec_command, stop);
    if (cl.merge->parsed()) return merge_reports(cl.report_files);
    if (cl.convert->parsed()) {
      std::vector<Encoder*> all;
      for (auto& [sub, enc] : cl.encoders) all.push_back(enc);
      return run_encoders(cl.common, all, "convert", stop);
    }
    for (auto& [sub, enc] : cl.encoders)
      if (sub->parsed()) return run_encoders(cl.common, {enc}, std::string(enc->name()), stop);
  } catch (const UsageError& e) {
    spdlog::error("{}", printable(e.what(), true));
    return exit_usage;
  } catch (const std::exception& e) {
    spdlog::error("{}", printable(e.what(), true));
    return exit_failed;
  }
  return exit_usage;
}

// `--progress` alone is `--progress=always`, as GNU parallel's flag is; followed by auto,
// always or never it is the option with its value. (CLI11 would take the next argument, an
// input, as the value.)
void complete_progress_flag(std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] != "--progress") continue;
    const bool valued = i + 1 < args.size() &&
                        (args[i + 1] == "auto" || args[i + 1] == "always" || args[i + 1] == "never");
    args[i] += "=" + (valued ? args[i + 1] : std::string("always"));
    if (valued) args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
}

}  // namespace

int run(int argc, char** argv, EncoderList encoders) {
  // From the start: Ctrl-C must work while inputs are walked and probed too.
  std::atomic<bool> stop{false};
  SignalWatcher watcher(stop);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> exec_command;  // exec's program: everything after "--"
  if (!args.empty() && args[0] == "exec") {
    auto dashdash = std::find(args.begin(), args.end(), "--");
    if (dashdash != args.end()) {
      exec_command.assign(dashdash + 1, args.end());
      args.erase(dashdash, args.end());
    }
  }
  complete_progress_flag(args);
  const std::string first = args.empty() ? "" : args[0];
  CommandLine cl;
  add_commands(cl, encoders, first);
  const auto is_command = [&](const std::string& name) {
    return name == "exec" || name == "convert" || name == "report" ||
           std::any_of(cl.encoders.begin(), cl.encoders.end(),
                       [&](const auto& c) { return c.first->get_name() == name; });
  };
  const bool is_known = is_command(first);
  // `mediabatch -j 2 flac ...`: CLI11 would say "The following arguments were not expected:
  // 2 -j" (backwards); say where they go instead.
  if (!first.empty() && first[0] == '-' && first != "-h" && first != "--help" && first != "--version") {
    const auto command = std::find_if(args.begin(), args.end(), is_command);
    if (command != args.end()) {
      std::string options;
      for (auto a = args.begin(); a != command; ++a) options += " " + *a;
      std::cerr << "mediabatch: put common options after the command name: mediabatch " << *command << options
                << " ...\n";
      return exit_usage;
    }
  }
  if (!first.empty() && first[0] != '-' && !is_known) {
    std::cerr << "mediabatch: unknown command '" << first << "' (commands: " << cl.known << ")\n";
    return exit_usage;
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them back to front
  try {
    cl.app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return cl.app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  set_up_logging(cl.common);
  return dispatch(cl, exec_command, stop);
}

}  // namespace mediabatch::cli
