// The DICOM accept/probe path (DicomEncoder::accepts in src/encoders/dicom/dicom_encoder.cpp):
// the "DICM" preamble check, and looks_like_bare_dicom's walk over the data elements of a
// file without one. The engine hands accepts() the first bytes of every input of a batch,
// whatever the file is, up to 4096 of them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "mediabatch/encoder.hpp"

namespace mediabatch {
std::unique_ptr<Encoder> make_dicom_encoder();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::unique_ptr<mediabatch::Encoder> dicom = mediabatch::make_dicom_encoder();
  mediabatch::Probe probe;
  probe.path = "fuzz.dcm";
  probe.head = std::string_view(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 4096));
  (void)dicom->accepts(probe);
  return 0;
}
