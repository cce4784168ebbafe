#include <iostream>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "mediabatch/plan.hpp"

namespace mediabatch::cli {

namespace {

// Where the batch writes, for --min-free: the output folder, or when converting in place the
// folders of the inputs named (the working folder for a list on stdin).
std::vector<fs::path> output_folders(const Common& c) {
  if (!c.output_dir.empty()) return {fs::path(c.output_dir)};
  std::vector<fs::path> folders;
  for (const std::string& in : c.inputs) {
    std::error_code ec;
    folders.push_back(fs::is_directory(in, ec) ? fs::path(in) : fs::path(in).parent_path());
  }
  if (folders.empty()) folders.emplace_back(".");
  return folders;
}

}  // namespace

int run_encoders(const Common& c, const std::vector<Encoder*>& encoders, const std::string& command,
                 std::atomic<bool>& stop) {
  for (Encoder* e : encoders) e->validate();
  Common named = c;
  if (c.inputs.empty() && c.retry_failed.empty() && encoders.size() == 1) named.inputs = encoders.front()->default_inputs();
  InputStream inputs(named, false);
  PlanOptions po;
  if (!c.output_dir.empty()) po.output_dir = fs::path(c.output_dir);
  po.report_unknown = encoders.size() > 1;
  const std::vector<const Encoder*> candidates(encoders.begin(), encoders.end());
  JobList jobs = plan_encoder_jobs([&](Input& in) { return inputs.next(in); }, candidates, po);
  BatchOptions options = batch_options(c, command);
  options.isolate = !c.no_isolation;
  options.disk_guard = std::make_shared<DiskGuard>(parse_free_space(c.min_free), output_folders(c));
  Batch batch(std::move(jobs), encoders, options);
  if (c.dry_run) {
    for (std::size_t i = 0; i < batch.jobs().size(); ++i) {
      const Job j = batch.jobs().job(i);
      if (j.preset) std::cout << j.input << ": " << (j.preset_failed ? "failed" : "skipped") << ": " << j.preset_reason << '\n';
      else std::cout << j.input << " -> " << j.output.string() << '\n';
    }
    return exit_ok;
  }
  // --watch: the files that arrive, planned as a walk's are.
  const WatchBatch watch = [&](std::vector<Input> arrived) -> std::unique_ptr<Batch> {
    std::size_t next = 0;
    JobList more = plan_encoder_jobs(
        [&](Input& in) {
          while (next < arrived.size())
            if (inputs.wanted(arrived[next++])) {
              in = std::move(arrived[next - 1]);
              return true;
            }
          return false;
        },
        candidates, po);
    if (more.size() == 0) return nullptr;
    return std::make_unique<Batch>(std::move(more), encoders, options);
  };
  return run_batch(named, batch, false, stop, watch);
}

}  // namespace mediabatch::cli
