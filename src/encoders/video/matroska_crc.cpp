#include "matroska_crc.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"

extern "C" {
#include <libavutil/crc.h>
}

namespace mediabatch::video {

namespace {

constexpr std::uint32_t kEbmlHeader = 0x1A45DFA3;
constexpr std::uint32_t kSegment = 0x18538067;
constexpr std::uint32_t kCrc32 = 0xBF;
constexpr std::uint32_t kVoid = 0xEC;  // padding: the one top-level element that holds no elements
constexpr std::uint64_t kUnknownSize = ~std::uint64_t{0};

std::string element_name(std::uint32_t id) {
  switch (id) {
    case 0x1F43B675: return "Cluster";
    case 0x1C53BB6B: return "Cues";
    case 0x114D9B74: return "SeekHead";
    case 0x1549A966: return "Info";
    case 0x1654AE6B: return "Tracks";
    case 0x1254C367: return "Tags";
    case 0x1043A770: return "Chapters";
    case 0x1941A469: return "Attachments";
    default: {
      char text[32];
      std::snprintf(text, sizeof text, "element 0x%X", static_cast<unsigned>(id));
      return text;
    }
  }
}

// An element's header: its ID, where its data starts and how long it is.
struct Element {
  std::uint32_t id = 0;
  std::uint64_t data_at = 0;
  std::uint64_t size = 0;
};

class Reader {
 public:
  explicit Reader(const fs::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    struct stat st {};
    if (!fd_ || ::fstat(fd_.get(), &st) != 0) throw_system_error("opening the output", errno);
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  std::uint64_t size() const { return size_; }

  // Up to `n` bytes at `at`; fewer only at the end of the file.
  std::size_t read(std::uint64_t at, std::uint8_t* into, std::size_t n) const {
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_.get(), into + got, n - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw_system_error("reading the output", errno);
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

  // The element header at `at`. Throws Error when it is not one.
  Element element(std::uint64_t at) const {
    std::uint8_t bytes[12] = {};
    const std::size_t got = read(at, bytes, sizeof bytes);
    std::size_t used = 0;
    Element e;
    std::uint64_t id = 0, size = 0;
    if (!vint(bytes, got, used, id, 4, true) || !vint(bytes, got, used, size, 8, false))
      throw Error("the output is damaged: no Matroska element at byte " + std::to_string(at));
    e.id = static_cast<std::uint32_t>(id);
    e.data_at = at + used;
    e.size = size;
    return e;
  }

  // CRC-32 (as Matroska and zlib compute it) of [from, to).
  std::uint32_t crc(std::uint64_t from, std::uint64_t to) const {
    const AVCRC* table = av_crc_get_table(AV_CRC_32_IEEE_LE);
    std::uint32_t crc = UINT32_MAX;
    std::vector<std::uint8_t> buffer(std::size_t{1} << 18);
    for (std::uint64_t at = from; at < to;) {
      const std::size_t n =
          read(at, buffer.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), to - at)));
      if (n == 0) throw Error("reading the output: it ends early");
      crc = av_crc(table, crc, buffer.data(), n);
      at += n;
    }
    return crc ^ UINT32_MAX;
  }

 private:
  // An EBML variable-length integer of at most `max_length` bytes, from bytes[used]; an ID keeps
  // its length marker. A size of all ones is unknown (kUnknownSize).
  static bool vint(const std::uint8_t* bytes, std::size_t got, std::size_t& used, std::uint64_t& value,
                   std::size_t max_length, bool keep_marker) {
    if (used >= got || bytes[used] == 0) return false;
    std::size_t length = 1;
    std::uint8_t marker = 0x80;
    while (!(bytes[used] & marker)) {
      ++length;
      marker = static_cast<std::uint8_t>(marker >> 1);
    }
    if (length > max_length || used + length > got) return false;
    value = keep_marker ? bytes[used] : bytes[used] & (marker - 1);
    bool all_ones = value == static_cast<std::uint64_t>(marker - 1);
    for (std::size_t i = 1; i < length; ++i) {
      value = value << 8 | bytes[used + i];
      all_ones = all_ones && bytes[used + i] == 0xFF;
    }
    if (!keep_marker && all_ones) value = kUnknownSize;
    used += length;
    return true;
  }

  Fd fd_;
  std::uint64_t size_ = 0;
};

// The element's end, checked against `limit`, the end of `within`, which holds it.
std::uint64_t end_of(const Element& e, std::uint64_t at, std::uint64_t limit, const char* within) {
  // A file written to the end has every size known.
  if (e.size == kUnknownSize || e.data_at > limit || e.size > limit - e.data_at)
    throw Error("the output is damaged: the " + element_name(e.id) + " at byte " + std::to_string(at) +
                " runs past the end of " + within);
  return e.data_at + e.size;
}

}  // namespace

void check_matroska_crcs(const fs::path& path) {
  const Reader file(path);
  const std::uint64_t file_size = file.size();
  const Element header = file.element(0);
  if (header.id != kEbmlHeader) throw Error("the output is damaged: it does not start with an EBML header");
  const std::uint64_t segment_at = end_of(header, 0, file_size, "the file");
  const Element segment = file.element(segment_at);
  if (segment.id != kSegment) throw Error("the output is damaged: no Segment at byte " + std::to_string(segment_at));
  if (segment.size == kUnknownSize || segment.data_at + segment.size > file_size)
    throw Error("the output is cut short: it ends at byte " + std::to_string(file_size) +
                (segment.size == kUnknownSize ? "" : " of " + std::to_string(segment.data_at + segment.size)));
  const std::uint64_t segment_end = segment.data_at + segment.size;
  for (std::uint64_t at = segment.data_at; at < segment_end;) {
    const Element e = file.element(at);
    const std::uint64_t end = end_of(e, at, segment_end, "its Segment");
    if (e.id != kVoid && e.size >= 6) {
      const Element first = file.element(e.data_at);
      if (first.id == kCrc32 && first.size == 4) {
        std::uint8_t stored[4] = {};
        if (file.read(first.data_at, stored, 4) != 4) throw Error("reading the output: it ends early");
        const std::uint32_t expected =
            static_cast<std::uint32_t>(stored[0]) | static_cast<std::uint32_t>(stored[1]) << 8 |
            static_cast<std::uint32_t>(stored[2]) << 16 | static_cast<std::uint32_t>(stored[3]) << 24;
        if (file.crc(first.data_at + 4, end) != expected)
          throw Error("the output is damaged: the " + element_name(e.id) + " at byte " + std::to_string(at) +
                      " fails its CRC-32 check");
      }
    }
    at = end;
  }
}

}  // namespace mediabatch::video
