// How one job runs, from the decision to skip it to its outputs under their final names.
#include <system_error>

#include "core/job_outputs.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

// Every output the job plans is a file of an earlier run, newer than the input: the job was
// done. A directory at an output name is an error, not "done".
bool up_to_date(const Job& job, const std::vector<fs::path>& planned) {
  std::error_code ec;
  const auto in_time = fs::last_write_time(job.input, ec);
  if (ec) return false;
  for (const fs::path& out : planned) {
    const auto st = fs::status(out, ec);
    if (fs::is_directory(st)) throw Error(out.string() + " is a directory");
    if (ec || !fs::is_regular_file(st)) return false;
    const auto out_time = fs::last_write_time(out, ec);
    if (ec || out_time < in_time) return false;
  }
  return true;
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
  if (!settings.force && !job.redo) {
    const auto planned = job.encoder->planned_outputs(job.input, job.output);
    if (!planned.empty() && up_to_date(job, planned)) {
      r.status = Status::skipped;
      r.error = "output is up to date (use --force)";
      // Still the batch's outputs: an album pass after the batch takes them in.
      r.output = planned.front().string();
      for (std::size_t i = 1; i < planned.size(); ++i) r.more_outputs.push_back(planned[i].string());
      return r;
    }
  }
  const fs::path folder = job.output.parent_path().empty() ? fs::path(".") : job.output.parent_path();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw_system_error("cannot create " + folder.string(), ec.value());

  JobOutputs outputs(job.output, settings.verify);  // removes every temporary file unless committed
  try {
    EncodeContext ctx(job.input, outputs, job.threads, &stop, deadline_for(settings.timeout_seconds));
    job.encoder->encode(ctx);
    ctx.throw_if_stopped();
    if (settings.verify) {  // before the renames: nothing unchecked takes a final name
      outputs.verify(job.threads);
      r.verified = true;
    }
    r.bytes_out = outputs.commit(settings.fsync);
  } catch (const Cancelled&) {
    throw;
  } catch (const TransientError& e) {
    throw TransientError(outputs.with_final_names(e.what()), e.error());
  } catch (const Error& e) {
    // A library names the file it was writing: the user knows the output, not our temporary.
    throw Error(outputs.with_final_names(e.what()));
  }
  r.warning = outputs.warnings();
  const auto& finals = outputs.finals();
  if (!finals.empty()) r.output = finals.front().string();
  for (std::size_t i = 1; i < finals.size(); ++i) r.more_outputs.push_back(finals[i].string());
  return r;
}

}  // namespace mediabatch
