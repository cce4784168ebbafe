// The worker's side of crash containment (src/core/supervisor.hpp): the jobs come on stdin,
// "started" and each result go to descriptor 3, the user is never addressed directly.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/worker_protocol.hpp"
#include "mediabatch/engine.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace {

constexpr int kJournalFd = 3;

// The planned batch as the supervisor sent it, and which of its jobs to run.
std::vector<Job> read_jobs(const std::vector<Encoder*>& encoders, std::vector<bool>& run) {
  worker::RecordReader reader;
  std::vector<Job> jobs;
  char buf[65536];
  for (;;) {
    worker::Record rec;
    while (reader.next(rec)) {
      if (rec.type == worker::RecordType::end_of_jobs) return jobs;
      if (rec.type != worker::RecordType::job) throw Error("worker: unexpected record from the supervisor");
      const worker::JobRecord r = worker::decode_job(rec.payload);
      Job j;
      j.index = r.index;
      j.size = r.size;
      j.input = r.input;
      j.output = r.output;
      j.redo = r.redo;
      for (const Encoder* e : encoders)
        if (e->name() == r.encoder) j.encoder = e;
      if (!j.encoder) throw Error("worker: no encoder named " + r.encoder);
      jobs.push_back(std::move(j));
      run.push_back(r.run);
    }
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("worker: the supervisor closed the job list early");
    reader.append(buf, static_cast<std::size_t>(n));
  }
}

// Each result, the moment the batch reports it.
class JournalSink final : public BatchSink {
 public:
  explicit JournalSink(worker::RecordWriter& out) : out_(out) {}
  void result(const Result& r) override { out_.write(worker::encode_result(r)); }

 private:
  worker::RecordWriter& out_;
};

}  // namespace

bool is_worker_process() noexcept {
  const char* v = std::getenv("MEDIABATCH_WORKER");
  return v && *v;
}

int run_worker(const std::vector<Encoder*>& encoders, BatchOptions options) {
  // A supervisor that dies takes its worker along (as a second Ctrl-C would).
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() == 1) return 130;
  ::unsetenv("MEDIABATCH_WORKER");
  std::vector<bool> run;
  std::vector<Job> jobs = read_jobs(encoders, run);
  options.worker_argv.clear();
  options.order = Order::completion;  // the supervisor puts results in order

  Batch batch(std::move(jobs), encoders, options);  // plan() sees the whole batch
  std::vector<Job> mine;
  for (Job& j : batch.jobs_)
    if (run[&j - batch.jobs_.data()]) mine.push_back(std::move(j));
  batch.jobs_ = std::move(mine);
  batch.finish_ = false;
  worker::RecordWriter journal(kJournalFd);
  batch.on_start_ = [&](const Job& j) { journal.write(worker::encode_started(j.index)); };
  JournalSink sink(journal);
  std::atomic<bool> stop{false};
  const BatchOutcome outcome = batch.run({&sink}, stop);
  return outcome.interrupted ? 130 : 0;
}

}  // namespace mediabatch
