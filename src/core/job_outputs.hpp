#pragma once
// The engine's side of one job's outputs: the temporary files an encoder writes through its
// EncodeContext, their final names, and the warnings it gave. run_job() commits them all (each
// renamed over its final name) or none. Used by one thread at a time (verify() runs the
// checks on threads of its own and waits for them).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mediabatch {

class JobOutputs {
 public:
  using Check = std::function<void(const std::filesystem::path&)>;

  explicit JobOutputs(std::filesystem::path primary, bool verify = false)
      : primary_(std::move(primary)), verify_(verify) {}
  ~JobOutputs() { discard(); }  // whatever was not committed is removed
  JobOutputs(const JobOutputs&) = delete;
  JobOutputs& operator=(const JobOutputs&) = delete;

  const std::filesystem::path& primary() const noexcept { return primary_; }
  const std::filesystem::path& primary_temp();
  std::filesystem::path add(const std::filesystem::path& final_path);
  void warn(std::string message);

  // --verify: the encoder's check of one temporary file; verify() runs them all (each output
  // must have one), several at once on up to `threads` threads, and throws Error("verify: ...")
  // for the first in output order that failed.
  bool verifying() const noexcept { return verify_; }
  void set_check(const std::filesystem::path& temp, Check check);
  void verify(int threads);

  // Renames every temporary file to its final name, all or none: when one is missing, a
  // directory is at its final name, or a rename fails, the ones already renamed are removed
  // again and Error (naming the final path) is thrown. With `sync`, each file is fsynced before
  // its rename and each folder after them (a power cut then loses no output reported ok).
  // Returns the bytes written.
  std::uint64_t commit(bool sync);
  void discard() noexcept;

  // `text` with each temporary path (and temporary file name) replaced by its final one.
  std::string with_final_names(std::string text) const;

  const std::string& warnings() const noexcept { return warnings_; }
  // The final paths, primary first (when it was written).
  const std::vector<std::filesystem::path>& finals() const noexcept { return finals_; }

 private:
  std::filesystem::path primary_;
  std::vector<std::filesystem::path> temps_;  // parallel to finals_
  std::vector<std::filesystem::path> finals_;
  std::map<std::filesystem::path, Check> checks_;  // by temporary path
  bool verify_;
  std::string warnings_;
  bool primary_added_ = false;
};

}  // namespace mediabatch
