// The album JSON of --album (src/encoders/flac/album_json.*): nlohmann's parse, our line and
// column of a parse error, the fields and tracks, and the tags each track then gets.
#include <cstddef>
#include <cstdint>

#include "flac/album_json.hpp"
#include "mediabatch/errors.hpp"
#include "memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mbfuzz::MemoryFile file;
  file.fill(data, size);
  try {
    const mediabatch::flac::Album album = mediabatch::flac::read_album_json(file.path());
    for (unsigned n = 1; n <= album.tracks.size(); ++n) (void)album.tags_for(n);
  } catch (const mediabatch::UsageError&) {
  }
  return 0;
}
