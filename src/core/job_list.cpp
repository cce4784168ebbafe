#include "mediabatch/job_list.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch {

namespace fs = std::filesystem;

JobList::JobList(std::optional<fs::path> output_dir) : output_dir_(std::move(output_dir)) {}

JobList::Entry JobList::entry_for(const Input& in, const Encoder* encoder) {
  Entry e;
  if (in.named) {
    e.flags |= named_flag;
    e.name = names_.add(in.name);
  } else {
    const std::string base = in.base.string();
    if (bases_.empty() || bases_.back() != base) {
      if (bases_.size() == no_base) throw Error("more than 65,535 directory arguments");
      bases_.push_back(base);
    }
    e.base = static_cast<std::uint16_t>(bases_.size() - 1);
    e.name = names_.add(in.relative);
  }
  if (encoder) {
    auto it = std::find(encoders_.begin(), encoders_.end(), encoder);
    if (it == encoders_.end()) {
      if (encoders_.size() == 255) throw Error("more than 255 encoders in one batch");
      it = encoders_.insert(encoders_.end(), encoder);
    }
    e.encoder = static_cast<std::uint8_t>(it - encoders_.begin() + 1);
  }
  return e;
}

void JobList::add(const Input& in, std::uint64_t size, const Encoder* encoder) {
  entries_.push_back(entry_for(in, encoder));
  sizes_.push_back(size);
}

void JobList::add_preset(const Input& in, std::uint64_t size, bool failed, std::string_view reason) {
  Entry e = entry_for(in, nullptr);
  e.flags |= preset_flag | (failed ? failed_flag : 0);
  reasons_.emplace(entries_.size(), std::string(reason));
  entries_.push_back(e);
  sizes_.push_back(size);
}

std::string JobList::input(std::size_t index) const {
  const Entry& e = entries_[index];
  if (e.flags & named_flag) return std::string(names_.at(e.name));
  return (fs::path(bases_[e.base]) / std::string(names_.at(e.name))).string();
}

const Encoder* JobList::encoder(std::size_t index) const noexcept {
  const Entry& e = entries_[index];
  return e.encoder ? encoders_[e.encoder - 1] : nullptr;
}

fs::path JobList::output_of(const fs::path& input, std::string_view relative, bool named,
                            const Encoder& encoder) const {
  const fs::path name = encoder.output_name(input);
  if (!output_dir_) return input.parent_path() / name;
  // Named files go straight under -o; walked ones keep their folder below the argument.
  const fs::path rel = named ? fs::path() : fs::path(std::string(relative)).parent_path();
  return *output_dir_ / rel / name;
}

fs::path JobList::output(std::size_t index) const {
  const Entry& e = entries_[index];
  const Encoder* enc = encoder(index);
  if (!enc || (e.flags & preset_flag)) return {};
  return output_of(input(index), names_.at(e.name), (e.flags & named_flag) != 0, *enc);
}

fs::path JobList::output_for(const Input& in, const Encoder& encoder) const {
  return output_of(in.name, in.relative, in.named, encoder);
}

Job JobList::job(std::size_t index) const {
  const Entry& e = entries_[index];
  Job j;
  j.index = index;
  j.input = input(index);
  j.size = sizes_[index];
  j.encoder = encoder(index);
  j.output = output(index);
  j.preset = (e.flags & preset_flag) != 0;
  j.preset_failed = (e.flags & failed_flag) != 0;
  if (j.preset) j.preset_reason = reasons_.at(index);
  return j;
}

EncoderJobs::EncoderJobs(const JobList& jobs, const Encoder* encoder) : jobs_(jobs) {
  for (std::size_t i = 0; i < jobs.size(); ++i)
    if (jobs.encoder(i) == encoder && !jobs.preset(i)) indices_.push_back(static_cast<std::uint32_t>(i));
}

namespace {

class ListSource final : public JobSource {
 public:
  ListSource(const JobList& jobs, std::vector<std::uint32_t> order) : jobs_(jobs), order_(std::move(order)) {}
  bool next(Job& job) override {
    if (next_ == order_.size()) return false;
    job = jobs_.job(order_[next_++]);
    return true;
  }

 private:
  const JobList& jobs_;
  std::vector<std::uint32_t> order_;
  std::size_t next_ = 0;
};

}  // namespace

std::unique_ptr<JobSource> JobList::source(bool largest_first, const std::vector<bool>* pick) const {
  if (size() > std::numeric_limits<std::uint32_t>::max()) throw Error("more than 4 billion inputs");
  std::vector<std::uint32_t> order;
  for (std::size_t i = 0; i < size(); ++i)
    if (!pick || (*pick)[i]) order.push_back(static_cast<std::uint32_t>(i));
  if (largest_first) {
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (preset(a) != preset(b)) return preset(a);
      return sizes_[a] > sizes_[b];
    });
  }
  return std::make_unique<ListSource>(*this, std::move(order));
}

}  // namespace mediabatch
