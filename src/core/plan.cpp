#include "mediabatch/plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <system_error>

#include "content_kind.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/parallel.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace {

// The first bytes of the file, or why it cannot be read (an errno value). O_NONBLOCK: should
// the file have become a FIFO since it was looked at, open() must not wait for a writer.
int read_head(const std::string& path, std::string& head) {
  head.assign(4096, '\0');
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  const ssize_t n = fd ? ::read(fd.get(), head.data(), head.size()) : -1;
  if (n < 0) {
    const int error = errno;
    head.clear();  // encoders asked whether they claim it by name see no content
    return error;
  }
  head.resize(static_cast<std::size_t>(n));
  return 0;
}

std::string normal_key(const fs::path& p) {
  std::error_code ec;
  auto abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

std::uint64_t key_of(const fs::path& p) { return stable_hash(normal_key(p)); }

struct Probed {
  const Encoder* encoder = nullptr;
  std::uint64_t size = 0;
  std::string reject;
  bool special = false;  // not a regular file: never opened
  bool broken = false;   // of a kind by its name but not by its content, or unreadable: fails
};

const char* special_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of another kind";
}

// The input's size and the first encoder that accepts it by its first bytes. Only a regular
// file is opened: reading a FIFO would wait for a writer for ever. A file that an encoder
// claims by its name (or accepts by name alone, as video does) but that is empty, unreadable or
// of another content is broken, found by a walk or named.
void probe_one(const Input& in, const std::vector<const Encoder*>& encoders, Probed& out) {
  if (!in.exists) return;
  struct stat st {};
  if (::stat(in.name.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    out.special = true;
    out.reject = std::string("not a regular file (") + special_kind(st.st_mode) + ")";
    return;
  }
  out.size = static_cast<std::uint64_t>(st.st_size);
  std::string head;
  const int error = read_head(in.name, head);
  const Probe probe{fs::path(in.name), head};
  const auto claimer = [&]() -> const Encoder* {
    for (const Encoder* e : encoders)
      if (e->claims(probe) || e->accepts(probe)) return e;
    return nullptr;
  };
  if (error != 0 || out.size == 0) {
    out.reject = error != 0 ? errno_text(error) : "empty file";
    out.broken = claimer() != nullptr || (error != 0 && in.named);
    return;
  }
  for (const Encoder* e : encoders) {
    if (e->accepts(probe)) {
      out.encoder = e;
      return;
    }
  }
  const std::string content = ": " + describe_content(head, out.size);
  for (const Encoder* e : encoders) {
    if (e->claims(probe)) {
      out.broken = true;
      out.reject = e->reject_reason(probe) + content;
      return;
    }
  }
  out.reject = (encoders.size() == 1 ? encoders[0]->reject_reason(probe) : "not a file of any known kind") + content;
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

// The batch's paths by key (a hash of the absolute path), 8 bytes each: enough to find
// conflicts and earlier outputs among a million inputs without keeping their names twice.
// Deques grow without copying. A rare key match is confirmed by the names themselves.
struct Keys {
  std::deque<std::uint64_t> outputs;  // every job's output
  std::deque<std::uint64_t> named;    // inputs named that exist
};

// Why a named input cannot be opened: "No such file or directory", "Too many levels of
// symbolic links" (a link to itself), "a symbolic link to nothing (TARGET)".
std::string missing_reason(const std::string& name) {
  struct stat st {};
  if (::stat(name.c_str(), &st) == 0) return errno_text(ENOENT);  // it came back meanwhile
  const int error = errno;
  if (error == ENOENT && ::lstat(name.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(name, ec);
    return "a symbolic link to nothing (" + printable(target.string()) + ")";
  }
  return errno_text(error);
}

// Adds one probed input to the list, and its keys.
void add_job(const Input& in, const Probed& p, const PlanOptions& options, JobList& jobs, Keys& keys) {
  if (!in.exists) return jobs.add_preset(in, 0, true, missing_reason(in.name));
  if (p.special) {
    if (in.named) jobs.add_preset(in, 0, true, p.reject);
    return;
  }
  const std::uint64_t in_key = key_of(in.name);
  if (in.named) keys.named.push_back(in_key);
  if (p.broken) return jobs.add_preset(in, p.size, true, p.reject);
  if (!p.encoder) {
    if (in.named || options.report_unknown) jobs.add_preset(in, p.size, false, p.reject);
    return;
  }
  const std::uint64_t out_key = key_of(jobs.output_for(in, *p.encoder));
  if (out_key == in_key) return jobs.add_preset(in, p.size, true, "the output would overwrite the input itself (use -o DIR)");
  jobs.add(in, p.size, p.encoder);
  keys.outputs.push_back(out_key);
}

bool contains(const std::deque<std::uint64_t>& sorted, std::uint64_t key) {
  return std::binary_search(sorted.begin(), sorted.end(), key);
}

// A file found by a walk that is another job's output (from an earlier run in place, such as a
// thumbnail beside its photo) is not an input of this run. (No job's output is its own input:
// that job is a preset.) The outputs of the jobs left out are taken out of keys.outputs.
std::vector<bool> earlier_outputs(const JobList& jobs, Keys& keys) {
  std::sort(keys.outputs.begin(), keys.outputs.end());
  std::vector<bool> dropped(jobs.size(), false);
  std::deque<std::uint64_t> gone;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs.named(i) || !contains(keys.outputs, key_of(jobs.input(i)))) continue;
    dropped[i] = true;
    if (!jobs.preset(i)) gone.push_back(key_of(jobs.output(i)));
  }
  std::sort(gone.begin(), gone.end());
  std::deque<std::uint64_t> kept;
  std::set_difference(keys.outputs.begin(), keys.outputs.end(), gone.begin(), gone.end(), std::back_inserter(kept));
  keys.outputs = std::move(kept);
  return dropped;
}

// Two jobs writing one output, or a job writing over an input named on the command line,
// each said with the names (found again by a pass over the list, only when a key matches).
std::vector<std::string> conflicts_in(const JobList& jobs, const std::vector<bool>& dropped, Keys& keys) {
  std::sort(keys.named.begin(), keys.named.end());
  std::set<std::uint64_t> suspect;
  for (std::size_t i = 0; i < keys.outputs.size(); ++i)
    if ((i > 0 && keys.outputs[i - 1] == keys.outputs[i]) || contains(keys.named, keys.outputs[i]))
      suspect.insert(keys.outputs[i]);
  if (suspect.empty()) return {};
  std::map<std::string, std::size_t> writer;  // output -> job, for the suspect keys only
  std::map<std::string, std::size_t> named;   // input named -> job, likewise
  std::vector<std::string> conflicts;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (dropped[i]) continue;
    if (jobs.named(i) && suspect.count(key_of(jobs.input(i)))) named.emplace(normal_key(jobs.input(i)), i);
    if (jobs.preset(i) || !suspect.count(key_of(jobs.output(i)))) continue;
    const std::string out = normal_key(jobs.output(i));
    auto [it, fresh] = writer.emplace(out, i);
    if (!fresh)
      conflicts.push_back(jobs.input(it->second) + " and " + jobs.input(i) + " both map to " + jobs.output(i).string());
  }
  for (const auto& [out, i] : writer)
    if (auto n = named.find(out); n != named.end() && n->second != i)
      conflicts.push_back(jobs.output(i).string() + " would overwrite the input " + jobs.input(n->second));
  return conflicts;
}

}  // namespace

JobList plan_encoder_jobs(const std::function<bool(Input&)>& next_input, const std::vector<const Encoder*>& encoders,
                          const PlanOptions& options) {
  JobList jobs(options.output_dir);
  Keys keys;
  // A chunk at a time: probed in parallel, without a list of every input.
  constexpr std::size_t chunk = 1024;
  std::vector<Input> inputs;
  for (bool more = true; more;) {
    inputs.clear();
    Input in;
    while (inputs.size() < chunk && (more = next_input(in))) inputs.push_back(std::move(in));
    const std::vector<Probed> probed = probe_inputs(inputs, encoders);
    for (std::size_t i = 0; i < inputs.size(); ++i) add_job(inputs[i], probed[i], options, jobs, keys);
  }
  const std::vector<bool> dropped = earlier_outputs(jobs, keys);
  const std::vector<std::string> conflicts = conflicts_in(jobs, dropped, keys);
  if (!conflicts.empty()) {
    std::string msg = "outputs conflict, nothing was done:";
    for (const auto& c : conflicts) msg += "\n  " + c;
    throw UsageError(msg);
  }
  jobs.retain([&](std::size_t i) { return !dropped[i]; });
  return jobs;
}

}  // namespace mediabatch
