#pragma once
// One function per command, each in its own file; app.cpp parses and calls one of them. Each
// returns the exit code and throws UsageError for a bad command line.
#include <atomic>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "mediabatch/encoder.hpp"

namespace mediabatch::cli {

// exec_command.cpp: `exec [options] [INPUT...] -- CMD ARG...`
int run_exec(const Common& c, const std::vector<std::string>& command, std::atomic<bool>& stop);
// encode_command.cpp: an encoder's command, or `convert` (every encoder, chosen by content).
int run_encoders(const Common& c, const std::vector<Encoder*>& encoders, const std::string& command,
                 std::atomic<bool>& stop);
// report_command.cpp: `report merge REPORT...`
int merge_reports(const std::vector<std::string>& files);

}  // namespace mediabatch::cli
