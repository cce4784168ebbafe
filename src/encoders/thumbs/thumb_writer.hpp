#pragma once
// The last stage of the thumbs encoder: a finished thumbnail (gray or sRGB, with or without
// alpha) to the bytes of a JPEG, PNG or WebP file. JPEG has no transparency, so alpha is laid
// on a background colour there; PNG and WebP keep it. No metadata is written. Thread-safe;
// throws mediabatch::Error with the codec library's message.
#include <cstdint>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

enum class Format { jpg, png, webp };

// "jpg", "png" or "webp": the output file's extension.
const char* extension(Format format) noexcept;

struct WriteOptions {
  Format format = Format::jpg;
  int quality = 85;                // JPEG and WebP, 1-100
  Rgb background{255, 255, 255};   // under transparent pixels, for JPEG
};

// The thumbnail as the codec of options.format takes it: for JPEG, which has no transparency,
// alpha laid on options.background; for PNG and WebP, unchanged. What write_thumbnail()
// encodes, and what --verify compares the decoded file with.
Image as_written(Image image, const WriteOptions& options);

// Encodes a thumbnail made by as_written().
std::vector<std::uint8_t> write_thumbnail(const Image& image, const WriteOptions& options);

}  // namespace mediabatch::thumbs
