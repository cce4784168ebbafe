#include "core/job_outputs.hpp"

#include <unistd.h>

#include <atomic>
#include <system_error>

#include "core/cleanup.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

namespace {

std::atomic<unsigned long> temp_counter{0};

// ".NAME.mbtmp<pid>-<n><ext>": hidden, in the destination folder (so the rename is atomic),
// and with the real extension, since libraries pick the format from it.
fs::path temp_path_for(const fs::path& final_path) {
  std::string name = "." + final_path.stem().string() + ".mbtmp" + std::to_string(::getpid()) + "-" +
                     std::to_string(temp_counter.fetch_add(1)) + final_path.extension().string();
  return final_path.parent_path() / name;
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

std::uint64_t JobOutputs::commit() {
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    std::error_code ec;
    auto size = fs::file_size(temps_[i], ec);
    if (ec) throw Error("output " + finals_[i].string() + " was not written: " + ec.message());
    bytes += size;
  }
  for (std::size_t i = 0; i < temps_.size(); ++i) {
    std::error_code ec;
    fs::rename(temps_[i], finals_[i], ec);
    if (ec) throw Error("renaming to " + finals_[i].string() + ": " + ec.message());
    cleanup::remove_temp(temps_[i]);
  }
  temps_.clear();
  return bytes;
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
