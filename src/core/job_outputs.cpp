#include "core/job_outputs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <exception>
#include <set>
#include <system_error>

#include "core/cleanup.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/parallel.hpp"
#include "mediabatch/text.hpp"
#include "mediabatch/temp_files.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned long> temp_counter{0};

fs::path temp_path_for(const fs::path& final_path) {
  return temp_path_beside(final_path, std::to_string(temp_counter.fetch_add(1)));
}

}  // namespace

const fs::path& JobOutputs::primary_temp() {
  if (!primary_added_) {
    primary_added_ = true;
    temps_.insert(temps_.begin(), temp_path_for(primary_));
    finals_.insert(finals_.begin(), primary_);
    cleanup::add_temp(temps_.front());
  }
  return temps_.front();
}

fs::path JobOutputs::add(const fs::path& final_path) {
  for (const auto& f : finals_)
    if (f == final_path) throw Error("output " + final_path.string() + " is written twice by one job");
  temps_.push_back(temp_path_for(final_path));
  finals_.push_back(final_path);
  cleanup::add_temp(temps_.back());
  return temps_.back();
}

void JobOutputs::warn(std::string message) {
  if (!warnings_.empty()) warnings_ += "; ";
  warnings_ += message;
}

namespace {

// Flushes a file's (or a folder's) data and metadata to the disk.
void sync_path(const fs::path& path, int flags) {
  Fd fd(::open(path.c_str(), flags | O_RDONLY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw_system_error("fsync " + path.string(), errno);
}

}  // namespace

std::uint64_t JobOutputs::commit(bool sync) {
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    std::error_code ec;
    auto size = fs::file_size(temps_[i], ec);
    if (ec) throw Error("output " + finals_[i].string() + " was not written: " + ec.message());
    if (fs::is_directory(fs::symlink_status(finals_[i], ec))) throw Error(finals_[i].string() + " is a directory");
    bytes += size;
    if (sync) sync_path(temps_[i], 0);
  }
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    std::error_code ec;
    fs::rename(temps_[i], finals_[i], ec);
    if (ec) {
      const int error = ec.value();
      // None of the job's outputs stay: a re-run would take the ones left as done. (discard()
      // then finds the renamed temporaries gone, which is harmless.)
      for (std::size_t k = 0; k < i; ++k) fs::remove(finals_[k], ec);
      throw_system_error("renaming to " + finals_[i].string(), error);
    }
    cleanup::remove_temp(temps_[i]);
  }
  // The renames are in the folders' entries: without this a power cut may undo them.
  if (sync) {
    std::set<fs::path> folders;
    for (const auto& f : finals_) folders.insert(f.has_parent_path() ? f.parent_path() : fs::path("."));
    for (const auto& folder : folders) sync_path(folder, O_DIRECTORY);
  }
  temps_.clear();
  return bytes;
}

void JobOutputs::set_check(const fs::path& temp, Check check) {
  if (std::find(temps_.begin(), temps_.end(), temp) == temps_.end())
    throw Error("verify: " + temp.string() + " is not an output of this job");
  checks_[temp] = std::move(check);
}

namespace {

// For the tests of --verify only: MEDIABATCH_TEST_CORRUPT_OUTPUT=NAME:flip|truncate damages
// every output whose final name holds NAME after it is written and before it is checked, as
// a failing disk, a bad cable or a bug would: `flip` inverts 64 bytes in the middle,
// `truncate` cuts the file to 60% of its size.
void damage_for_tests(const fs::path& temp, const fs::path& final_path) {
  static const char* const rule = std::getenv("MEDIABATCH_TEST_CORRUPT_OUTPUT");
  if (!rule) return;
  const std::string text(rule);
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || final_path.filename().string().find(text.substr(0, colon)) == std::string::npos)
    return;
  std::error_code ec;
  const auto size = fs::file_size(temp, ec);
  if (ec || size == 0) return;
  if (text.substr(colon + 1) == "truncate") {
    fs::resize_file(temp, size * 6 / 10, ec);
    return;
  }
  Fd fd(::open(temp.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return;
  const off_t at = static_cast<off_t>(size / 2);
  unsigned char bytes[64];
  const ssize_t n = ::pread(fd.get(), bytes, sizeof bytes, at);
  for (ssize_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(~bytes[i]);
  if (n <= 0) return;
  [[maybe_unused]] const ssize_t w = ::pwrite(fd.get(), bytes, static_cast<std::size_t>(n), at);
}

}  // namespace

void JobOutputs::verify(int threads) {
  std::vector<const Check*> checks(temps_.size());
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    damage_for_tests(temps_[i], finals_[i]);
    const auto check = checks_.find(temps_[i]);
    if (check == checks_.end()) throw Error("verify: no check was made of " + finals_[i].string());
    checks[i] = &check->second;
  }
  // Each check on one thread; the outputs of one job (a disc's tracks, a series' frames) share
  // out the job's threads. Every output is checked; the first failure in output order is told.
  std::vector<std::exception_ptr> failures(checks.size());
  std::atomic<std::size_t> next{0};
  run_workers(std::min(std::max(threads, 1), static_cast<int>(checks.size())), [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < checks.size();) {
      try {
        (*checks[i])(temps_[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  });
  for (std::size_t i = 0; i < failures.size(); ++i) {
    if (!failures[i]) continue;
    try {
      std::rethrow_exception(failures[i]);
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      const std::string what = with_final_names(e.what());
      throw Error(temps_.size() > 1 ? "verify: " + finals_[i].filename().string() + ": " + what : "verify: " + what);
    }
  }
}

std::string JobOutputs::with_final_names(std::string text) const {
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    if (from.empty()) return;
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  };
  for (std::size_t i = 0; i < temps_.size(); ++i) replace_all(temps_[i].string(), finals_[i].string());
  for (std::size_t i = 0; i < temps_.size(); ++i)
    replace_all(temps_[i].filename().string(), finals_[i].filename().string());
  return text;
}

void JobOutputs::discard() noexcept {
  for (const auto& t : temps_) {
    std::error_code ec;
    fs::remove(t, ec);
    cleanup::remove_temp(t);
  }
  temps_.clear();
}

}  // namespace mediabatch
