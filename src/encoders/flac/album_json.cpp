#include "album_json.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mediabatch/errors.hpp"

namespace mediabatch::flac {

namespace {

// A JSON scalar as tag text: strings as they are, numbers as written ("year": 1997).
std::string scalar(const nlohmann::json& v, const std::string& where, const fs::path& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return v.dump();
  if (v.is_null()) return {};
  throw UsageError(path.string() + ": \"" + where + "\" must be a string or a number");
}

// Where the parser stopped, as line:column (e.byte is 1-based, past the bad character), which
// an editor can jump to; nlohmann only gives a byte offset.
UsageError parse_error(const nlohmann::json::parse_error& e, const std::string& text, const fs::path& path) {
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
  return UsageError(path.string() + ": invalid JSON at line " + std::to_string(line) + ", column " +
                    std::to_string(column) + ": " + why);
}

// "tracks": a title, or {"title", "artist"} for a track by another artist.
std::vector<TrackInfo> read_tracks(const nlohmann::json& j, const fs::path& path) {
  auto tracks = j.find("tracks");
  if (tracks == j.end() || !tracks->is_array() || tracks->empty())
    throw UsageError(path.string() + ": \"tracks\" must be a non-empty array of titles");
  std::vector<TrackInfo> out;
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
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

Album read_album_json(const fs::path& path) {
  const std::string text = read_text_file(path, "album file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw parse_error(e, text, path);
  } catch (const nlohmann::json::exception& e) {
    // A number beyond a double ("year": 1e400) is nlohmann's out_of_range, not a parse_error.
    const std::string why = e.what();
    const auto tag = why.find("] ");
    throw UsageError(path.string() + ": invalid JSON: " + (tag == std::string::npos ? why : why.substr(tag + 2)));
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
  a.tracks = read_tracks(j, path);
  return a;
}

}  // namespace mediabatch::flac
