#pragma once
// Where a batch's results go, in-process or from a worker: counted into the outcome, handed
// to every sink (a sink that throws Error is reported once and dropped, and the batch ends
// as failed), and the outputs kept for the encoders' finish() when one wants them. Main
// thread only.
#include <string>
#include <utility>
#include <vector>

#include "mediabatch/engine.hpp"

namespace mediabatch {

class ResultFeed {
 public:
  ResultFeed(std::vector<BatchSink*> sinks, std::string command, bool keep_outputs, BatchOutcome& outcome)
      : sinks_(std::move(sinks)), command_(std::move(command)), keep_outputs_(keep_outputs), outcome_(outcome) {}

  void operator()(Result&& r);
  void tick();

  // --retries: a transient failure of a job that has not used its `retries` more attempts is
  // held back, not reported; the results fed from now on are of attempt number `attempt`.
  void hold_retries(int retries, int attempt) noexcept {
    retries_ = retries;
    attempt_ = attempt;
  }
  // --min-free: a first attempt that ran out of disk space is held back too (it is tried
  // again when the guard finds the space back).
  void hold_out_of_space(bool hold) noexcept { hold_out_of_space_ = hold; }
  std::vector<Result> take_held() { return std::exchange(held_, {}); }
  // Reports the results held back: when the batch stops before their next attempt.
  void release_held();
  // The outputs of every job that is done (ok, or skipped as up to date), when kept.
  const std::vector<fs::path>& outputs() const noexcept { return outputs_; }

 private:
  std::vector<BatchSink*> sinks_;
  std::string command_;
  bool keep_outputs_;
  BatchOutcome& outcome_;
  std::vector<fs::path> outputs_;
  int retries_ = 0, attempt_ = 1;
  bool hold_out_of_space_ = false;
  std::vector<Result> held_;

  void report(Result&& r);
};

}  // namespace mediabatch
