// The cue sheet parser (src/encoders/flac/cue_sheet.*): the sniffing of an input's first
// bytes, the parse, and the album tags each track then gets.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "flac/cue_sheet.hpp"
#include "mediabatch/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The engine sniffs at most the first 4096 bytes of an input.
  (void)mediabatch::flac::looks_like_cue_sheet(std::string_view(text).substr(0, 4096));
  try {
    const mediabatch::flac::CueSheet cue = mediabatch::flac::parse_cue_sheet(text, "fuzz.cue");
    (void)cue.is_image();
    (void)cue.image_path();
    for (const auto& t : cue.tracks) (void)cue.album.tags_for(t.number);
  } catch (const mediabatch::UsageError&) {
  }
  return 0;
}
