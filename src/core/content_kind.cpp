#include "content_kind.hpp"

#include <algorithm>
#include <cstdio>

namespace mediabatch {

namespace {

bool at(std::string_view head, std::size_t offset, std::string_view magic) {
  return head.size() >= offset + magic.size() && head.substr(offset, magic.size()) == magic;
}

// ISO base media (MP4, MOV, HEIF, AVIF, 3GP): a box of type ftyp first, its major brand after.
const char* iso_media_kind(std::string_view head) {
  if (!at(head, 4, "ftyp") || head.size() < 12) return nullptr;
  const std::string_view brand = head.substr(8, 4);
  if (brand == "avif" || brand == "avis") return "an AVIF image";
  if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1" || brand == "heim" ||
      brand == "heis" || brand == "hevc")
    return "a HEIF image";
  if (brand == "qt  ") return "a QuickTime movie";
  return "an MP4 file";
}

// RIFF and RF64 containers: the form type says which.
const char* riff_kind(std::string_view head) {
  if (!at(head, 0, "RIFF") && !at(head, 0, "RF64")) return nullptr;
  if (at(head, 8, "WAVE")) return "a WAV file";
  if (at(head, 8, "WEBP")) return "a WebP image";
  if (at(head, 8, "AVI ")) return "an AVI video";
  return "a RIFF file of another kind";
}

const char* known_kind(std::string_view head) {
  struct Magic {
    std::size_t offset;
    std::string_view bytes;
    const char* kind;
  };
  static constexpr Magic magics[] = {
      {0, "\xFF\xD8\xFF", "a JPEG image"},
      {0, "\x89PNG\r\n\x1a\n", "a PNG image"},
      {0, "GIF8", "a GIF image"},
      {0, std::string_view("II*\0", 4), "a TIFF image"},
      {0, std::string_view("MM\0*", 4), "a TIFF image"},
      {0, "fLaC", "a FLAC file"},
      {0, "ID3", "an MP3 file"},
      {0, "OggS", "an Ogg file"},
      {0, "\x1A\x45\xDF\xA3", "a Matroska or WebM file"},
      {128, "DICM", "a DICOM file"},
      {0, "%PDF", "a PDF document"},
      {0, "PK\x03\x04", "a ZIP archive"},
      {0, "\x1F\x8B", "a gzip file"},
      {0, "7z\xBC\xAF\x27\x1C", "a 7-Zip archive"},
      {0, "\x7F" "ELF", "an ELF program"},
  };
  for (const Magic& m : magics)
    if (at(head, m.offset, m.bytes)) return m.kind;
  if (const char* kind = riff_kind(head)) return kind;
  return iso_media_kind(head);
}

bool all_zero(std::string_view head) {
  return std::all_of(head.begin(), head.end(), [](char c) { return c == '\0'; });
}

// Printable ASCII, white space, and bytes of multi-byte UTF-8 or Latin-1 letters: no control
// characters.
bool looks_like_text(std::string_view head) {
  return std::all_of(head.begin(), head.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
}

}  // namespace

std::string describe_content(std::string_view head, std::uint64_t size) {
  if (size == 0) return "the file is empty";
  if (const char* kind = known_kind(head)) return std::string("the file is ") + kind;
  if (all_zero(head))
    return head.size() == size ? "the file holds only zero bytes" : "the file starts with " + std::to_string(head.size()) + " zero bytes";
  if (looks_like_text(head)) return "the file is text";
  std::string hex;
  const std::size_t shown = std::min<std::size_t>(head.size(), 8);
  for (std::size_t i = 0; i < shown; ++i) {
    char byte[4];
    std::snprintf(byte, sizeof byte, i ? " %02x" : "%02x", static_cast<unsigned char>(head[i]));
    hex += byte;
  }
  return "the file's first bytes (" + hex + ") are of no known format";
}

}  // namespace mediabatch
