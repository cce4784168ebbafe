#include "core/job_outputs.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

EncodeContext::EncodeContext(fs::path input, JobOutputs& outputs, int threads, const std::atomic<bool>* stop,
                             Clock::time_point deadline) noexcept
    : input_(std::move(input)), outputs_(&outputs), threads_(threads), stop_(stop), deadline_(deadline) {}

const fs::path& EncodeContext::output() const noexcept { return outputs_->primary(); }

const fs::path& EncodeContext::temp_output() { return outputs_->primary_temp(); }

fs::path EncodeContext::add_output(const fs::path& final_path) { return outputs_->add(final_path); }

void EncodeContext::warn(std::string message) { outputs_->warn(std::move(message)); }

bool EncodeContext::verify() const noexcept { return outputs_->verifying(); }

void EncodeContext::check_output(const fs::path& temp, OutputCheck check) { outputs_->set_check(temp, std::move(check)); }

bool EncodeContext::should_stop() const noexcept {
  return (stop_ && stop_->load(std::memory_order_relaxed)) || Clock::now() >= deadline_;
}

void EncodeContext::throw_if_stopped() const {
  if (stop_ && stop_->load(std::memory_order_relaxed)) throw Cancelled("interrupted");
  if (Clock::now() >= deadline_) throw Cancelled("timed out");
}

}  // namespace mediabatch
