#pragma once
// Finding inputs: walking directory arguments, reading stdin lists, sharding.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mediabatch {

struct Input {
  std::string name;              // as named, or directory argument joined with the relative path
  std::filesystem::path base;    // the directory argument it came from; empty for a named file
  std::string relative;          // path relative to base (named files: the name as given)
  bool named = false;            // named on the command line or stdin (not found by a walk)
  bool exists = true;            // false for a named path that is not there
};

// Strings, compactly: NUL-terminated, in blocks of 64 KiB, each found by a 32-bit reference.
// No string is ever moved, so growing costs no copy and no slack beyond the last block (a
// vector that doubles holds up to three times its contents while it grows). Not thread-safe.
class TextArena {
 public:
  // Throws Error past 4 GiB, or for a string of 64 KiB or more (no path is that long).
  std::uint32_t add(std::string_view text);
  const char* at(std::uint32_t ref) const noexcept { return blocks_[ref >> 16].data() + (ref & 0xffff); }

 private:
  std::vector<std::string> blocks_;
};

// Names, compactly: in a TextArena, and a reference each (a folder being walked, a list read
// from stdin): about 5 bytes per name beside its text. Not thread-safe.
class NameList {
 public:
  void add(std::string_view name);  // throws Error as TextArena::add
  std::size_t size() const noexcept { return refs_.size(); }
  bool empty() const noexcept { return refs_.empty(); }
  std::string_view operator[](std::size_t i) const noexcept { return text_.at(refs_[i]); }
  void sort();  // byte order

 private:
  TextArena text_;
  std::deque<std::uint32_t> refs_;
};

// The inputs that arguments name, one at a time: a directory is walked (into subfolders when
// recursive) in sorted order of the path below it, skipping mediabatch's own temporary files
// and anything that is not a regular file; anything else is kept as named. Holds only the
// names of the folders it is in (compactly), never the whole list, so a folder of a million
// files costs megabytes. With walk_directories false every argument is kept as named (exec's
// stdin lines, which need not be files). next() throws Error when a directory cannot be read.
class InputWalker {
 public:
  InputWalker(NameList args, bool recursive, bool walk_directories = true);
  ~InputWalker();
  InputWalker(InputWalker&&) noexcept;
  InputWalker& operator=(InputWalker&&) noexcept;

  bool next(Input& out);

 private:
  struct Folder;
  bool next_in_folders(Input& out);
  void enter(const std::string& path, const std::string& relative);

  NameList args_;
  bool recursive_, walk_directories_;
  std::size_t next_arg_ = 0;
  std::string base_;                      // the directory argument being walked
  std::vector<std::unique_ptr<Folder>> folders_;  // the path from base_ down
};

// Every input at once (InputWalker, collected); for small lists and tests.
std::vector<Input> expand_arguments(const std::vector<std::string>& args, bool recursive);

// Reads one name per line (or per NUL with nul_separated) from a stream; empty lines and a
// line's trailing CR are dropped.
NameList read_name_list(std::istream& in, bool nul_separated);

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
// K and N from MEDIABATCH_SHARD_INDEX (from 0) with MEDIABATCH_SHARDS, SLURM_ARRAY_TASK_ID/COUNT
// (minus SLURM_ARRAY_TASK_MIN), JOB_COMPLETION_INDEX with MEDIABATCH_SHARDS,
// AWS_BATCH_JOB_ARRAY_INDEX/SIZE, or Grid Engine's SGE_TASK_ID/FIRST/LAST/STEPSIZE, the first
// that is set; throws UsageError when none is.
Shard shard_from_env();

// True for the hidden temporary files that mediabatch writes before the rename.
bool is_temp_name(const std::string& filename) noexcept;

}  // namespace mediabatch
