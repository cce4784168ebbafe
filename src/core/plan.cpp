#include "mediabatch/plan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <oneapi/tbb/parallel_for.h>

#include <map>
#include <system_error>

#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace {

std::string read_head(const std::string& path) {
  std::string head(4096, '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t n = ::read(fd, head.data(), head.size());
  ::close(fd);
  head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return head;
}

fs::path output_for(const Input& in, const fs::path& name, const PlanOptions& options) {
  fs::path input(in.name);
  if (!options.output_dir) return input.parent_path() / name;
  // Named files go straight under -o; walked ones keep their folder below the argument.
  fs::path rel = in.named ? fs::path() : fs::path(in.relative).parent_path();
  return *options.output_dir / rel / name;
}

std::string key_of(const fs::path& p) {
  std::error_code ec;
  auto abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

}  // namespace

std::vector<Job> plan_encoder_jobs(const std::vector<Input>& inputs, const std::vector<const Encoder*>& encoders,
                                   const PlanOptions& options) {
  struct Probed {
    const Encoder* encoder = nullptr;
    std::uint64_t size = 0;
    std::string reject;
  };
  std::vector<Probed> probed(inputs.size());
  tbb::parallel_for(std::size_t(0), inputs.size(), [&](std::size_t i) {
    const Input& in = inputs[i];
    if (!in.exists) return;
    std::error_code ec;
    probed[i].size = fs::file_size(in.name, ec);
    std::string head = read_head(in.name);
    Probe probe{fs::path(in.name), head};
    for (const Encoder* e : encoders) {
      if (e->accepts(probe)) {
        probed[i].encoder = e;
        return;
      }
    }
    probed[i].reject = encoders.size() == 1 ? encoders[0]->reject_reason(probe) : "not a file of any known kind";
  });

  std::vector<Job> jobs;
  std::map<std::string, std::size_t> by_output;  // normalised output -> job
  std::map<std::string, std::string> input_keys;  // normalised input -> name
  for (const auto& in : inputs)
    if (in.exists) input_keys.emplace(key_of(in.name), in.name);
  std::vector<std::string> conflicts;

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    const Probed& p = probed[i];
    Job job;
    job.input = in.name;
    job.size = p.size;
    if (!in.exists) {
      job.preset = job.preset_failed = true;
      job.preset_reason = "No such file or directory";
    } else if (!p.encoder) {
      if (!in.named && !options.report_unknown) continue;
      job.preset = true;
      job.preset_reason = p.reject;
    } else {
      job.encoder = p.encoder;
      job.output = output_for(in, p.encoder->output_name(in.name), options);
      std::string key = key_of(job.output);
      if (auto hit = input_keys.find(key); hit != input_keys.end())
        conflicts.push_back(job.output.string() + " would overwrite the input " + hit->second);
      auto [it, fresh] = by_output.emplace(key, jobs.size());
      if (!fresh)
        conflicts.push_back(jobs[it->second].input + " and " + in.name + " both map to " + job.output.string());
    }
    job.index = jobs.size();
    jobs.push_back(std::move(job));
  }
  if (!conflicts.empty()) {
    std::string msg = "outputs conflict, nothing was done:";
    for (const auto& c : conflicts) msg += "\n  " + c;
    throw UsageError(msg);
  }
  return jobs;
}

}  // namespace mediabatch
