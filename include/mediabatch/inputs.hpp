#pragma once
// Finding inputs: walking directory arguments, reading stdin lists, sharding.
#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace mediabatch {

struct Input {
  std::string name;              // as named, or directory argument joined with the relative path
  std::filesystem::path base;    // the directory argument it came from; empty for a named file
  std::string relative;          // path relative to base (named files: the name as given)
  bool named = false;            // named on the command line or stdin (not found by a walk)
  bool exists = true;            // false for a named path that is not there
};

// Expands each argument: a directory is walked (into subfolders when recursive), in sorted
// order, skipping mediabatch's own temporary files; anything else is kept as named.
// Throws Error when a directory cannot be read.
std::vector<Input> expand_arguments(const std::vector<std::string>& args, bool recursive);

// Reads one input per line (or per NUL with nul_separated) from a stream.
std::vector<Input> read_input_list(std::istream& in, bool nul_separated);

// A stable 64-bit hash (FNV-1a) of the bytes of a name: the same on every machine.
std::uint64_t stable_hash(const std::string& bytes) noexcept;

struct Shard {
  unsigned index = 1;  // 1-based, as in --shard K/N
  unsigned count = 1;
  bool contains(const std::string& relative) const noexcept {
    return stable_hash(relative) % count == index - 1;
  }
};

// Parses "K/N" (1 <= K <= N); throws UsageError.
Shard parse_shard(const std::string& text);
// K and N from SLURM_ARRAY_TASK_ID/COUNT (minus SLURM_ARRAY_TASK_MIN), JOB_COMPLETION_INDEX
// with MEDIABATCH_SHARDS, or AWS_BATCH_JOB_ARRAY_INDEX/SIZE; throws UsageError when none is set.
Shard shard_from_env();

// True for the hidden temporary files that mediabatch writes before the rename.
bool is_temp_name(const std::string& filename) noexcept;

}  // namespace mediabatch
