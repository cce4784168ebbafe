#pragma once
// --on-done CMD: one command when the batch is over (a notification, a hand-off to the next
// stage), with the batch's summary as JSON on its stdin. Main thread only.
#include <string>
#include <vector>

namespace mediabatch::cli {

// Splits a command line into an argv as a shell would split words, with no expansion: blanks
// separate words, 'single' and "double" quotes and a backslash keep blanks in one. Throws
// UsageError on an unclosed quote or an empty command.
std::vector<std::string> split_command_line(const std::string& line);

// Runs argv (searched in PATH) with `summary` on its stdin and this process's stdout and stderr,
// and waits for it. Its exit status is only reported on stderr when it is not 0: it does not
// change mediabatch's.
void run_on_done(const std::vector<std::string>& argv, const std::string& summary);

}  // namespace mediabatch::cli
