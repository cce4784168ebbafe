#pragma once
// The command line: arguments -> jobs -> scheduler -> exit code. The exit code is decided
// here and only here: 0 all ok, 1 some file failed, 2 usage error, 130 interrupted.
#include "mediabatch/encoder.hpp"

namespace mediabatch::cli {

enum ExitCode : int { exit_ok = 0, exit_failed = 1, exit_usage = 2, exit_interrupted = 130 };

// Runs mediabatch with these arguments and encoders (main passes the built-in ones; tests
// add fakes). SIGINT/SIGTERM must already be blocked (block_signals()).
int run(int argc, char** argv, EncoderList encoders);

}  // namespace mediabatch::cli
