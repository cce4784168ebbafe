#include "cue_sheet.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

void append_utf8(std::string& out, std::uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | c >> 6);
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | c >> 12);
    out += static_cast<char>(0x80 | (c >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | c >> 18);
    out += static_cast<char>(0x80 | (c >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (c >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// UTF-16 text without its BOM as UTF-8. An unpaired surrogate, U+FFFE and U+FFFF become
// U+FFFD: libFLAC refuses them in a Vorbis comment. A last odd byte (a file cut short, or the
// engine's 4 KB sniff) is dropped.
std::string utf16_to_utf8(std::string_view bytes, bool big_endian) {
  auto unit = [&](std::size_t i) -> std::uint32_t {
    const std::uint32_t a = static_cast<unsigned char>(bytes[i]), b = static_cast<unsigned char>(bytes[i + 1]);
    return big_endian ? (a << 8 | b) : (b << 8 | a);
  };
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    std::uint32_t c = unit(i);
    if (c >= 0xD800 && c < 0xDC00 && i + 3 < bytes.size()) {
      const std::uint32_t low = unit(i + 2);
      if (low >= 0xDC00 && low < 0xE000) {
        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
        i += 2;
      }
    }
    if ((c >= 0xD800 && c < 0xE000) || c == 0xFFFE || c == 0xFFFF) c = 0xFFFD;
    append_utf8(out, c);
  }
  return out;
}

// A cue sheet's bytes as UTF-8 text. Rippers write them in UTF-16 with a BOM (the "Unicode"
// sheets of Windows tools), UTF-8 with or without one, or, older ones, in Latin-1.
std::string cue_text(std::string_view raw) {
  if (raw.substr(0, 2) == "\xFF\xFE") return utf16_to_utf8(raw.substr(2), false);
  if (raw.substr(0, 2) == "\xFE\xFF") return utf16_to_utf8(raw.substr(2), true);
  if (raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
  return to_utf8(std::string(raw));
}

// A time in CD frames as a cue sheet writes it: mm:ss:ff, 75 frames a second.
std::string cd_time(std::uint64_t frames) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02llu:%02u:%02u", static_cast<unsigned long long>(frames / 75 / 60),
                static_cast<unsigned>(frames / 75 % 60), static_cast<unsigned>(frames % 75));
  return buf;
}

// An INDEX line of an audio track; `file` counts the FILE lines before it, as times start
// again at 00:00:00 with each file.
struct IndexPoint {
  unsigned track = 0, number = 0;
  std::uint64_t frames = 0;  // 1/75 s
  std::size_t file = 0;
};

// One pass over the lines of a cue sheet. Commands this encoder has no use for (FLAGS,
// PREGAP, CDTEXTFILE, ...) are passed over, as players do.
class CueParser {
 public:
  explicit CueParser(const fs::path& name) { cue_.path = name; }

  void line(const std::string& text) {
    ++lineno_;
    const std::vector<std::string> w = words(text);
    if (w.empty()) return;
    const std::string cmd = upper(w[0]);
    if (cmd == "REM") {
      rem(text, w);
    } else if (cmd == "PERFORMER" || cmd == "TITLE" || cmd == "SONGWRITER") {
      text_field(cmd, w);
    } else if (cmd == "ISRC") {
      if (track_ != nullptr && !skip_track_) track_->info.isrc = w.size() > 1 ? w[1] : std::string();
    } else if (cmd == "CATALOG") {
      cue_.album.catalog = w.size() > 1 ? w[1] : std::string();
    } else if (cmd == "FILE") {
      if (w.size() < 2) fail("FILE needs a file name");
      cue_.files.push_back(w[1]);
    } else if (cmd == "TRACK") {
      track(w);
    } else if (cmd == "INDEX") {
      index(w);
    }
  }

  CueSheet finish();

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw UsageError(cue_.path.string() + ":" + std::to_string(lineno_) + ": " + why);
  }

  // Words of a line; a double-quoted word may hold spaces.
  std::vector<std::string> words(const std::string& line) const {
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
    return w;
  }

  // The REM comments that rippers write (EAC, XLD, foobar2000): the disc's DATE, GENRE,
  // disc numbers and COMMENT, and a track's own COMMENT.
  void rem(const std::string& line, const std::vector<std::string>& w) {
    if (skip_track_ || w.size() < 2) return;
    const std::string key = upper(w[1]);
    const std::string value = rem_value(line);
    if (track_ != nullptr) {
      if (key == "COMMENT") track_->info.comment = value;
    } else if (key == "DATE") {
      cue_.album.date = value;
    } else if (key == "GENRE") {
      cue_.album.genre = value;
    } else if (key == "COMMENT") {
      cue_.album.comment = value;
    } else if (key == "DISCNUMBER") {
      // "1/2" is disc 1 of 2, as some rippers write it.
      const auto slash = value.find('/');
      cue_.album.disc = plain_number(key, value.substr(0, slash));
      if (slash != std::string::npos) cue_.album.discs = plain_number(key, value.substr(slash + 1));
    } else if (key == "TOTALDISCS" || key == "DISCTOTAL") {
      cue_.album.discs = plain_number(key, value);
    }
  }

  // A REM line's value: its quoted third word, else the rest of the line, since REM is free
  // text that rippers and people write unquoted ("REM COMMENT Ripped from vinyl").
  static std::string rem_value(std::string_view line) {
    auto skip = [&line](bool space) {
      while (!line.empty() && (std::isspace(static_cast<unsigned char>(line.front())) != 0) == space)
        line.remove_prefix(1);
    };
    for (int word = 0; word < 2; ++word) {  // REM and its key
      skip(true);
      skip(false);
    }
    skip(true);
    if (!line.empty() && line.front() == '"') {
      line.remove_prefix(1);
      return std::string(line.substr(0, line.find('"')));
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    return std::string(line);
  }

  // A disc number as the plain integer a tag holds ("01" is 1).
  std::string plain_number(const std::string& key, const std::string& digits) const {
    if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(digits) == 0)
      fail("bad REM " + key + " '" + digits + "' (a number from 1)");
    return std::to_string(std::stoul(digits));
  }

  void text_field(const std::string& cmd, const std::vector<std::string>& w) {
    if (w.size() < 2) fail(cmd + " needs a value");
    const std::string& arg = w[1];
    if (track_ == nullptr) {
      if (skip_track_) return;
      (cmd == "PERFORMER" ? cue_.album.artist : cmd == "TITLE" ? cue_.album.title : cue_.album.songwriter) = arg;
    } else {
      (cmd == "PERFORMER" ? track_->info.artist : cmd == "TITLE" ? track_->info.title : track_->info.songwriter) = arg;
    }
  }

  void track(const std::vector<std::string>& w) {
    if (w.size() < 3) fail("TRACK needs a number and a type");
    // Some rippers leave FILE out: the sheet is then of the image named with it (an empty
    // name stands for it).
    if (cue_.files.empty()) cue_.files.emplace_back();
    const std::string& arg = w[1];
    char* end = nullptr;
    const unsigned long n = std::strtoul(arg.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 99) fail("bad track number '" + arg + "'");
    // A data track of an enhanced CD: not audio, so not a track of the album.
    skip_track_ = upper(w[2]) != "AUDIO";
    if (skip_track_) {
      track_ = nullptr;
      return;
    }
    for (const auto& t : cue_.tracks)
      if (t.number == n) fail("track " + arg + " appears twice");
    previous_start_ = start_;
    start_.reset();
    cue_.tracks.emplace_back();
    track_ = &cue_.tracks.back();
    track_->number = static_cast<unsigned>(n);
    track_->file = cue_.files.back();
  }

  void index(const std::vector<std::string>& w) {
    if (track_ == nullptr) {
      if (skip_track_) return;
      fail("INDEX outside a TRACK");
    }
    if (w.size() < 3) fail("INDEX needs a number and a time");
    if (w[1].empty() || w[1].size() > 2 || w[1].find_first_not_of("0123456789") != std::string::npos)
      fail("bad INDEX number '" + w[1] + "' (00 to 99)");
    unsigned mm = 0, ss = 0, ff = 0;
    char tail = 0;
    if (std::sscanf(w[2].c_str(), "%u:%u:%u%c", &mm, &ss, &ff, &tail) != 3 || ss > 59 || ff > 74)
      fail("bad INDEX time '" + w[2] + "' (mm:ss:ff, 75 frames a second)");
    const IndexPoint here{track_->number, static_cast<unsigned>(std::stoul(w[1])),
                          (static_cast<std::uint64_t>(mm) * 60 + ss) * 75 + ff, cue_.files.size()};
    check_order(here);
    last_ = here;
    if (here.number == 1) {
      start_ = here;
      track_->start_cd_frames = here.frames;
      track_->file = cue_.files.back();
      track_->has_index01 = true;
    }
  }

  // What flac --cuesheet refuses, said with the line: a track's INDEX numbers ascend, and
  // within one FILE (times start again at 00:00:00 with each) no INDEX is before the one
  // before it and each track starts after the track before it.
  void check_order(const IndexPoint& here) const {
    const std::string what = "INDEX " + two_digits(here.number) + " of track " + std::to_string(here.track);
    const bool same_track = last_ && last_->track == here.track;
    if (same_track && last_->number >= here.number)
      fail(what + " comes after its INDEX " + two_digits(last_->number) + ": a track's INDEX numbers ascend");
    auto before = [&](const IndexPoint& earlier, const char* relation) {
      fail(what + " (" + cd_time(here.frames) + ") " + relation + " " +
           (earlier.track == here.track ? std::string("its") : "track " + std::to_string(earlier.track) + "'s") +
           " INDEX " + two_digits(earlier.number) + " (" + cd_time(earlier.frames) + ")");
    };
    if (last_ && last_->file == here.file && here.frames < last_->frames) before(*last_, "is before");
    // A track as long as nothing: its INDEX 01 at the one of the track before.
    if (here.number == 1 && previous_start_ && previous_start_->file == here.file &&
        here.frames == previous_start_->frames)
      before(*previous_start_, "is not after");
  }

  static std::string two_digits(unsigned n) { return (n < 10 ? "0" : "") + std::to_string(n); }

  CueSheet cue_;
  unsigned lineno_ = 0;
  CueTrack* track_ = nullptr;  // the TRACK being read; null before the first and in a data track
  bool skip_track_ = false;
  // Of the audio tracks: the last INDEX read, the INDEX 01 of the TRACK being read and of
  // the one before it.
  std::optional<IndexPoint> last_, start_, previous_start_;
};

CueSheet CueParser::finish() {
  const std::string name = cue_.path.string();
  if (cue_.tracks.empty()) throw UsageError(name + ": no audio TRACK in the cue sheet");
  unsigned max_number = 0;
  for (const CueTrack& t : cue_.tracks) {
    if (!t.has_index01) throw UsageError(name + ": track " + std::to_string(t.number) + " has no INDEX 01");
    max_number = std::max(max_number, t.number);
    // As foobar2000 reads a sheet: one track by another performer makes the disc's PERFORMER
    // every track's ALBUMARTIST, so players keep the album together; otherwise it is the
    // ARTIST alone.
    if (!t.info.artist.empty() && t.info.artist != cue_.album.artist) cue_.album.albumartist = cue_.album.artist;
  }
  cue_.album.tracks.resize(max_number);
  for (const auto& t : cue_.tracks) cue_.album.tracks[t.number - 1] = t.info;
  return std::move(cue_);
}

}  // namespace

fs::path CueSheet::image_path() const {
  return files.empty() || files.front().empty() ? fs::path() : path.parent_path() / fs::path(files.front());
}

bool looks_like_cue_sheet(std::string_view raw_head) {
  const std::string text = cue_text(raw_head);
  std::string_view head = text;
  while (!head.empty() && std::isspace(static_cast<unsigned char>(head.front()))) head.remove_prefix(1);
  for (const char* word : {"REM ", "FILE ", "PERFORMER ", "TITLE ", "CATALOG ", "CDTEXTFILE ", "SONGWRITER "})
    if (head.substr(0, std::char_traits<char>::length(word)) == word) {
      return head.find("TRACK ") != std::string_view::npos || head.find("FILE ") != std::string_view::npos;
    }
  return false;
}

CueSheet read_cue_sheet(const fs::path& path) { return parse_cue_sheet(read_text_file(path, "cue sheet"), path); }

CueSheet parse_cue_sheet(const std::string& raw, const fs::path& name) {
  const std::string text = cue_text(raw);
  CueParser parser(name);
  // Lines end in CR LF (Windows rippers), LF, or a lone CR (classic Mac OS ones).
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find_first_of("\r\n", at), text.size());
    parser.line(text.substr(at, end - at));
    at = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  return parser.finish();
}

}  // namespace mediabatch::flac
