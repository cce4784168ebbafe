#pragma once
// `exec`: running an external program once per input, safely (posix_spawn, an argv, no shell).
#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "mediabatch/result.hpp"

namespace mediabatch {

// Where a job stands, for the placeholders {#} and {%}.
struct JobPlace {
  std::size_t number = 1;  // {#}: the job's number in input order, from 1
  int slot = 1;            // {%}: the slot it runs in, 1..-j
};

// Replaces {} {.} {/} {/.} {//} {#} {%} in each argument, as GNU parallel does. When no
// argument has a placeholder, the input is appended as the last argument.
std::vector<std::string> expand_placeholders(const std::vector<std::string>& command, const std::string& input,
                                             const JobPlace& place = {});

struct ExecLimits {
  double timeout_seconds = 0;   // 0 = none
  double grace_seconds = 2;     // between SIGTERM and SIGKILL
};

// Runs argv[0] (searched in PATH) with argv in its own process group, stdin from /dev/null,
// stdout and stderr captured whole. Kills the group (SIGTERM, then SIGKILL after the grace)
// on timeout or when `stop` turns true. Thread-safe. Throws Error when the program cannot be
// started, Cancelled when stopped; otherwise returns a result whose status says whether the
// program exited 0, with the exit code or signal in the reason.
Result run_program(const std::vector<std::string>& argv, const std::atomic<bool>& stop,
                   const ExecLimits& limits);

}  // namespace mediabatch
