#pragma once
// Runs an encoder the way the program does, through the engine's own entry point: options
// parsed by CLI11 on a command with an "inputs" positional, validate(), plan() over the batch,
// each file through mediabatch::run_job() (the context, commit or discard), then finish().
#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mediabatch/encoder.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/job.hpp"
#include "mediabatch/job_list.hpp"
#include "mediabatch/result.hpp"

namespace mbtest {

struct JobOptions {
  int threads = 1;
  const std::atomic<bool>* stop = nullptr;  // none: never stopped
  double timeout_seconds = 0;
  bool force = true;  // tests convert into fresh folders; skip-if-newer is the CLI tests' business
  bool verify = false;  // --verify: the encoder's checks run before the renames
};

class EncoderHarness {
 public:
  // `args` are the command's options (and any positional inputs, as on the command line).
  explicit EncoderHarness(std::unique_ptr<mediabatch::Encoder> encoder, std::vector<std::string> args = {});

  mediabatch::Encoder& encoder() { return *encoder_; }
  // The positional inputs the arguments named.
  const std::vector<std::string>& inputs() const { return inputs_; }

  // Plans these inputs as one batch (outputs under out_dir, named by the encoder) and hands
  // them to the encoder's plan(). Optional: encode() plans its one file when nothing was.
  void plan(const std::vector<std::filesystem::path>& inputs, const std::filesystem::path& out_dir);

  // Runs one file through run_job(). Returns its result (ok or skipped); throws what the
  // encoder threw (mediabatch::Error, Skip, Cancelled). Nothing is left under a temporary name.
  mediabatch::Result encode(const std::filesystem::path& input, const std::filesystem::path& output,
                            const JobOptions& options = {});
  // Same, with the output named by the encoder under out_dir.
  mediabatch::Result encode_into(const std::filesystem::path& input, const std::filesystem::path& out_dir,
                                 const JobOptions& options = {});
  // The encoder's finish() over every output of the jobs that are done (ok, or skipped as
  // up to date), as a batch calls it.
  void finish(const std::atomic<bool>* stop = nullptr);

 private:
  std::unique_ptr<mediabatch::Encoder> encoder_;
  CLI::App app_;
  std::vector<std::string> inputs_;
  bool planned_ = false;
  std::vector<std::filesystem::path> written_;
};

}  // namespace mbtest
