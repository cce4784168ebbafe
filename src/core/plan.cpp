#include "mediabatch/plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <system_error>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/parallel.hpp"

namespace mediabatch {

namespace {

// O_NONBLOCK: should the file have become a FIFO since it was looked at, open() must not wait
// for a writer.
std::string read_head(const std::string& path) {
  std::string head(4096, '\0');
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return {};
  ssize_t n = ::read(fd.get(), head.data(), head.size());
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

struct Probed {
  const Encoder* encoder = nullptr;
  std::uint64_t size = 0;
  std::string reject;
  bool special = false;  // not a regular file: never opened
};

const char* special_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a file";
}

// The input's size and the first encoder that accepts it by its first bytes. Only a regular
// file is opened: reading a FIFO would wait for a writer for ever.
void probe_one(const Input& in, const std::vector<const Encoder*>& encoders, Probed& out) {
  if (!in.exists) return;
  struct stat st {};
  if (::stat(in.name.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    out.special = true;
    out.reject = std::string("not a regular file (") + special_kind(st.st_mode) + ")";
    return;
  }
  out.size = static_cast<std::uint64_t>(st.st_size);
  const std::string head = read_head(in.name);
  const Probe probe{fs::path(in.name), head};
  for (const Encoder* e : encoders) {
    if (e->accepts(probe)) {
      out.encoder = e;
      return;
    }
  }
  out.reject = encoders.size() == 1 ? encoders[0]->reject_reason(probe) : "not a file of any known kind";
}

// In parallel: reading heads is most of planning on a cold disk. Plain threads that take the
// next input from a counter; planning runs before the batch's arena exists.
std::vector<Probed> probe_inputs(const std::vector<Input>& inputs, const std::vector<const Encoder*>& encoders) {
  std::vector<Probed> probed(inputs.size());
  std::atomic<std::size_t> next{0};
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  run_workers(static_cast<int>(std::min(cores, inputs.size() / 16 + 1)), [&] {
    for (std::size_t i = next++; i < inputs.size(); i = next++) probe_one(inputs[i], encoders, probed[i]);
  });
  return probed;
}

}  // namespace

std::vector<Job> plan_encoder_jobs(const std::vector<Input>& inputs, const std::vector<const Encoder*>& encoders,
                                   const PlanOptions& options) {
  const std::vector<Probed> probed = probe_inputs(inputs, encoders);

  // Where each accepted input's output goes, and which outputs are already on disk as inputs.
  std::vector<fs::path> outputs(inputs.size());
  std::vector<std::string> out_keys(inputs.size()), in_keys(inputs.size());
  std::map<std::string, std::size_t> producer;  // output key -> input producing it
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].exists || probed[i].special) continue;
    in_keys[i] = key_of(inputs[i].name);
    if (!probed[i].encoder) continue;
    outputs[i] = output_for(inputs[i], probed[i].encoder->output_name(inputs[i].name), options);
    out_keys[i] = key_of(outputs[i]);
    producer.emplace(out_keys[i], i);
  }
  // A file found by a walk that is another input's output (from an earlier run in place, such
  // as a thumbnail beside its photo) is not an input of this run.
  std::vector<bool> dropped(inputs.size(), false);
  std::map<std::string, std::string> kept_inputs;  // key -> name
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].exists || probed[i].special) continue;
    auto p = producer.find(in_keys[i]);
    if (!inputs[i].named && p != producer.end() && p->second != i) dropped[i] = true;
    else kept_inputs.emplace(in_keys[i], inputs[i].name);
  }

  std::vector<Job> jobs;
  std::map<std::string, std::size_t> by_output;  // output key -> job
  std::vector<std::string> conflicts;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Input& in = inputs[i];
    const Probed& p = probed[i];
    if (dropped[i]) continue;
    Job job;
    job.input = in.name;
    job.size = p.size;
    if (!in.exists) {
      job.preset = job.preset_failed = true;
      job.preset_reason = "No such file or directory";
    } else if (p.special) {
      if (!in.named) continue;
      job.preset = job.preset_failed = true;
      job.preset_reason = p.reject;
    } else if (!p.encoder) {
      if (!in.named && !options.report_unknown) continue;
      job.preset = true;
      job.preset_reason = p.reject;
    } else if (out_keys[i] == in_keys[i]) {
      job.preset = job.preset_failed = true;
      job.preset_reason = "the output would overwrite the input itself (use -o DIR)";
    } else {
      job.encoder = p.encoder;
      job.output = outputs[i];
      if (auto hit = kept_inputs.find(out_keys[i]); hit != kept_inputs.end())
        conflicts.push_back(job.output.string() + " would overwrite the input " + hit->second);
      auto [it, fresh] = by_output.emplace(out_keys[i], jobs.size());
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
