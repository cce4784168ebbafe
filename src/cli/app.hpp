#pragma once
// The command line: arguments -> jobs -> scheduler -> exit code. The exit code is decided
// here and only here: 0 all ok, 1 some file failed, 2 usage error, 128 + the signal when
// interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
#include "mediabatch/encoder.hpp"

namespace mediabatch::cli {

enum ExitCode : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

// Runs mediabatch with these arguments and encoders (main passes the built-in ones; tests
// add fakes). block_signals() must have run first.
int run(int argc, char** argv, EncoderList encoders);

}  // namespace mediabatch::cli
