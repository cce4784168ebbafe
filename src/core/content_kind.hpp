#pragma once
// Names what a file's first bytes are, for the reason a broken input fails with ("not a WAV
// file ...: the file is a PNG image"; "...: the file holds only zero bytes"). Recognises the
// signatures of common media, archive and document formats; pure, thread-safe.
#include <cstdint>
#include <string>
#include <string_view>

namespace mediabatch {

// `head` is the file's first bytes (up to 4096), `size` its whole size. Returns a clause that
// starts with "the file": "the file is a JPEG image", "the file is text", "the file's first
// bytes (4a 55 4e 4b 00 01 02 03) are of no known format".
std::string describe_content(std::string_view head, std::uint64_t size);

}  // namespace mediabatch
