#pragma once
// The hidden temporary files mediabatch writes before a rename: how they are named, and how a
// run removes those that an earlier, killed run left behind. Thread-safe.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

namespace mediabatch {

// ".STEM.mbtmp<host>-<pid>-<tag>EXT" beside final_path: hidden, in the destination folder (so
// the rename is atomic), with the real extension (libraries pick the format from it). <host>
// is 8 hex digits of a hash of this machine's name and <pid> this process's id, so a later
// run can tell a live writer's file from a dead one's, even on a folder shared by machines.
std::filesystem::path temp_path_beside(const std::filesystem::path& final_path, const std::string& tag);

// What a temporary name says about the process that wrote it; nullopt for any other name.
struct TempOwner {
  std::uint32_t host = 0;
  pid_t pid = 0;
};
std::optional<TempOwner> temp_owner(const std::string& filename);
// The <host> part of this machine's temporary names.
std::uint32_t this_host_id() noexcept;

// Removes, in each folder, the temporary files whose writer is gone: written on this machine
// by a process that is no longer a running mediabatch, or untouched for a day (whatever
// wrote them). Returns how many were removed.
std::size_t remove_stale_temporaries(const std::set<std::filesystem::path>& folders);
// Removes, in each folder, the temporary files of process `pid` on this machine (a worker
// that died). Returns how many were removed.
std::size_t remove_temporaries_of(pid_t pid, const std::set<std::filesystem::path>& folders);

}  // namespace mediabatch
