#pragma once
// A planned batch of encoder jobs, compactly: 16 bytes per job beside its input's path below
// its directory argument, so that a batch of a million files needs tens of MB, not a
// Job (and its strings) per input. A Job is made when one is asked for. Built on one thread;
// after that, const access is thread-safe.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mediabatch/inputs.hpp"
#include "mediabatch/job.hpp"
#include "mediabatch/scheduler.hpp"

namespace mediabatch {

class JobList {
 public:
  // Outputs go beside each input, or under output_dir mirroring each walked input's path
  // below its directory argument (a named input goes straight under it).
  explicit JobList(std::optional<std::filesystem::path> output_dir = std::nullopt);

  // A job of `encoder` for this input (index: size() before the call).
  void add(const Input& in, std::uint64_t size, const Encoder* encoder);
  // A job that does not run: reported at once as failed or skipped, with the reason.
  void add_preset(const Input& in, std::uint64_t size, bool failed, std::string_view reason);
  // Keeps only the jobs for which keep(index) is true, numbering them again from 0.
  template <class Keep>
  void retain(Keep keep);

  std::size_t size() const noexcept { return entries_.size(); }
  Job job(std::size_t index) const;  // the job as the engine runs it
  std::string input(std::size_t index) const;
  std::filesystem::path output(std::size_t index) const;  // empty for a preset
  // Where `encoder` would write this input's output in this list.
  std::filesystem::path output_for(const Input& in, const Encoder& encoder) const;
  const Encoder* encoder(std::size_t index) const noexcept;
  bool preset(std::size_t index) const noexcept { return (entries_[index].flags & preset_flag) != 0; }
  bool named(std::size_t index) const noexcept { return (entries_[index].flags & named_flag) != 0; }
  std::uint64_t input_size(std::size_t index) const noexcept { return sizes_[index]; }

  // The jobs in the order they are to start: in input order, or (largest_first) the presets
  // first, to be reported at once, then the largest inputs first. Only the jobs for which
  // `pick` is true, if given. The list must outlive the source.
  std::unique_ptr<JobSource> source(bool largest_first, const std::vector<bool>* pick = nullptr) const;

 private:
  static constexpr std::uint8_t preset_flag = 1, failed_flag = 2, named_flag = 4;
  static constexpr std::uint16_t no_base = 0xffff;
  struct Entry {
    std::uint32_t name = 0;        // in names_: the relative path (named: the name as given)
    std::uint16_t base = no_base;  // in bases_
    std::uint8_t encoder = 0;      // in encoders_, plus 1 (0: none)
    std::uint8_t flags = 0;
  };
  Entry entry_for(const Input& in, const Encoder* encoder);
  std::filesystem::path output_of(const std::filesystem::path& input, std::string_view relative, bool named,
                                  const Encoder& encoder) const;

  std::optional<std::filesystem::path> output_dir_;
  // Deques: they grow a block at a time, never copying what they hold.
  std::deque<Entry> entries_;
  std::deque<std::uint64_t> sizes_;
  TextArena names_;
  std::vector<std::string> bases_;
  std::vector<const Encoder*> encoders_;
  std::map<std::size_t, std::string> reasons_;  // of the presets, which are few
};

// One encoder's jobs in a planned batch, in input order, as Encoder::plan() sees them: made
// one at a time from the list, which must outlive it.
class EncoderJobs {
 public:
  EncoderJobs(const JobList& jobs, const Encoder* encoder);
  std::size_t size() const noexcept { return indices_.size(); }
  std::string input(std::size_t k) const { return jobs_.input(indices_[k]); }

 private:
  const JobList& jobs_;
  std::vector<std::uint32_t> indices_;
};

template <class Keep>
void JobList::retain(Keep keep) {
  std::size_t to = 0;
  std::map<std::size_t, std::string> reasons;
  for (std::size_t from = 0; from < entries_.size(); ++from) {
    if (!keep(from)) continue;
    entries_[to] = entries_[from];
    sizes_[to] = sizes_[from];
    if (auto r = reasons_.find(from); r != reasons_.end()) reasons.emplace(to, std::move(r->second));
    ++to;
  }
  entries_.resize(to);
  entries_.shrink_to_fit();
  sizes_.resize(to);
  sizes_.shrink_to_fit();
  reasons_ = std::move(reasons);
}

}  // namespace mediabatch
