#pragma once
// Reading a DICOM file with GDCM: the decoded pixel data (every transfer syntax) and the
// attributes a viewer needs to render it. One DicomImage per file, owned by one thread;
// read_dicom() throws Error (or Skip when the file holds no image) with GDCM's context.
#include <gdcmPhotometricInterpretation.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace gdcm {
class ImageReader;
class LookupTable;
}  // namespace gdcm

namespace mediabatch {
class EncodeContext;
}

namespace mediabatch::dicom {

// A VOI window in modality units (after Rescale Slope/Intercept).
struct Window {
  double center = 0;
  double width = 0;
};

// VOI LUT Function (0028,1056) of the file's window.
enum class VoiFunction { linear, linear_exact, sigmoid };

struct DicomImage {
  DicomImage();
  ~DicomImage();
  // Moving keeps data and lut valid: both point into heap storage that moves with the object.
  DicomImage(DicomImage&&) noexcept;
  DicomImage& operator=(DicomImage&&) = delete;

  bool gray() const noexcept {
    return pi == gdcm::PhotometricInterpretation::MONOCHROME1 ||
           pi == gdcm::PhotometricInterpretation::MONOCHROME2;
  }

  std::unique_ptr<gdcm::ImageReader> reader;  // owns the file's bytes and the palette
  std::vector<char> buffer;         // GDCM's decoded pixels, when it had to decode them
  const char* data = nullptr;       // the pixels: buffer, or the file's uncompressed pixel data
  std::size_t data_size = 0;
  unsigned width = 0, height = 0, frames = 1;
  unsigned samples = 1, bits_allocated = 8, bits_stored = 8, high_bit = 7;
  bool is_signed = false;
  bool planar = false;
  gdcm::PhotometricInterpretation::PIType pi = gdcm::PhotometricInterpretation::MONOCHROME2;
  double slope = 1, intercept = 0;
  std::optional<Window> file_window;
  VoiFunction file_function = VoiFunction::linear;
  const gdcm::LookupTable* lut = nullptr;  // PALETTE COLOR only
  std::size_t frame_bytes = 0;
};

// Reads and decodes ctx.input(): every frame the pixel data holds (a warning in ctx when it
// holds fewer than Number of Frames says), colour samples interleaved or planar as planar
// says, 8-bit YBR_FULL_422 already upsampled to three samples a pixel. Checks ctx for stop.
// Before GDCM reads values, every value length must fit in the file (dicom_lengths.hpp);
// before it decodes, Rows x Columns x Number of Frames must be at most max_pixels (0: no limit).
DicomImage read_dicom(EncodeContext& ctx, std::uint64_t max_pixels);

// The frames read_dicom() finds in the file by its header alone, without decoding (at least
// 1). A file it would refuse (unreadable, above max_pixels, more frames claimed than the file
// has bytes) counts as 1: read_dicom() then says why. Thread-safe.
unsigned planned_frames(const std::filesystem::path& input, std::uint64_t max_pixels);

// Silences GDCM's own messages and builds its dictionaries; once per process, thread-safe.
void prepare_gdcm();

}  // namespace mediabatch::dicom
