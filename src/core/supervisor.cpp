// The supervising side of crash containment (see supervisor.hpp). The worker is forked into
// a process group of its own, so Ctrl-C reaches it once, through us.
#include "core/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/cleanup.hpp"
#include "core/job_set.hpp"
#include "core/signals.hpp"
#include "core/worker.hpp"
#include "core/worker_protocol.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/temp_files.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace {

// Results in the order asked for: as they come, or held until every earlier job is reported.
class Emitter {
 public:
  Emitter(Order order, ResultFeed& feed) : order_(order), feed_(feed) {}

  void emit(Result&& r) {
    if (order_ == Order::completion) return feed_(std::move(r));
    held_.emplace(r.index, std::move(r));
    release();
  }
  // A job that will not be reported (never started): later ones need not wait for it.
  void pass(std::size_t index) {
    passed_.insert(index);
    release();
  }

 private:
  void release() {
    for (;;) {
      if (passed_.erase(next_)) {
        ++next_;
      } else if (auto it = held_.find(next_); it != held_.end()) {
        Result r = std::move(it->second);
        held_.erase(it);
        ++next_;
        feed_(std::move(r));
      } else {
        return;
      }
    }
  }

  Order order_;
  ResultFeed& feed_;
  std::map<std::size_t, Result> held_;
  std::set<std::size_t> passed_;
  std::size_t next_ = 0;
};

Result preset_result(const Job& job) {
  Result r;
  r.index = job.index;
  r.input = job.input;
  r.output = job.output.string();
  r.status = job.preset_failed ? Status::failed : Status::skipped;
  r.error = job.preset_reason;
  r.bytes_in = job.size;
  return r;
}

// How one worker ended.
struct WorkerEnd {
  std::set<std::size_t> running;  // started and not reported when it ended
  bool crashed = false;
  std::string reason;             // "crashed: SIGABRT (the last line it wrote to stderr)"
};

// Which jobs a worker has started: a byte per job in memory shared with it, so that starting
// a job costs the worker no system call and the supervisor no wake-up. Read once it is dead.
class StartMarks {
 public:
  explicit StartMarks(std::size_t jobs) : size_(std::max<std::size_t>(jobs, 1)) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw Error("starting a worker: " + errno_text(errno));
    marks_ = static_cast<unsigned char*>(p);
  }
  ~StartMarks() { ::munmap(marks_, size_); }
  StartMarks(const StartMarks&) = delete;
  StartMarks& operator=(const StartMarks&) = delete;
  volatile unsigned char* data() noexcept { return marks_; }
  bool started(std::size_t index) const noexcept { return marks_[index] != 0; }

 private:
  std::size_t size_;
  unsigned char* marks_;
};

// One worker process: its pid, our ends of its two channels, and its start marks.
struct WorkerProcess {
  pid_t pid = -1;
  Fd journal;  // its results
  Fd errors;   // its stderr
  std::unique_ptr<StartMarks> marks;
};

// Forks the worker: it shares what this process has loaded and planned (no second start-up),
// and has no thread but the forking one, which runs its jobs and then _exits.
WorkerProcess fork_worker(const JobList& jobs, const JobSet& run, const std::set<std::size_t>& redo,
                          const BatchOptions& options) {
  int journal[2], errors[2];
  if (::pipe2(journal, O_CLOEXEC) != 0) throw Error("starting a worker: " + errno_text(errno));
  if (::pipe2(errors, O_CLOEXEC) != 0) {
    ::close(journal[0]);
    ::close(journal[1]);
    throw Error("starting a worker: " + errno_text(errno));
  }
  WorkerProcess w;
  w.journal.reset(journal[0]);
  w.errors.reset(errors[0]);
  w.marks = std::make_unique<StartMarks>(jobs.size());
  Fd child_journal(journal[1]), child_errors(errors[1]);
  const pid_t parent = ::getpid();
  std::fflush(nullptr);  // nothing buffered may be written twice
  w.pid = ::fork();
  if (w.pid < 0) throw Error("starting a worker: " + errno_text(errno));
  if (w.pid == 0) {
    // Its own process group: Ctrl-C reaches it once, through the supervisor. A supervisor
    // that dies takes it along, as a second Ctrl-C would.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(130);
    ::dup2(child_errors.get(), STDERR_FILENO);
    ::_exit(worker_main(jobs, run, redo, options, w.marks->data(), child_journal.get()));
  }
  ::setpgid(w.pid, w.pid);
  return w;
}

// Reads the worker's journal and stderr until both close, forwarding its stderr to ours and
// its results to `emit`; Ctrl-C is passed on to it once.
class WorkerWatch {
 public:
  WorkerWatch(WorkerProcess& w, const JobSet& run, Emitter& emit, ResultFeed& feed, SignalFd& signals,
              std::atomic<bool>& stop, JobSet& reported)
      : w_(w), run_(run), emit_(emit), feed_(feed), signals_(signals), stop_(stop), reported_(reported),
        mine_(run.bits().size()) {}

  WorkerEnd run() {
    bool journal_open = true, errors_open = true, stop_sent = false, drain_sent = false;
    while (journal_open || errors_open) {
      if (stop_.load() && !stop_sent) {
        ::kill(w_.pid, SIGTERM);
        stop_sent = true;
      }
      if (drain_requested() && !drain_sent) {  // the worker's scheduler starts nothing more
        ::kill(w_.pid, SIGUSR1);
        drain_sent = true;
      }
      pollfd fds[3] = {{journal_open ? w_.journal.get() : -1, POLLIN, 0},
                       {errors_open ? w_.errors.get() : -1, POLLIN, 0},
                       {signals_.fd(), POLLIN, 0}};
      const int pr = ::poll(fds, 3, 250);
      if (pr < 0 && errno != EINTR) throw Error("watching the worker: " + errno_text(errno));
      if (pr == 0) feed_.tick();
      if (fds[2].revents & POLLIN) signals_.handle();
      if (journal_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) journal_open = read_journal();
      if (errors_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) errors_open = read_errors();
    }
    if (!partial_line_.empty()) forward_line(partial_line_);
    return ended();
  }

 private:
  bool read_journal() {
    char buf[65536];
    const ssize_t n = ::read(w_.journal.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    reader_.append(buf, static_cast<std::size_t>(n));
    worker::Record rec;
    while (reader_.next(rec)) {
      if (rec.type != worker::RecordType::result) throw Error("worker protocol: unknown record");
      Result r = worker::decode_result(rec.payload);
      mine_.insert(r.index);
      reported_.insert(r.index);
      emit_.emit(std::move(r));
    }
    return true;
  }

  bool read_errors() {
    char buf[8192];
    const ssize_t n = ::read(w_.errors.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;
    partial_line_.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = partial_line_.find('\n')) != std::string::npos;) {
      forward_line(partial_line_.substr(0, nl));
      partial_line_.erase(0, nl + 1);
    }
    return true;
  }

  // The worker never talks to the user itself: what a library writes to stderr is passed on,
  // and its last line names the cause when the worker dies.
  void forward_line(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
    if (line.find_first_not_of(" \t\r") != std::string::npos) last_line_ = line;
  }

  WorkerEnd ended() {
    int status = 0;
    while (::waitpid(w_.pid, &status, 0) < 0 && errno == EINTR) {
    }
    WorkerEnd end;
    run_.for_each([&](std::size_t i) {
      if (w_.marks->started(i) && !mine_.contains(i)) end.running.insert(i);
    });
    const std::string said = last_line_.empty() ? "" : " (" + last_line_ + ")";
    if (WIFSIGNALED(status) && !(stop_.load() && WTERMSIG(status) == SIGTERM)) {
      end.crashed = true;
      const int sig = WTERMSIG(status);
      end.reason = "crashed: " + signal_text(sig) + (sig == SIGKILL && said.empty() ? " (out of memory?)" : said);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 130) {
      end.crashed = true;
      end.reason = "crashed: the worker exited with code " + std::to_string(WEXITSTATUS(status)) + said;
    }
    return end;
  }

  WorkerProcess& w_;
  const JobSet& run_;
  Emitter& emit_;
  ResultFeed& feed_;
  SignalFd& signals_;
  std::atomic<bool>& stop_;
  JobSet& reported_;
  worker::RecordReader reader_;
  JobSet mine_;  // the results this worker reported
  std::string partial_line_, last_line_;
};

// A dead worker's temporary files beside the outputs it was writing.
void remove_temporaries_of(pid_t pid, const JobList& jobs, const std::set<std::size_t>& running) {
  std::set<fs::path> folders;
  for (std::size_t i : running) {
    const fs::path folder = jobs.output(i).parent_path();
    folders.insert(folder.empty() ? fs::path(".") : folder);
  }
  mediabatch::remove_temporaries_of(pid, folders);
}

// Runs the jobs marked in `run` in one worker; what it reported is added to `reported`.
WorkerEnd run_one_worker(const JobList& jobs, const JobSet& run, const std::set<std::size_t>& redo,
                         const BatchOptions& options, Emitter& emit, ResultFeed& feed, SignalFd& signals,
                         std::atomic<bool>& stop, JobSet& reported) {
  WorkerProcess w = fork_worker(jobs, run, redo, options);
  cleanup::add_worker(w.pid);
  WorkerEnd end = WorkerWatch(w, run, emit, feed, signals, stop, reported).run();
  cleanup::remove_worker(w.pid);
  if (end.crashed) remove_temporaries_of(w.pid, jobs, end.running);
  return end;
}

Result crashed_result(const Job& job, const std::string& reason) {
  Result r = preset_result(job);
  r.status = Status::failed;
  r.error = reason;
  r.command = std::string(job.encoder->name());
  return r;
}

}  // namespace

std::size_t run_supervised(const JobList& jobs, const BatchOptions& options, ResultFeed& feed,
                           std::atomic<bool>& stop, const std::vector<std::size_t>* only) {
  const SignalWatcher::Pause no_thread_while_forking;
  Emitter emit(only ? Order::completion : options.order, feed);
  SignalFd signals(stop);
  JobSet pending(jobs.size());
  if (only) {
    for (std::size_t i : *only) pending.insert(i);
  } else {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (jobs.preset(i)) emit.emit(preset_result(jobs.job(i)));
      else pending.insert(i);
    }
  }
  JobSet reported(jobs.size());
  std::set<std::size_t> redo;  // every suspect: it may have written its output before the crash
  int crashes_without_suspect = 0;
  auto forget_reported = [&] { reported.for_each([&](std::size_t i) { pending.erase(i); }); };
  while (!pending.empty() && !stop.load() && !drain_requested()) {
    const WorkerEnd end = run_one_worker(jobs, pending, redo, options, emit, feed, signals, stop, reported);
    forget_reported();
    if (!end.crashed) {
      if (stop.load() || drain_requested()) break;
      if (pending.empty()) break;
      throw Error("the worker ended without reporting " + std::to_string(pending.size()) + " files");
    }
    if (end.running.empty() && ++crashes_without_suspect > 2) {
      pending.for_each([&](std::size_t i) { emit.emit(crashed_result(jobs.job(i), end.reason)); });
      pending = JobSet(jobs.size());
    }
    redo.insert(end.running.begin(), end.running.end());
    // With one suspect the cause is known; with several, each runs alone to find it. A
    // suspect that neither crashes alone nor reports stays pending.
    for (std::size_t suspect : end.running) {
      if (stop.load() || drain_requested()) break;
      WorkerEnd alone = end;
      if (end.running.size() > 1)
        alone = run_one_worker(jobs, JobSet(jobs.size(), suspect), redo, options, emit, feed, signals, stop, reported);
      if (alone.crashed && !reported.contains(suspect)) {
        emit.emit(crashed_result(jobs.job(suspect), alone.reason));
        reported.insert(suspect);
      }
    }
    forget_reported();
  }
  pending.for_each([&](std::size_t i) { emit.pass(i); });
  return pending.size();
}

}  // namespace mediabatch
