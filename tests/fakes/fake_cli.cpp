// mediabatch's real command line with the fake encoders of fake_encoders.hpp instead of the
// built-in ones: the engine's behaviour tested end to end without media libraries.
#include "cli/app.hpp"
#include "core/signals.hpp"
#include "fakes/fake_encoders.hpp"

int main(int argc, char** argv) {
  mediabatch::block_signals();
  return mediabatch::cli::run(argc, argv, mbtest::fake_encoders());
}
