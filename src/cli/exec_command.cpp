#include <algorithm>
#include <deque>
#include <iostream>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/exec.hpp"

namespace mediabatch::cli {

namespace {

// How many inputs exec orders by size at a time.
constexpr std::size_t exec_window = 1024;

std::string quote_for_display(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`;&|<>(){}*?!#~") == std::string::npos) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// exec's jobs, made from the inputs as they are needed, a window at a time: a batch never
// holds a job per input. Named inputs start largest first within each window of `window`
// inputs; stdin's list starts in the order given.
class ExecJobs final : public JobSource {
 public:
  ExecJobs(InputStream inputs, bool largest_first, std::size_t window)
      : inputs_(std::move(inputs)), largest_first_(largest_first), window_(window) {}

  bool next(Job& job) override {
    if (ready_.empty()) fill();
    if (ready_.empty()) return false;
    job = std::move(ready_.front());
    ready_.pop_front();
    return true;
  }

 private:
  void fill() {
    for (Input in; ready_.size() < window_ && inputs_.next(in);) {
      Job j;
      j.index = next_index_++;
      std::error_code ec;
      if (in.exists) {
        const auto size = fs::file_size(in.name, ec);
        if (!ec) j.size = size;
      }
      j.input = std::move(in.name);
      ready_.push_back(std::move(j));
    }
    if (largest_first_)
      std::stable_sort(ready_.begin(), ready_.end(), [](const Job& a, const Job& b) { return a.size > b.size; });
  }

  InputStream inputs_;
  bool largest_first_;
  std::size_t window_;
  std::deque<Job> ready_;
  std::size_t next_index_ = 0;
};

// --watch: the files that arrived, in the order they did.
class ListJobs final : public JobSource {
 public:
  explicit ListJobs(std::deque<Job> jobs) : jobs_(std::move(jobs)) {}
  bool next(Job& job) override {
    if (jobs_.empty()) return false;
    job = std::move(jobs_.front());
    jobs_.pop_front();
    return true;
  }

 private:
  std::deque<Job> jobs_;
};

}  // namespace

int run_exec(const Common& c, const std::vector<std::string>& command, std::atomic<bool>& stop) {
  if (command.empty()) throw UsageError("exec: no command: give it after --, e.g. mediabatch exec -- gzip -k {}");
  InputStream inputs(c, true);
  if (c.dry_run) {
    std::size_t number = 0;
    for (Input in; inputs.next(in);) {
      std::string line;
      for (const auto& a : expand_placeholders(command, in.name, JobPlace{++number, 1}))
        line += (line.empty() ? "" : " ") + quote_for_display(a);
      std::cout << line << '\n';
    }
    return exit_ok;
  }
  BatchOptions options = batch_options(c, "exec");
  options.exec_command = command;
  options.largest_first = !c.inputs.empty();  // stdin inputs run in the order given
  const std::size_t count = inputs.count();
  const bool largest_first = options.largest_first && options.order == Order::completion;
  const InputStream filter(c, true);  // for --watch (the first stream is the batch's)
  Batch batch(std::make_unique<ExecJobs>(std::move(inputs), largest_first, exec_window), count, options);
  std::size_t number = count;  // {#} goes on counting
  const WatchBatch watch = [&](std::vector<Input> arrived) -> std::unique_ptr<Batch> {
    std::deque<Job> jobs;
    for (Input& in : arrived) {
      if (!filter.wanted(in)) continue;
      Job j;
      j.index = number++;
      std::error_code ec;
      const auto size = fs::file_size(in.name, ec);
      if (!ec) j.size = size;
      j.input = std::move(in.name);
      jobs.push_back(std::move(j));
    }
    if (jobs.empty()) return nullptr;
    const std::size_t n = jobs.size();
    return std::make_unique<Batch>(std::make_unique<ListJobs>(std::move(jobs)), n, options);
  };
  return run_batch(c, batch, true, stop, watch);
}

}  // namespace mediabatch::cli
