#include "album.hpp"

#include <algorithm>
#include <fstream>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
    if (n == 4) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

// Cue sheets and album files are a few KB. A bigger one is some other file, and parsing it
// would hold several copies of it (the text, its UTF-8 form, the lines).
constexpr std::size_t kMaxTextFile = std::size_t{1} << 20;

std::string read_text_file(const fs::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(std::string("cannot read ") + what + " " + path.string());
  std::string text;
  char chunk[16384];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxTextFile)
      throw UsageError(std::string(what) + " " + path.string() + ": more than 1 MiB, too large to be one");
  }
  return text;
}

// Cue sheets from older rippers are often Latin-1; Vorbis comments must be UTF-8.
std::string to_utf8(const std::string& s) {
  if (valid_utf8(s)) return s;
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += static_cast<char>(0xC0 | c >> 6);
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

void set_tag(Tags& tags, const std::string& key, const std::string& value) {
  auto it = std::find_if(tags.begin(), tags.end(), [&](const auto& t) { return iequals(t.first, key); });
  if (it == tags.end()) {
    tags.emplace_back(key, value);
    return;
  }
  it->first = key;
  it->second = value;
  tags.erase(std::remove_if(std::next(it), tags.end(), [&](const auto& t) { return iequals(t.first, key); }),
             tags.end());
}

std::pair<std::string, std::string> parse_tag_argument(const std::string& argument) {
  const auto eq = argument.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--tag " + argument + ": expected KEY=VALUE");
  std::string key = argument.substr(0, eq);
  // Vorbis comment field names: printable ASCII 0x20..0x7D except '='.
  for (char c : key)
    if (c < 0x20 || c > 0x7D)
      throw UsageError("--tag " + argument + ": a tag name is ASCII 0x20-0x7D without '='");
  return {upper(key), to_utf8(argument.substr(eq + 1))};
}

void override_tags(Tags& tags, const Tags& overrides) {
  // Not a structured binding: C++17 lets no lambda capture one (clang refuses, gcc allows it).
  for (const auto& o : overrides)
    tags.erase(std::remove_if(tags.begin(), tags.end(), [&](const auto& t) { return iequals(t.first, o.first); }),
               tags.end());
  tags.insert(tags.end(), overrides.begin(), overrides.end());
}

Tags Album::tags_for(unsigned number) const {
  Tags tags;
  const TrackInfo& t = tracks.at(number - 1);
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) tags.emplace_back(key, value);
  };
  add("TITLE", t.title);
  add("ARTIST", t.artist.empty() ? artist : t.artist);
  add("ALBUM", title);
  add("ALBUMARTIST", albumartist);
  add("DATE", date);
  add("GENRE", genre);
  add("COMPOSER", t.songwriter.empty() ? songwriter : t.songwriter);
  add("ISRC", t.isrc);
  add("CATALOGNUMBER", catalog);
  add("TRACKNUMBER", std::to_string(number));
  add("TRACKTOTAL", std::to_string(tracks.size()));
  add("DISCNUMBER", disc);
  add("DISCTOTAL", discs);
  add("COMMENT", t.comment.empty() ? comment : t.comment);
  return tags;
}

std::optional<unsigned> track_number_in_name(const fs::path& file) {
  const std::string name = file.filename().string();
  const auto first = name.find_first_of("0123456789");
  if (first == std::string::npos) return std::nullopt;
  auto last = name.find_first_not_of("0123456789", first);
  if (last == std::string::npos) last = name.size();
  if (last - first > 4) return std::nullopt;  // a year or a catalogue number, not a track
  return static_cast<unsigned>(std::stoul(name.substr(first, last - first)));
}

}  // namespace mediabatch::flac
