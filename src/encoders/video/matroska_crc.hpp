#pragma once
// --verify: the CRC-32 elements of a Matroska file. FFmpeg's Matroska muxer puts one at the
// start of every top-level element (clusters, cues, tracks...), but its demuxer skips them, and
// its Theora decoder only logs most damage in a frame's coefficients: so a few bytes changed in
// a cluster would otherwise pass unseen. (Ogg pages carry CRCs that FFmpeg's Ogg demuxer checks
// itself: a damaged page is dropped, and its frames go missing from the count.)
#include "mediabatch/encoder.hpp"

namespace mediabatch::video {

// Walks the Segment of the Matroska file at `path` element by element and checks every CRC-32
// against the bytes it covers. Throws Error when the file is cut short, an element's header
// is broken or runs past the Segment, or a CRC does not match ("the Cluster at byte 65408
// fails its CRC-32 check"). Thread-safe.
void check_matroska_crcs(const fs::path& path);

}  // namespace mediabatch::video
