#include "support/encoder_harness.hpp"

#include <algorithm>
#include <system_error>

namespace mbtest {

namespace fs = std::filesystem;

EncoderHarness::EncoderHarness(std::unique_ptr<mediabatch::Encoder> encoder, std::vector<std::string> args)
    : encoder_(std::move(encoder)), app_(std::string(encoder_->name())) {
  encoder_->add_options(app_);
  app_.add_option("inputs", inputs_);
  std::reverse(args.begin(), args.end());  // CLI11 takes them back to front
  app_.parse(args);
  encoder_->validate();
}

void EncoderHarness::plan(const std::vector<fs::path>& inputs, const fs::path& out_dir) {
  mediabatch::JobList jobs(out_dir);
  for (const auto& path : inputs) {
    mediabatch::Input in;
    in.name = in.relative = path.string();
    in.named = true;
    std::error_code ec;
    jobs.add(in, fs::file_size(path, ec), encoder_.get());
  }
  encoder_->plan(mediabatch::EncoderJobs(jobs, encoder_.get()));
  planned_ = true;
}

mediabatch::Result EncoderHarness::encode(const fs::path& input, const fs::path& output, const JobOptions& options) {
  if (!planned_) plan({input}, output.parent_path());
  mediabatch::Job job;
  job.input = input.string();
  job.output = output;
  job.encoder = encoder_.get();
  job.threads = options.threads;
  std::error_code ec;
  job.size = fs::file_size(input, ec);
  mediabatch::JobSettings settings;
  settings.force = options.force;
  settings.timeout_seconds = options.timeout_seconds;
  settings.verify = options.verify;
  static const std::atomic<bool> never{false};
  mediabatch::Result r = mediabatch::run_job(job, settings, options.stop ? *options.stop : never);
  if (r.status == mediabatch::Status::ok || !r.output.empty()) {  // written, or up to date
    written_.emplace_back(r.output);
    written_.insert(written_.end(), r.more_outputs.begin(), r.more_outputs.end());
  }
  return r;
}

mediabatch::Result EncoderHarness::encode_into(const fs::path& input, const fs::path& out_dir,
                                               const JobOptions& options) {
  return encode(input, out_dir / encoder_->output_name(input), options);
}

void EncoderHarness::finish(const std::atomic<bool>* stop) {
  static const std::atomic<bool> never{false};
  encoder_->finish(written_, stop ? *stop : never);
}

}  // namespace mbtest
