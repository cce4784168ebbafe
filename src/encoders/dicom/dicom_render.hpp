#pragma once
// Rendering a DICOM frame as a viewer shows it: grayscale through the modality rescale and the
// VOI window (PS3.3 C.11.2), MONOCHROME1 inverted; colour (palette, YBR, RGB) converted to RGB;
// cropped after that, so a min-max window sees the whole frame. Stateless functions; throw
// Error, and Cancelled through the context.
#include <cstdint>
#include <optional>
#include <vector>

#include "dicom_read.hpp"
#include "png_writer.hpp"

namespace mediabatch {
class EncodeContext;
}

namespace mediabatch::dicom {

struct Crop {
  std::uint32_t width = 0, height = 0, x = 0, y = 0;
};

// automatic: the file's first window when it has one, else min-max; file: the same, with a
// warning when there is none; given: the --window C,W.
enum class WindowMode { automatic, file, minmax, given };

struct RenderOptions {
  WindowMode window = WindowMode::automatic;
  Window given;                // WindowMode::given only
  int depth = 8;               // bits per output sample: 8 or 16
  std::optional<Crop> crop;    // none: the whole frame
};

// Before the first frame: the region every frame is cropped to (throws Error when --crop lies
// outside the image), and a warning in ctx when --window file finds no window in the file.
Crop render_region(const DicomImage& image, const RenderOptions& options, EncodeContext& ctx);

// Working memory reused from one frame to the next.
struct FrameBuffers {
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> rgb;
};

// Frame `index` of the image rendered and cropped: 1 channel (gray) or 3 (RGB) of
// options.depth bits. The pixels live in `buffers` (or in the image) until the next call.
PngImage render_frame(const DicomImage& image, unsigned index, const Crop& crop,
                      const RenderOptions& options, FrameBuffers& buffers, const EncodeContext& ctx);

}  // namespace mediabatch::dicom
