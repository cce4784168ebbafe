#pragma once
// Colour handling of thumbnails: gray stays gray, everything else becomes sRGB. Embedded ICC
// profiles are honoured with Little CMS; CMYK without one uses the plain complement formula
// (what ImageMagick's -colorspace CMYK inverts). Alpha is passed through untouched.
// Thread-safe; nothing global.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

// Returns a gray or RGB image, with alpha when `image` has it. A profile that cannot be used is
// ignored and explained in *note (left empty otherwise).
Image to_output_colour(Image image, const std::vector<std::uint8_t>& icc, std::string* note);

// An opaque colour as ImageMagick users write it: a name ("white", "gray50"), "#RGB", "#RRGGBB",
// "rgb(r,g,b)", or RRGGBB without the '#'. Nothing for anything else, or a colour with
// transparency. Needs magick_init() first.
std::optional<Rgb> parse_colour(const std::string& text);

}  // namespace mediabatch::thumbs
