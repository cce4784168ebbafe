#pragma once
// A walk over the data element headers of a DICOM file, before GDCM reads it. GDCM allocates
// each value at the length its header claims and then reads into it, so a Pixel Data that
// claims 4 GB in a 6 KB file costs 4 GB of memory before anything can be checked. The walk
// reads headers only (stepping over values), descends into sequences and encapsulated pixel
// data, and stops quietly at anything it does not know (a deflated data set, a damaged
// header), leaving that file to GDCM's own leniency. Thread-safe; one file per call.
#include <filesystem>

namespace mediabatch::dicom {

// Throws Error when a value claims more bytes than the whole file has ("truncated file: Pixel
// Data needs 4294967280 bytes, the file has 6532", "damaged file: element (0009,1010) needs
// ..."): what GDCM then allocates for a file is bounded by the file's size.
void check_value_lengths(const std::filesystem::path& input);

}  // namespace mediabatch::dicom
