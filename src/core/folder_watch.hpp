#pragma once
// --watch: the files that arrive in folders, each once it is complete. inotify tells when a
// file was closed after writing (IN_CLOSE_WRITE) or moved in (IN_MOVED_TO): it is ready then.
// A file created or written to and still open is ready once its size and mtime have not
// changed for the settle time. With `recursive`, folders created or moved in later are
// watched too, and the files already in them are taken after the settle time. The caller
// sleeps in poll() while nothing arrives: no timer runs unless a file is settling.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mediabatch/file_io.hpp"
#include "mediabatch/inputs.hpp"

namespace mediabatch {

class FolderWatch {
 public:
  // Watches each folder (with recursive, each folder below it). Throws Error when one cannot
  // be watched (naming it, and the inotify limit when that is why).
  FolderWatch(const std::vector<std::string>& folders, bool recursive, double settle_seconds);
  ~FolderWatch();
  FolderWatch(const FolderWatch&) = delete;
  FolderWatch& operator=(const FolderWatch&) = delete;

  // Folders watched now.
  std::size_t folders() const noexcept { return dirs_.size(); }

  // Waits (in the kernel) until a file is ready and returns the ready ones, as inputs found
  // by a walk of their folder argument; empty once `stop` is set or a drain is asked for
  // (the signal that sets them wakes this up) or no folder is left to watch.
  std::vector<Input> wait(const std::atomic<bool>& stop);

 private:
  struct Dir {
    std::size_t arg;       // in args_
    std::string relative;  // below the argument, ending in '/' (empty: the argument itself)
  };
  struct Settling {
    std::size_t arg;
    std::string relative;
    std::int64_t size;
    std::int64_t mtime_ns;
    std::chrono::steady_clock::time_point due;
  };
  void add_tree(std::size_t arg, const std::string& relative, bool take_files);
  void read_events();
  void settle(const std::string& path, std::size_t arg, const std::string& relative);
  void make_ready(const std::string& path, std::size_t arg, const std::string& relative);
  void check_settling();
  int timeout_ms() const;

  std::vector<std::string> args_;
  bool recursive_;
  std::chrono::milliseconds settle_;
  Fd inotify_;
  Fd wake_;
  std::map<int, Dir> dirs_;                   // by watch descriptor
  std::map<std::string, Settling> settling_;  // by path
  std::vector<Input> ready_;
};

}  // namespace mediabatch
