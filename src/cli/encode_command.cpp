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
  InputStream inputs(named, false);
  PlanOptions po;
  if (!c.output_dir.empty()) po.output_dir = fs::path(c.output_dir);
  po.report_unknown = encoders.size() > 1;
  const std::vector<const Encoder*> candidates(encoders.begin(), encoders.end());
  JobList jobs = plan_encoder_jobs([&](Input& in) { return inputs.next(in); }, candidates, po);
  BatchOptions options = batch_options(c, command);
  options.isolate = !c.no_isolation;
  Batch batch(std::move(jobs), encoders, std::move(options));
  if (c.dry_run) {
    for (std::size_t i = 0; i < batch.jobs().size(); ++i) {
      const Job j = batch.jobs().job(i);
      if (j.preset) std::cout << j.input << ": " << (j.preset_failed ? "failed" : "skipped") << ": " << j.preset_reason << '\n';
      else std::cout << j.input << " -> " << j.output.string() << '\n';
    }
    return exit_ok;
  }
  return run_batch(c, batch, false, stop);
}

}  // namespace mediabatch::cli
