#include <iostream>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "mediabatch/plan.hpp"

namespace mediabatch::cli {

int run_encoders(const Common& c, const std::vector<Encoder*>& encoders, const std::string& command,
                 std::atomic<bool>& stop) {
  for (Encoder* e : encoders) e->validate();
  Common named = c;
  if (c.inputs.empty() && c.retry_failed.empty() && encoders.size() == 1) named.inputs = encoders.front()->default_inputs();
  auto inputs = gather_inputs(named, false);
  PlanOptions po;
  if (!c.output_dir.empty()) po.output_dir = fs::path(c.output_dir);
  po.report_unknown = encoders.size() > 1;
  const std::vector<const Encoder*> candidates(encoders.begin(), encoders.end());
  auto jobs = plan_encoder_jobs(inputs, candidates, po);
  std::vector<Input>().swap(inputs);  // only the jobs are kept while the batch runs
  BatchOptions options = batch_options(c, command);
  options.isolate = !c.no_isolation;
  Batch batch(std::move(jobs), encoders, std::move(options));
  if (c.dry_run) {
    for (const auto& j : batch.jobs()) {
      if (j.preset) std::cout << j.input << ": " << (j.preset_failed ? "failed" : "skipped") << ": " << j.preset_reason << '\n';
      else std::cout << j.input << " -> " << j.output.string() << '\n';
    }
    return exit_ok;
  }
  return run_batch(c, batch, false, stop);
}

}  // namespace mediabatch::cli
