#include "cli/console.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "mediabatch/text.hpp"

namespace mediabatch::cli {

namespace {

double cpu_seconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
  }
  return total;
}

std::string clock_text(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

// "1:23 (at 14:05)": the time left and the wall-clock time the batch should end.
std::string eta_text(double seconds) {
  if (seconds < 0) return "-";
  const std::time_t at = std::time(nullptr) + static_cast<std::time_t>(seconds + 0.5);
  std::tm local{};
  localtime_r(&at, &local);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M", &local);
  return clock_text(seconds) + " (at " + clock + ")";
}

// A stream whose reader went away (`mediabatch ... | head -n 1`: EPIPE, SIGPIPE being ignored)
// is not written to again; the batch goes on and the report is still written.
bool closed(std::FILE* f) { return std::ferror(f) != 0; }

// A command's captured output: the part kept in memory, then the part spilled to a file,
// ending with a newline.
void write_all(std::FILE* f, const std::string& text, const std::shared_ptr<Fd>& spill) {
  if (closed(f)) return;
  std::fwrite(text.data(), 1, text.size(), f);
  char last = text.empty() ? '\n' : text.back();
  if (spill) {
    char buf[65536];
    off_t at = 0;
    for (ssize_t n; (n = ::pread(spill->get(), buf, sizeof buf, at)) > 0 && !closed(f); at += n) {
      std::fwrite(buf, 1, static_cast<std::size_t>(n), f);
      last = buf[n - 1];
    }
  }
  if (last != '\n') std::fputc('\n', f);
}

}  // namespace

Console::Console(ConsoleOptions options, std::size_t total)
    : options_(options), total_(total), start_(std::chrono::steady_clock::now()), cpu_start_(cpu_seconds()) {
  progress_on_ = options_.progress == ProgressMode::always ||
                 (options_.progress == ProgressMode::automatic && ::isatty(STDERR_FILENO) && !options_.quiet);
  if (!options_.sizes_in_start_order.empty()) estimate_.emplace(options_.sizes_in_start_order, options_.slots);
  options_.sizes_in_start_order = {};
}

void Console::clear_progress() {
  if (progress_shown_) {
    std::fputs("\r\033[K", stderr);
    progress_shown_ = false;
  }
}

void Console::draw_progress(bool force) {
  if (!progress_on_) return;
  const auto now = std::chrono::steady_clock::now();
  // Thousands of quick results a second would otherwise redraw the line thousands of times.
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::size_t done = ok_ + failed_ + skipped_ + interrupted_;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string note = options_.disk_guard ? options_.disk_guard->waiting_note() : std::string();
  if (watched_folders_ > 0) {  // no end to estimate
    std::fprintf(stderr, "\r\033[Kwatching %zu folder%s, %zu done, %zu failed", watched_folders_,
                 watched_folders_ == 1 ? "" : "s", done, failed_);
    if (done < total_) std::fprintf(stderr, ", %zu to go", total_ - done);
    if (!note.empty()) std::fprintf(stderr, "; %s", note.c_str());
    std::fflush(stderr);
    progress_shown_ = true;
    return;
  }
  const std::string eta = done < total_ ? eta_text(remaining_seconds(done, elapsed)) : "-";
  std::fprintf(stderr, "\r\033[K[%zu/%zu] %zu failed, elapsed %s, ETA %s%s%s", done, total_, failed_,
               clock_text(elapsed).c_str(), eta.c_str(), note.empty() ? "" : "; ", note.c_str());
  std::fflush(stderr);
  progress_shown_ = true;
}

void Console::tick() { draw_progress(true); }

void Console::watching(std::size_t folders) {
  if (watched_folders_ == 0 && !progress_on_ && !options_.quiet)
    std::fprintf(stderr, "mediabatch: watching %zu folder%s for new files (Ctrl-C ends)\n", folders,
                 folders == 1 ? "" : "s");
  watched_folders_ = folders;
  draw_progress(true);
}

void Console::add_jobs(std::size_t n) {
  total_ += n;
  estimate_.reset();  // the first batch's estimate knows nothing of these
}

double Console::remaining_seconds(std::size_t done, double elapsed) const {
  if (estimate_) return estimate_->remaining(elapsed);
  return done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : -1;
}

void Console::result(const Result& r) {
  if (estimate_) {
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const bool converted = r.status == Status::ok;
    estimate_->finished(r.bytes_in, r.seconds, converted, now);
  }
  if (r.cancelled) ++interrupted_;
  else if (r.status == Status::ok) ++ok_;
  else if (r.status == Status::failed) ++failed_;
  else ++skipped_;
  if (r.status == Status::ok && !r.warning.empty()) ++warned_;
  if (r.verified) ++verified_;
  clear_progress();
  if (options_.exec) {
    // The command's own output, whole, then (for failures) why.
    write_all(stdout, r.out_text, r.out_spill);
    std::fflush(stdout);
    write_all(stderr, r.err_text, r.err_spill);
    if (r.status == Status::failed)
      std::fprintf(stderr, "mediabatch: failed: %s: %s\n", printable(r.input).c_str(), printable(r.error).c_str());
  } else if (r.status == Status::failed && options_.quiet) {
    std::fprintf(stderr, "failed  %s: %s\n", printable(r.input).c_str(), printable(r.error).c_str());
  } else if (!options_.quiet && !closed(stdout)) {
    // Names and reasons come from outside: a name may hold a newline or an ANSI escape.
    const std::string input = printable(r.input), output = printable(r.output);
    std::string more = r.more_outputs.empty() ? "" : " (+" + std::to_string(r.more_outputs.size()) + " more)";
    if (r.status == Status::ok && r.seconds < 1)
      std::fprintf(stdout, "ok      %s -> %s%s (%.0f ms)", input.c_str(), output.c_str(), more.c_str(), r.seconds * 1000);
    else if (r.status == Status::ok)
      std::fprintf(stdout, "ok      %s -> %s%s (%.2f s)", input.c_str(), output.c_str(), more.c_str(), r.seconds);
    else
      std::fprintf(stdout, "%-7s %s: %s", to_string(r.status), input.c_str(), printable(r.error).c_str());
    if (!r.warning.empty()) std::fprintf(stdout, " [warning: %s]", printable(r.warning).c_str());
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  draw_progress(false);
}

Console::Totals Console::totals() const {
  Totals t;
  t.ok = ok_;
  t.failed = failed_;
  t.skipped = skipped_;
  t.warned = warned_;
  t.interrupted = interrupted_;
  t.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // A delta: a shell that exec'd us passes on the CPU time of the children it already reaped.
  t.cpu_seconds = cpu_seconds() - cpu_start_;
  return t;
}

void Console::summary(bool interrupted, bool drained, std::size_t not_started) {
  clear_progress();
  if (options_.quiet) return;
  const Totals t = totals();
  const double wall = t.wall_seconds, cpu = t.cpu_seconds;
  std::fprintf(stderr, "mediabatch: %zu ok, %zu failed, %zu skipped", ok_, failed_, skipped_);
  // Converted, but with something to read in their results (damage in a video, a WAV cut short).
  if (warned_ > 0) std::fprintf(stderr, ", %zu with warnings", warned_);
  if (verified_ > 0) std::fprintf(stderr, ", %zu verified", verified_);
  if (interrupted) std::fprintf(stderr, ", %zu interrupted, %zu not started", interrupted_, not_started);
  std::fprintf(stderr, "; %.2f s wall, %.2f s CPU, %.2fx parallel\n", wall, cpu, wall > 0 ? cpu / wall : 0.0);
  if (drained && options_.exec)
    std::fprintf(stderr, "mediabatch: drained: %zu not started; exec keeps no record of what ran: give those inputs "
                 "again to run them\n", not_started);
  else if (drained)
    std::fprintf(stderr,
                 "mediabatch: drained: %zu not started; run the same command again to convert them (the files "
                 "done are up to date and skipped)\n",
                 not_started);
}

}  // namespace mediabatch::cli
