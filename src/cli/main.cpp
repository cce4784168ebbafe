#include "cli/app.hpp"
#include "core/signals.hpp"

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and Ctrl-C reaches the watcher.
  mediabatch::block_signals();
  return mediabatch::cli::run(argc, argv, mediabatch::builtin_encoders());
}
