// A program built against an installed mediabatch::core (tests/package/install_test.sh): lists
// the files of shard K/N of a folder, as `mediabatch --shard K/N` would take them.
#include <cstdio>
#include <exception>

#include "mediabatch/inputs.hpp"
#include "mediabatch/text.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: consumer K/N FOLDER\n");
    return 2;
  }
  try {
    const mediabatch::Shard shard = mediabatch::parse_shard(argv[1]);
    for (const auto& input : mediabatch::expand_arguments({argv[2]}, true))
      if (shard.contains(input.relative)) std::printf("%s\n", mediabatch::printable(input.name).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
