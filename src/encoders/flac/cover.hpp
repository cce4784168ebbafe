#pragma once
// The front cover for --cover: a JPEG or PNG file read once, with the dimensions the FLAC
// PICTURE block records. Plain value; read_cover() throws mediabatch::UsageError.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mediabatch::flac {

struct Cover {
  std::string mime;  // "image/jpeg" or "image/png"
  std::uint32_t width = 0, height = 0, depth = 0, colors = 0;
  std::vector<unsigned char> data;
};

Cover read_cover(const std::filesystem::path& path);

}  // namespace mediabatch::flac
