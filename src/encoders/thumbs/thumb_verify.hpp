#pragma once
// --verify for the thumbs encoder: a written thumbnail decoded again, by code apart from the
// writer's (TurboJPEG for JPEG, libpng's read API for PNG, libwebp's decoder for WebP), and
// compared with the pixels that were encoded. Thread-safe; throws mediabatch::Error.
#include <filesystem>

#include "image.hpp"
#include "thumb_writer.hpp"

namespace mediabatch::thumbs {

// The luma PSNR, in dB, a decoded thumbnail must exceed against what was encoded. Measured
// on 128-pixel thumbnails (JPEG and WebP; photos, colour bars, plasma, gray): 40-44 at quality
// 85, 35-40 at 50, 31-40 at 20, 29-39 at 10 and 24-34 at 1: below quality 20 a sound
// thumbnail can be under 30 dB, so there the bar is 20 dB (damage that decodes without a
// libjpeg or libwebp complaint is far below either; assets/ at quality 1: 24.0 dB at least).
constexpr double kMinPsnr = 30.0;
constexpr double kMinPsnrBelowQuality20 = 20.0;

// The bar for JPEG and WebP thumbnails written at `quality` (1-100).
double min_psnr(int quality) noexcept;

// Decodes the thumbnail at `path`, written in `format` from `encoded` (as_written()'s image),
// and throws Error when it is empty, is not encoded.width x encoded.height, the decoder
// reports damage (libjpeg's warnings included: "Premature end of JPEG file"), or its PSNR
// against `encoded`, on luma and alpha (thumb_verify.cpp says why), is not above
// min_psnr(quality) (PNG: kMinPsnr); a PNG also when any of its samples differs.
void check_thumbnail(const std::filesystem::path& path, const Image& encoded, Format format, int quality);

}  // namespace mediabatch::thumbs
