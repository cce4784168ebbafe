#pragma once
// The album JSON of --album: {"artist", "title", "year", "genre", "tracks": [...]}. Throws
// mediabatch::UsageError naming the file, and the line and column of bad JSON.
#include <filesystem>

#include "album.hpp"

namespace mediabatch::flac {

Album read_album_json(const std::filesystem::path& path);

}  // namespace mediabatch::flac
