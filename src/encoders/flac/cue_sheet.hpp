#pragma once
// The cue sheet of --cue, or given as an input: how it is parsed (FILE, TRACK, INDEX, the
// disc's and the tracks' PERFORMER/TITLE/SONGWRITER/REM COMMENT, ISRC, CATALOG, REM
// DATE/GENRE/DISCNUMBER/TOTALDISCS) into the album tags and the track starts. UTF-16 with a
// BOM, UTF-8 and Latin-1 are read. Plain values; parse errors (INDEX out of order included)
// are mediabatch::UsageError naming the file and line.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "album.hpp"

namespace mediabatch::flac {

struct CueTrack {
  unsigned number = 0;
  TrackInfo info;
  std::string file;             // the FILE this track's INDEX 01 is in
  std::uint64_t start_cd_frames = 0;  // INDEX 01 within that file, in 1/75 s
  bool has_index01 = false;
};

struct CueSheet {
  fs::path path;
  Album album;  // the disc's tags, and the tracks' by number
  std::vector<CueTrack> tracks;
  // FILE names in order of appearance; one empty name when the sheet has no FILE line (it is
  // then of the image named with it on the command line).
  std::vector<std::string> files;

  // One FILE holding every track: a whole-disc image to split.
  bool is_image() const { return files.size() == 1 && tracks.size() > 1; }
  // The image's path, resolved against the cue sheet's folder; empty when the sheet names none.
  fs::path image_path() const;
};

CueSheet read_cue_sheet(const fs::path& path);
// Parses cue sheet text; `name` is used in error messages.
CueSheet parse_cue_sheet(const std::string& text, const fs::path& name);
// Whether these first bytes of a file look like a CUE sheet, in any encoding parse_cue_sheet reads.
bool looks_like_cue_sheet(std::string_view head);

}  // namespace mediabatch::flac
