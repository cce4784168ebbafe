// How one job runs, from the decision to skip it to its outputs under their final names.
#include <system_error>

#include "core/job_outputs.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

// An output of an earlier run, newer than the input, shows the job was done.
bool up_to_date(const Job& job) {
  std::error_code ec;
  const auto in_time = fs::last_write_time(job.input, ec);
  if (ec) return false;
  for (const fs::path& done : job.encoder->done_markers(job.output)) {
    const auto out_time = fs::last_write_time(done, ec);
    if (!ec && out_time >= in_time) return true;
  }
  return false;
}

EncodeContext::Clock::time_point deadline_for(double timeout_seconds) {
  using Clock = EncodeContext::Clock;
  if (timeout_seconds <= 0) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_seconds));
}

}  // namespace

Result run_job(const Job& job, const JobSettings& settings, const std::atomic<bool>& stop) {
  Result r;
  r.command = std::string(job.encoder->name());
  if (!settings.force && !job.redo && up_to_date(job)) {
    r.status = Status::skipped;
    r.error = "output is up to date (use --force)";
    return r;
  }
  const fs::path folder = job.output.parent_path().empty() ? fs::path(".") : job.output.parent_path();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error("cannot create " + folder.string() + ": " + ec.message());

  JobOutputs outputs(job.output);  // removes every temporary file unless committed
  EncodeContext ctx(job.input, outputs, job.threads, &stop, deadline_for(settings.timeout_seconds));
  job.encoder->encode(ctx);
  ctx.throw_if_stopped();
  r.bytes_out = outputs.commit();
  r.warning = outputs.warnings();
  const auto& finals = outputs.finals();
  if (!finals.empty()) r.output = finals.front().string();
  for (std::size_t i = 1; i < finals.size(); ++i) r.more_outputs.push_back(finals[i].string());
  return r;
}

}  // namespace mediabatch
