#include "cue_sheet.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

// One pass over the lines of a cue sheet. Commands this encoder has no use for (CATALOG,
// FLAGS, PREGAP, ...) are passed over, as players do.
class CueParser {
 public:
  explicit CueParser(const fs::path& name) { cue_.path = name; }

  void line(const std::string& text) {
    ++lineno_;
    const std::vector<std::string> w = words(text);
    if (w.empty()) return;
    const std::string cmd = upper(w[0]);
    if (cmd == "REM") {
      rem(w);
    } else if (cmd == "PERFORMER" || cmd == "TITLE" || cmd == "SONGWRITER") {
      text_field(cmd, w);
    } else if (cmd == "ISRC") {
      if (track_ != nullptr && !skip_track_) track_->info.isrc = w.size() > 1 ? w[1] : std::string();
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

  // The disc-level REM comments that rippers write (EAC, XLD); a track's own are ignored.
  void rem(const std::vector<std::string>& w) {
    if (track_ != nullptr || w.size() < 2) return;
    const std::string key = upper(w[1]);
    const std::string value = w.size() > 2 ? w[2] : std::string();
    if (key == "DATE") cue_.album.date = value;
    else if (key == "GENRE") cue_.album.genre = value;
    else if (key == "DISCNUMBER") cue_.album.disc = value;
    else if (key == "TOTALDISCS" || key == "DISCTOTAL") cue_.album.discs = value;
  }

  void text_field(const std::string& cmd, const std::vector<std::string>& w) {
    if (w.size() < 2) fail(cmd + " needs a value");
    const std::string& arg = w[1];
    if (track_ == nullptr) {
      if (cmd == "PERFORMER") cue_.album.artist = arg;
      if (cmd == "TITLE") cue_.album.title = arg;
    } else if (!skip_track_) {
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
    unsigned mm = 0, ss = 0, ff = 0;
    char tail = 0;
    if (std::sscanf(w[2].c_str(), "%u:%u:%u%c", &mm, &ss, &ff, &tail) != 3 || ss > 59 || ff > 74)
      fail("bad INDEX time '" + w[2] + "' (mm:ss:ff, 75 frames a second)");
    if (std::strtoul(w[1].c_str(), nullptr, 10) == 1) {
      track_->start_cd_frames = (static_cast<std::uint64_t>(mm) * 60 + ss) * 75 + ff;
      track_->file = cue_.files.back();
      track_->has_index01 = true;
    }
  }

  CueSheet cue_;
  unsigned lineno_ = 0;
  CueTrack* track_ = nullptr;  // the TRACK being read; null before the first and in a data track
  bool skip_track_ = false;
};

CueSheet CueParser::finish() {
  const std::string name = cue_.path.string();
  if (cue_.tracks.empty()) throw UsageError(name + ": no audio TRACK in the cue sheet");
  unsigned max_number = 0;
  for (std::size_t i = 0; i < cue_.tracks.size(); ++i) {
    const CueTrack& t = cue_.tracks[i];
    if (!t.has_index01) throw UsageError(name + ": track " + std::to_string(t.number) + " has no INDEX 01");
    if (i > 0 && cue_.tracks[i - 1].file == t.file && cue_.tracks[i - 1].start_cd_frames >= t.start_cd_frames)
      throw UsageError(name + ": track " + std::to_string(t.number) + " starts before the end of the track before it");
    max_number = std::max(max_number, t.number);
  }
  cue_.album.tracks.resize(max_number);
  for (const auto& t : cue_.tracks) cue_.album.tracks[t.number - 1] = t.info;
  return std::move(cue_);
}

}  // namespace

fs::path CueSheet::image_path() const {
  return files.empty() || files.front().empty() ? fs::path() : path.parent_path() / fs::path(files.front());
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

CueSheet read_cue_sheet(const fs::path& path) { return parse_cue_sheet(read_text_file(path, "cue sheet"), path); }

CueSheet parse_cue_sheet(const std::string& raw, const fs::path& name) {
  std::istringstream in(to_utf8(raw.compare(0, 3, "\xEF\xBB\xBF") == 0 ? raw.substr(3) : raw));
  CueParser parser(name);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    parser.line(line);
  }
  return parser.finish();
}

}  // namespace mediabatch::flac
