#pragma once
// HEIC/HEIF and AVIF photos through libheif: recognised by their ftyp box, decoded upright
// (libheif applies the irot, imir and clap transformations), from a stored thumbnail item
// when one is large enough. Each call owns its libheif objects; thread-safe once
// heif_library_init() has run. Failures throw mediabatch::Error("HEIF: " + libheif's message).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "image.hpp"

namespace mediabatch::thumbs {

struct HeifDecoded {
  Image image;                        // upright RGB, with alpha when the image has it
  Size full;                          // the primary image as shown: after irot and clap
  std::vector<std::uint8_t> icc;      // the pixels' ICC profile (embedded, or made from nclx
                                      // colour); empty when they are sRGB
  std::vector<std::string> warnings;  // libheif's decoding warnings, colour notes
};

// libheif's one-time start-up (its decoder plugins); call once per process before heif_decode().
void heif_library_init();

// Whether the bytes start with an ISO BMFF ftyp box whose major or compatible brands name a
// HEIF image or sequence (heic, heix, hevc, heim, heis, mif1, msf1) or AVIF (avif, avis).
bool is_heif(const std::uint8_t* data, std::size_t size) noexcept;

// Decodes the primary image for a thumbnail that fits `box`: from the smallest thumbnail item
// that covers the fitted size and is a scaled copy of the primary (same aspect, rotation and
// mirroring, colour and alpha), else (or when that does not decode) the whole picture. A
// stored size of more than max_pixels pixels (0: no limit) fails before anything is decoded.
// libheif and its decoders run on at most `threads` threads at a time.
HeifDecoded heif_decode(const std::uint8_t* data, std::size_t size, Size box, std::uint64_t max_pixels,
                        int threads);

}  // namespace mediabatch::thumbs
