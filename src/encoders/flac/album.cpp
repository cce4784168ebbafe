#include "album.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mediabatch/errors.hpp"

namespace mediabatch::flac {

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string read_text(const fs::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(std::string("cannot read ") + what + " " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

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

// A JSON scalar as tag text: strings as they are, numbers as written ("year": 1997).
std::string scalar(const nlohmann::json& v, const std::string& where, const fs::path& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return v.dump();
  if (v.is_null()) return {};
  throw UsageError(path.string() + ": \"" + where + "\" must be a string or a number");
}

}  // namespace

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
  add("COMPOSER", t.songwriter);
  add("ISRC", t.isrc);
  add("TRACKNUMBER", std::to_string(number));
  add("TRACKTOTAL", std::to_string(tracks.size()));
  add("DISCNUMBER", disc);
  add("DISCTOTAL", discs);
  return tags;
}

Album read_album_json(const fs::path& path) {
  const std::string text = read_text(path, "album file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Report where the parser stopped as line:column (e.byte is 1-based, past the bad char).
    std::size_t line = 1, column = 1;
    const std::size_t end = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (std::size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string why = e.what();
    const auto colon = why.find(": ", why.find("parse error"));
    if (colon != std::string::npos) why = why.substr(colon + 2);
    throw UsageError(path.string() + ": invalid JSON at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": " + why);
  }
  if (!j.is_object()) throw UsageError(path.string() + ": the album must be a JSON object");
  Album a;
  auto field = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it == j.end() ? std::string() : scalar(*it, key, path);
  };
  a.artist = field("artist");
  a.title = field("title");
  a.date = field("year");
  if (a.date.empty()) a.date = field("date");
  a.genre = field("genre");
  a.albumartist = field("albumartist");
  a.disc = field("disc");
  a.discs = field("discs");
  auto tracks = j.find("tracks");
  if (tracks == j.end() || !tracks->is_array() || tracks->empty())
    throw UsageError(path.string() + ": \"tracks\" must be a non-empty array of titles");
  for (std::size_t i = 0; i < tracks->size(); ++i) {
    const auto& t = (*tracks)[i];
    const std::string where = "tracks[" + std::to_string(i) + "]";
    TrackInfo info;
    if (t.is_object()) {
      if (auto it = t.find("title"); it != t.end()) info.title = scalar(*it, where + ".title", path);
      if (auto it = t.find("artist"); it != t.end()) info.artist = scalar(*it, where + ".artist", path);
    } else {
      info.title = scalar(t, where, path);
    }
    a.tracks.push_back(std::move(info));
  }
  return a;
}

fs::path CueSheet::image_path() const {
  return files.empty() ? fs::path() : path.parent_path() / fs::path(files.front());
}

bool looks_like_cue_sheet(std::string_view head) {
  if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  while (!head.empty() && std::isspace(static_cast<unsigned char>(head.front()))) head.remove_prefix(1);
  for (const char* word : {"REM ", "FILE ", "PERFORMER ", "TITLE ", "CATALOG ", "CDTEXTFILE ", "SONGWRITER "})
    if (head.substr(0, std::char_traits<char>::length(word)) == word) {
      return head.find("TRACK ") != std::string_view::npos || head.find("FILE ") != std::string_view::npos;
    }
  return false;
}

CueSheet read_cue_sheet(const fs::path& path) { return parse_cue_sheet(read_text(path, "cue sheet"), path); }

CueSheet parse_cue_sheet(const std::string& raw, const fs::path& name) {
  std::string text = to_utf8(raw.compare(0, 3, "\xEF\xBB\xBF") == 0 ? raw.substr(3) : raw);
  CueSheet cue;
  cue.path = name;
  std::istringstream in(text);
  std::string line;
  unsigned lineno = 0;
  CueTrack* track = nullptr;
  bool skip_track = false;  // a data track of an enhanced CD
  auto fail = [&](const std::string& why) {
    throw UsageError(name.string() + ":" + std::to_string(lineno) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Split into words; a double-quoted word may hold spaces.
    std::vector<std::string> w;
    for (std::size_t i = 0; i < line.size();) {
      if (std::isspace(static_cast<unsigned char>(line[i]))) {
        ++i;
      } else if (line[i] == '"') {
        const auto close = line.find('"', i + 1);
        if (close == std::string::npos) fail("unterminated quoted string");
        w.push_back(line.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        auto j = i;
        while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
        w.push_back(line.substr(i, j - i));
        i = j;
      }
    }
    if (w.empty()) continue;
    const std::string cmd = upper(w[0]);
    const std::string arg = w.size() > 1 ? w[1] : std::string();
    if (cmd == "REM") {
      const std::string key = upper(arg);
      const std::string value = w.size() > 2 ? w[2] : std::string();
      if (track == nullptr) {
        if (key == "DATE") cue.album.date = value;
        else if (key == "GENRE") cue.album.genre = value;
        else if (key == "DISCNUMBER") cue.album.disc = value;
        else if (key == "TOTALDISCS" || key == "DISCTOTAL") cue.album.discs = value;
      }
    } else if (cmd == "PERFORMER" || cmd == "TITLE" || cmd == "SONGWRITER") {
      if (w.size() < 2) fail(cmd + " needs a value");
      if (track == nullptr) {
        if (cmd == "PERFORMER") cue.album.artist = arg;
        if (cmd == "TITLE") cue.album.title = arg;
      } else if (!skip_track) {
        (cmd == "PERFORMER" ? track->info.artist : cmd == "TITLE" ? track->info.title : track->info.songwriter) = arg;
      }
    } else if (cmd == "ISRC") {
      if (track != nullptr && !skip_track) track->info.isrc = arg;
    } else if (cmd == "FILE") {
      if (w.size() < 2) fail("FILE needs a file name");
      cue.files.push_back(arg);
    } else if (cmd == "TRACK") {
      if (w.size() < 3) fail("TRACK needs a number and a type");
      if (cue.files.empty()) fail("TRACK before any FILE");
      char* end = nullptr;
      const unsigned long n = std::strtoul(arg.c_str(), &end, 10);
      if (*end != '\0' || n < 1 || n > 99) fail("bad track number '" + arg + "'");
      skip_track = upper(w[2]) != "AUDIO";
      if (skip_track) {
        track = nullptr;
        continue;
      }
      for (const auto& t : cue.tracks)
        if (t.number == n) fail("track " + arg + " appears twice");
      cue.tracks.emplace_back();
      track = &cue.tracks.back();
      track->number = static_cast<unsigned>(n);
      track->file = cue.files.back();
    } else if (cmd == "INDEX") {
      if (track == nullptr) {
        if (skip_track) continue;
        fail("INDEX outside a TRACK");
      }
      if (w.size() < 3) fail("INDEX needs a number and a time");
      unsigned mm = 0, ss = 0, ff = 0;
      char tail = 0;
      if (std::sscanf(w[2].c_str(), "%u:%u:%u%c", &mm, &ss, &ff, &tail) != 3 || ss > 59 || ff > 74)
        fail("bad INDEX time '" + w[2] + "' (mm:ss:ff, 75 frames a second)");
      if (std::strtoul(arg.c_str(), nullptr, 10) == 1) {
        track->start_cd_frames = (static_cast<std::uint64_t>(mm) * 60 + ss) * 75 + ff;
        track->file = cue.files.back();
        track->has_index01 = true;
      }
    }
  }
  if (cue.tracks.empty()) throw UsageError(name.string() + ": no audio TRACK in the cue sheet");
  unsigned max_number = 0;
  for (std::size_t i = 0; i < cue.tracks.size(); ++i) {
    const CueTrack& t = cue.tracks[i];
    if (!t.has_index01) throw UsageError(name.string() + ": track " + std::to_string(t.number) + " has no INDEX 01");
    if (i > 0 && cue.tracks[i - 1].file == t.file && cue.tracks[i - 1].start_cd_frames >= t.start_cd_frames)
      throw UsageError(name.string() + ": track " + std::to_string(t.number) +
                       " starts before the end of the track before it");
    max_number = std::max(max_number, t.number);
  }
  cue.album.tracks.resize(max_number);
  for (const auto& t : cue.tracks) cue.album.tracks[t.number - 1] = t.info;
  return cue;
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
