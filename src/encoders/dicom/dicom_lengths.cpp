#include "dicom_lengths.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::dicom {

namespace {

constexpr std::uint32_t kUndefined = 0xFFFFFFFFu;
constexpr std::uint32_t kPixelData = 0x7FE00010u;
constexpr std::uint32_t kItem = 0xFFFEE000u;
constexpr std::uint32_t kItemEnd = 0xFFFEE00Du;
constexpr std::uint32_t kSequenceEnd = 0xFFFEE0DDu;
constexpr std::uint64_t kNoEnd = UINT64_MAX;
// Deeper than any real file nests; past it the walk leaves the file to GDCM.
constexpr int kMaxDepth = 32;

struct Syntax {
  bool explicit_vr = true;
  bool big_endian = false;
};

struct Header {
  std::uint32_t tag = 0;
  char vr[2] = {0, 0};  // zeros in implicit syntax and for items
  std::uint32_t length = 0;
  std::uint64_t body = 0;  // file offset of the value
};

bool vr_is(const char* vr, const char* name) { return vr[0] == name[0] && vr[1] == name[1]; }

bool is_vr(const char* vr) {
  static const char* const all[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
                                    "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
                                    "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  for (const char* v : all)
    if (vr_is(vr, v)) return true;
  return false;
}

// The VRs whose explicit header has two reserved bytes and a 32-bit length.
bool has_long_length(const char* vr) {
  static const char* const long_form[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                          "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* v : long_form)
    if (vr_is(vr, v)) return true;
  return false;
}

std::uint32_t get16(const unsigned char* p, bool be) { return be ? p[0] << 8 | p[1] : p[0] | p[1] << 8; }
std::uint32_t get32(const unsigned char* p, bool be) {
  return be ? get16(p, true) << 16 | get16(p + 2, true) : get16(p, false) | get16(p + 2, false) << 16;
}

std::string tag_text(std::uint32_t tag) {
  char text[16];
  std::snprintf(text, sizeof text, "(%04X,%04X)", tag >> 16, tag & 0xFFFF);
  return text;
}

// The file, mapped: the walk touches the pages of the headers only, never a value's.
class Mapping {
 public:
  explicit Mapping(const std::string& path) {
    const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || fstat(fd.get(), &st) != 0) throw Error("opening the file: " + errno_text(errno));
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ == 0) return;
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) throw Error("mapping the file: " + errno_text(errno));
    data_ = static_cast<const unsigned char*>(p);
  }
  ~Mapping() {
    if (data_) munmap(const_cast<unsigned char*>(data_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::uint64_t size() const noexcept { return size_; }
  // The n bytes at `at`, or null when the file ends first.
  const unsigned char* at(std::uint64_t offset, std::uint64_t n) const noexcept {
    return offset <= size_ && size_ - offset >= n ? data_ + offset : nullptr;
  }

 private:
  const unsigned char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

class Walk {
 public:
  explicit Walk(const std::string& path) : file_(path) {}
  void run();

 private:
  std::optional<Syntax> meta(std::uint64_t& at) const;
  std::optional<Header> header(std::uint64_t at, Syntax s) const;
  std::optional<std::uint64_t> elements(std::uint64_t at, std::uint64_t end, Syntax s, int depth) const;
  std::optional<std::uint64_t> items(std::uint64_t at, std::uint64_t end, Syntax s, int depth, bool fragments) const;
  std::optional<std::uint64_t> value(const Header& h, Syntax s, int depth) const;
  bool holds_items(const Header& h, Syntax s) const;
  void check_fits(const Header& h, const std::string& what, bool pixels) const;

  Mapping file_;
};

void Walk::run() {
  std::uint64_t at = 0;
  if (const std::optional<Syntax> s = meta(at)) elements(at, file_.size(), *s, 0);
}

// The File Meta group (explicit VR little endian) and the syntax of the data set after it:
// its Transfer Syntax UID gives the byte order, the data set's first element whether VRs are
// explicit (files that declare one and use the other exist, and GDCM reads them). Nothing for
// a deflated data set, which only inflating could show.
std::optional<Syntax> Walk::meta(std::uint64_t& at) const {
  const unsigned char* magic = file_.at(128, 4);
  at = magic && std::memcmp(magic, "DICM", 4) == 0 ? 132 : 0;
  std::string ts;
  for (std::optional<Header> h; (h = header(at, Syntax{})) && (h->tag >> 16) == 0x0002;) {
    check_fits(*h, "element " + tag_text(h->tag), false);
    if (const unsigned char* v = h->tag == 0x00020010 && h->length <= 64 ? file_.at(h->body, h->length) : nullptr)
      ts.assign(reinterpret_cast<const char*>(v), h->length);
    at = h->body + h->length;
  }
  ts = ts.substr(0, ts.find_last_not_of(std::string(" \0", 2)) + 1);
  if (ts == "1.2.840.10008.1.2.1.99") return std::nullopt;
  Syntax s;
  s.big_endian = ts == "1.2.840.10008.1.2.2";
  const unsigned char* first = file_.at(at, 6);
  if (!first) return s;
  // Without a Transfer Syntax the byte order is guessed too: the first group number (0008, say)
  // is the smaller one read the right way round.
  if (ts.empty()) s.big_endian = get16(first, true) < get16(first, false);
  s.explicit_vr = is_vr(reinterpret_cast<const char*>(first + 4));
  return s;
}

std::optional<Header> Walk::header(std::uint64_t at, Syntax s) const {
  const unsigned char* b = file_.at(at, 8);
  if (!b) return std::nullopt;
  Header h;
  h.tag = get16(b, s.big_endian) << 16 | get16(b + 2, s.big_endian);
  h.body = at + 8;
  // Items and delimiters have no VR in any syntax.
  if ((h.tag >> 16) == 0xFFFE || !s.explicit_vr) {
    h.length = get32(b + 4, s.big_endian);
    return h;
  }
  std::memcpy(h.vr, b + 4, 2);
  if (!is_vr(h.vr)) return std::nullopt;
  if (!has_long_length(h.vr)) {
    h.length = get16(b + 6, s.big_endian);
    return h;
  }
  if (!(b = file_.at(at, 12))) return std::nullopt;
  h.length = get32(b + 8, s.big_endian);
  h.body = at + 12;
  return h;
}

// The elements from `at` to `end`, or to the item delimiter when end is kNoEnd. Returns where
// they end; nothing when the walk cannot follow the file from here.
std::optional<std::uint64_t> Walk::elements(std::uint64_t at, std::uint64_t end, Syntax s, int depth) const {
  while (at < end && at < file_.size()) {
    const std::optional<Header> h = header(at, s);
    if (!h) return std::nullopt;
    if (h->tag == kItemEnd) return h->body;
    if ((h->tag >> 16) == 0xFFFE) return std::nullopt;
    const std::optional<std::uint64_t> next = value(*h, s, depth);
    if (!next) return std::nullopt;
    at = *next;
  }
  return at;
}

// Checks one element's value and steps over it, or into it when it holds items.
std::optional<std::uint64_t> Walk::value(const Header& h, Syntax s, int depth) const {
  if (depth >= kMaxDepth) return std::nullopt;
  // The content of UN is implicit VR little endian, whatever the data set's syntax.
  const Syntax inner = vr_is(h.vr, "UN") ? Syntax{false, false} : s;
  if (h.length == kUndefined) return items(h.body, kNoEnd, inner, depth + 1, h.tag == kPixelData);
  const bool pixels = h.tag == kPixelData;
  check_fits(h, pixels ? std::string("Pixel Data") : "element " + tag_text(h.tag), pixels);
  // A sequence with a length says where it ends, whether or not its items can be followed.
  if (holds_items(h, s)) items(h.body, h.body + h.length, inner, depth + 1, false);
  return h.body + h.length;
}

bool Walk::holds_items(const Header& h, Syntax s) const {
  if (s.explicit_vr && vr_is(h.vr, "SQ")) return true;
  if (s.explicit_vr && !vr_is(h.vr, "UN")) return false;
  const unsigned char* first = h.length >= 8 ? file_.at(h.body, 4) : nullptr;
  const bool be = s.big_endian && !vr_is(h.vr, "UN");
  return first && (get16(first, be) << 16 | get16(first + 2, be)) == kItem;
}

// Items from `at` to `end`, or to the sequence delimiter when end is kNoEnd. The items of
// encapsulated Pixel Data are fragments: bytes, not elements.
std::optional<std::uint64_t> Walk::items(std::uint64_t at, std::uint64_t end, Syntax s, int depth,
                                         bool fragments) const {
  while (at < end && at < file_.size()) {
    const unsigned char* b = file_.at(at, 8);
    if (!b) return std::nullopt;
    const Header h{get16(b, s.big_endian) << 16 | get16(b + 2, s.big_endian), {0, 0}, get32(b + 4, s.big_endian),
                   at + 8};
    if (h.tag == kSequenceEnd) return h.body;
    if (h.tag != kItem) return std::nullopt;
    if (h.length == kUndefined) {
      const std::optional<std::uint64_t> next = fragments ? std::nullopt : elements(h.body, kNoEnd, s, depth);
      if (!next) return std::nullopt;
      at = *next;
      continue;
    }
    check_fits(h, fragments ? "a Pixel Data fragment" : "an item", fragments);
    if (!fragments) elements(h.body, h.body + h.length, s, depth);
    at = h.body + h.length;
  }
  return at;
}

// GDCM allocates a value's claimed length before reading it. A value cut short by the end
// of the file is left to GDCM (read_dicom() refuses a short Pixel Data after reading, as
// before) while it cannot cost more than the file's own size.
void Walk::check_fits(const Header& h, const std::string& what, bool pixels) const {
  if (h.length <= file_.size()) return;
  throw Error(std::string(pixels ? "truncated file: " : "damaged file: ") + what + " needs " +
              std::to_string(h.length) + " bytes, the file has " + std::to_string(file_.size()));
}

}  // namespace

void check_value_lengths(const std::filesystem::path& input) { Walk(input.string()).run(); }

}  // namespace mediabatch::dicom
