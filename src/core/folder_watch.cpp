#include "core/folder_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "core/signals.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t dir_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_DELETE |
                                     IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string join(const std::string& arg, const std::string& relative) {
  return relative.empty() ? arg : (fs::path(arg) / relative).string();
}

std::string watch_limit_hint() {
  std::ifstream f("/proc/sys/fs/inotify/max_user_watches");
  long limit = 0;
  if (f >> limit) return " (the limit is fs.inotify.max_user_watches = " + std::to_string(limit) + ")";
  return {};
}

}  // namespace

FolderWatch::FolderWatch(const std::vector<std::string>& folders, bool recursive, double settle_seconds)
    : args_(folders),
      recursive_(recursive),
      settle_(static_cast<long>(settle_seconds * 1000 + 0.5)),
      inotify_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!inotify_) throw Error("--watch: inotify: " + errno_text(errno));
  if (!wake_) throw Error("--watch: eventfd: " + errno_text(errno));
  for (std::size_t i = 0; i < args_.size(); ++i) add_tree(i, "", false);
  set_wake_fd(wake_.get());
}

FolderWatch::~FolderWatch() { set_wake_fd(-1); }

// Watches a folder (and with recursive_ the folders below it); take_files: a folder that
// appeared while watching, whose files are new too (they settle first: a folder moved in
// holds complete files, one made by a copy may still be filling).
void FolderWatch::add_tree(std::size_t arg, const std::string& relative, bool take_files) {
  const std::string path = join(args_[arg], relative);
  const int wd = ::inotify_add_watch(inotify_.get(), path.c_str(), dir_events);
  if (wd < 0) {
    const int e = errno;
    const std::string why = "--watch: cannot watch " + path + ": " + errno_text(e) + (e == ENOSPC ? watch_limit_hint() : "");
    if (relative.empty()) throw Error(why);
    spdlog::warn("{}", why);  // a subfolder: the rest is still watched
    return;
  }
  dirs_[wd] = Dir{arg, relative};
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_temp_name(name)) continue;
    std::error_code kind_ec;
    if (it->is_directory(kind_ec) && !it->is_symlink(kind_ec)) {
      if (recursive_) add_tree(arg, relative + name + "/", take_files);
    } else if (take_files && it->is_regular_file(kind_ec)) {
      settle(it->path().string(), arg, relative + name);
    }
  }
}

void FolderWatch::make_ready(const std::string& path, std::size_t arg, const std::string& relative) {
  settling_.erase(path);
  for (const Input& in : ready_)
    if (in.name == path) return;
  Input in;
  in.name = path;
  in.base = args_[arg];
  in.relative = relative;
  ready_.push_back(std::move(in));
}

// A file seen changing: ready once its size and mtime stay as they are now for the settle time.
void FolderWatch::settle(const std::string& path, std::size_t arg, const std::string& relative) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    settling_.erase(path);
    return;
  }
  settling_[path] = Settling{arg, relative, static_cast<std::int64_t>(st.st_size),
                             static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                             std::chrono::steady_clock::now() + settle_};
}

void FolderWatch::check_settling() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> due;
  for (const auto& [path, s] : settling_)
    if (s.due <= now) due.push_back(path);
  for (const std::string& path : due) {
    const Settling s = settling_[path];
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      settling_.erase(path);
      continue;
    }
    const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (st.st_size == s.size && mtime == s.mtime_ns) make_ready(path, s.arg, s.relative);
    else settle(path, s.arg, s.relative);
  }
}

int FolderWatch::timeout_ms() const {
  if (settling_.empty()) return -1;  // nothing settling: sleep until an event or a signal
  auto next = settling_.begin()->second.due;
  for (const auto& [path, s] : settling_) next = std::min(next, s.due);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, INT_MAX));
}

void FolderWatch::read_events() {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: all read
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were lost: every file in every folder may be new. Those up to date are
        // skipped when they run.
        spdlog::warn("--watch: too many events at once; looking at every watched file again");
        const std::map<int, Dir> dirs = dirs_;
        for (const auto& [wd, d] : dirs) {
          std::error_code ec;
          for (fs::directory_iterator it(join(args_[d.arg], d.relative), ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code kind_ec;
            const std::string name = it->path().filename().string();
            if (!is_temp_name(name) && it->is_regular_file(kind_ec)) settle(it->path().string(), d.arg, d.relative + name);
          }
        }
        continue;
      }
      const auto dir = dirs_.find(ev->wd);
      if (dir == dirs_.end()) continue;
      const Dir d = dir->second;
      if (ev->mask & IN_IGNORED) {  // the folder is gone (deleted, moved away, unmounted)
        dirs_.erase(dir);
        continue;
      }
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (d.relative.empty()) spdlog::warn("--watch: {} is gone; no longer watching it", args_[d.arg]);
        if (ev->mask & IN_MOVE_SELF) ::inotify_rm_watch(inotify_.get(), ev->wd);
        continue;
      }
      if (ev->len == 0) continue;
      const std::string name(ev->name);
      if (name.empty() || is_temp_name(name)) continue;
      const std::string relative = d.relative + name;
      const std::string path = join(args_[d.arg], relative);
      if (ev->mask & IN_ISDIR) {
        if (recursive_ && (ev->mask & (IN_CREATE | IN_MOVED_TO))) add_tree(d.arg, relative + "/", true);
        continue;
      }
      if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        settling_.erase(path);
        ready_.erase(std::remove_if(ready_.begin(), ready_.end(), [&](const Input& in) { return in.name == path; }),
                     ready_.end());
      } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) make_ready(path, d.arg, relative);
      } else if (ev->mask & (IN_CREATE | IN_MODIFY)) {
        settle(path, d.arg, relative);
      }
    }
  }
}

std::vector<Input> FolderWatch::wait(const std::atomic<bool>& stop) {
  while (ready_.empty()) {
    if (stop.load() || drain_requested() || dirs_.empty()) return {};
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout_ms());
    if (n < 0 && errno != EINTR) throw Error("--watch: poll: " + errno_text(errno));
    if (fds[1].revents & POLLIN) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t r = ::read(wake_.get(), &count, sizeof count);
    }
    if (fds[0].revents & POLLIN) read_events();
    check_settling();
  }
  std::vector<Input> out;
  out.swap(ready_);
  return out;
}

}  // namespace mediabatch
