// The DICOM value-length walk (check_value_lengths in src/encoders/dicom/dicom_lengths.*):
// File Meta, explicit and implicit VR, both byte orders, nested sequences and encapsulated
// Pixel Data, walked in a hostile file before GDCM is let near it.
#include <cstddef>
#include <cstdint>

#include "dicom/dicom_lengths.hpp"
#include "mediabatch/errors.hpp"
#include "memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mbfuzz::MemoryFile file;
  file.fill(data, size);
  try {
    mediabatch::dicom::check_value_lengths(file.path());
  } catch (const mediabatch::Error&) {
  }
  return 0;
}
