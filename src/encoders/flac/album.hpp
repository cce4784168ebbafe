#pragma once
// The album model of `mediabatch flac`: the Vorbis comments each track gets, from album data
// (--album, album_json.hpp) or a cue sheet (--cue, cue_sheet.hpp), with the --tag overrides.
// Plain values, built once before any file is encoded and then only read. Functions that
// read user input throw mediabatch::UsageError.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mediabatch::flac {

namespace fs = std::filesystem;

// Vorbis comments in the order they are written: {"ARTIST", "Someone"}.
using Tags = std::vector<std::pair<std::string, std::string>>;

// Replaces every tag named `key` (case-insensitive) with the one value, or appends it.
void set_tag(Tags& tags, const std::string& key, const std::string& value);
// Parses a --tag argument "KEY=VALUE"; throws UsageError.
std::pair<std::string, std::string> parse_tag_argument(const std::string& argument);
// Applies the --tag arguments: each replaces the album's value of its key; repeated keys
// among them add up.
void override_tags(Tags& tags, const Tags& overrides);

struct TrackInfo {
  std::string title;
  std::string artist;      // empty: the album's artist
  std::string songwriter;  // empty: the album's
  std::string isrc;
  std::string comment;     // empty: the album's
};

struct Album {
  std::string artist, title, date, genre, albumartist, disc, discs;
  std::string songwriter, comment, catalog;  // from a cue sheet: SONGWRITER, REM COMMENT, CATALOG
  std::vector<TrackInfo> tracks;  // track n is tracks[n - 1]

  // The tags of track `number` (1-based, must be within tracks).
  Tags tags_for(unsigned number) const;
};

// The track number in a file name ("track07.cdda.wav" is 7), if it has one.
std::optional<unsigned> track_number_in_name(const fs::path& file);

// For the album readers: the whole of a file ("cannot read WHAT PATH" as a UsageError, and
// one of more than 1 MiB too), and text as UTF-8 (Latin-1 taken for anything that is not
// valid UTF-8).
std::string read_text_file(const fs::path& path, const char* what);
std::string to_utf8(const std::string& text);

}  // namespace mediabatch::flac
