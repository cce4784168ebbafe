#include <iostream>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"

namespace mediabatch::cli {

namespace {

std::string quote_for_display(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`;&|<>(){}*?!#~") == std::string::npos) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

}  // namespace

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
  BatchOptions options = batch_options(c, "exec");
  options.exec_command = command;
  options.largest_first = !c.inputs.empty();  // stdin inputs run in the order given
  Batch batch(std::move(jobs), {}, std::move(options));
  return run_batch(c, batch, true, stop);
}

}  // namespace mediabatch::cli
