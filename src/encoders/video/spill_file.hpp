#pragma once
// The coded packets of a later part of the video, kept in an anonymous temporary file (gone
// when closed, or when the process dies) until the parts before it are in the output. It is
// made in the output's folder, which has room for the output anyway (/tmp may not). One
// writer, then one reader; throws Error.
#include <cstdint>

#include "mediabatch/encoder.hpp"
#include "mediabatch/file_io.hpp"

struct AVPacket;

namespace mediabatch::video {

class SpillFile {
 public:
  explicit SpillFile(const fs::path& dir);
  // Appends `p` and the time kept with it.
  void put(const AVPacket* p, double ipts);
  void rewind();
  // The next packet into `p` (unreferenced first) and the time kept with it; false at the end.
  bool get(AVPacket* p, double& ipts);

 private:
  struct Record {
    std::int64_t pts, dts, duration;
    double ipts;
    int flags, size;
  };
  File file_;
};

}  // namespace mediabatch::video
