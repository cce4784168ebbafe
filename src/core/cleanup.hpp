#pragma once
// Process-wide record of what must not outlive an abrupt exit: temporary output files and
// the process groups of running exec commands. The signal thread uses it on a second Ctrl-C.
#include <sys/types.h>

#include <filesystem>

namespace mediabatch::cleanup {

void add_temp(const std::filesystem::path& p);
void remove_temp(const std::filesystem::path& p);
void add_group(pid_t pgid);
void remove_group(pid_t pgid);
// A supervised worker process: on an emergency it is asked to stop (its own second signal, so
// it removes its temporary files) and waited for, briefly, before this process exits.
void add_worker(pid_t pid);
void remove_worker(pid_t pid);
// Sends `sig` to every recorded process group and worker (SIGSTOP and SIGCONT for Ctrl-Z).
void signal_all(int sig) noexcept;
// Kills every recorded process group and unlinks every recorded temp file. Called from the
// signal thread just before _exit; takes the lock, so it never runs beside add/remove.
void emergency() noexcept;

}  // namespace mediabatch::cleanup
