#pragma once
// Album metadata for `mediabatch flac`: the album JSON (--album), CUE sheets (--cue) and
// the Vorbis comments they give each track. Plain values; parsed once in validate() and
// then only read. Parsers throw mediabatch::UsageError naming the file and line.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
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

struct TrackInfo {
  std::string title;
  std::string artist;     // empty: the album's artist
  std::string songwriter;
  std::string isrc;
};

struct Album {
  std::string artist, title, date, genre, albumartist, disc, discs;
  std::vector<TrackInfo> tracks;  // track n is tracks[n - 1]

  // The tags of track `number` (1-based, must be within tracks).
  Tags tags_for(unsigned number) const;
};

// Reads an album JSON file ({"artist", "title", "year", "genre", "tracks": [...]}).
Album read_album_json(const fs::path& path);

struct CueTrack {
  unsigned number = 0;
  TrackInfo info;
  std::string file;             // the FILE this track's INDEX 01 is in
  std::uint64_t start_cd_frames = 0;  // INDEX 01 within that file, in 1/75 s
  bool has_index01 = false;
};

struct CueSheet {
  fs::path path;
  Album album;  // disc-level PERFORMER/TITLE/REM DATE/REM GENRE, and tracks by position
  std::vector<CueTrack> tracks;
  std::vector<std::string> files;  // FILE names in order of appearance

  // One FILE holding every track: a whole-disc image to split.
  bool is_image() const { return files.size() == 1 && tracks.size() > 1; }
  // The image's path, resolved against the cue sheet's folder.
  fs::path image_path() const;
};

CueSheet read_cue_sheet(const fs::path& path);
// Parses cue sheet text; `name` is used in error messages.
CueSheet parse_cue_sheet(const std::string& text, const fs::path& name);
// Whether these first bytes of a file look like a CUE sheet.
bool looks_like_cue_sheet(std::string_view head);

// The track number in a file name ("track07.cdda.wav" is 7), if it has one.
std::optional<unsigned> track_number_in_name(const fs::path& file);

}  // namespace mediabatch::flac
