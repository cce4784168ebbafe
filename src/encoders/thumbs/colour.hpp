#pragma once
// Colour handling of thumbnails: gray stays gray, everything else becomes sRGB. Embedded ICC
// profiles are honoured with Little CMS; CMYK without one uses the plain complement formula
// (what ImageMagick's -colorspace CMYK inverts). Thread-safe; nothing global.
#include <cstdint>
#include <string>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

// Returns a 1- or 3-channel image. A profile that cannot be used is ignored and explained in
// *note (left empty otherwise).
Image to_output_colour(Image image, const std::vector<std::uint8_t>& icc, std::string* note);

}  // namespace mediabatch::thumbs
