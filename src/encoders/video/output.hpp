#pragma once
// The output (mux): a Matroska or Ogg file at the temporary output path, and where each
// output stream's packets go on their way there.
#include <cstdint>
#include <string>

#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "verify_output.hpp"

namespace mediabatch::video {

class SpillFile;

// A muxer for `path` (not yet opened for writing: start_output() does that once every stream
// is added), with the input's metadata and `stop` as its interrupt callback.
OutputFormat open_output(const std::string& path, bool ogg, const AVFormatContext* in, const StopFlags& stop);

// Adds the input's chapters (titles and all) that overlap what `time` keeps, moved onto the
// output's time line and clipped to it, as `ffmpeg -ss -t` does. Throws Error.
void copy_chapters(AVFormatContext* out, const AVFormatContext* in, const Timeline& time);

// A new output stream, tagged like `from` (language, title).
AVStream* add_output_stream(AVFormatContext* out, const AVStream* from);

// Creates the file and writes the header. Throws Error, Cancelled.
void start_output(AVFormatContext* out, const std::string& path);

// Writes the trailer and closes the file, both checked. Throws Error, Cancelled.
void finish_output(AVFormatContext* out);

// Where an output stream's packets go: the muxer, or a spill file.
struct Sink {
  AVFormatContext* format = nullptr;
  AVStream* stream = nullptr;
  AVRational time_base{1, 1};  // of the packets handed in
  AVPacket* packet = nullptr;
  SpillFile* spill = nullptr;
  double ipts = 0;  // video: the frame's own time in frames, kept with spilled packets
  std::int64_t packets = 0;
  // What reached the muxer, in time_base, for --verify: the packets that hold data (an empty
  // Theora packet repeats the frame before it, and Ogg drops it), the first one's time and
  // duration, where the last one ends, and all their durations added up.
  std::int64_t muxed = 0;
  std::int64_t first_ts = AV_NOPTS_VALUE;
  std::int64_t first_duration = 0;
  std::int64_t end_ts = AV_NOPTS_VALUE;
  std::int64_t total_duration = 0;

  // Hands `packet` to the muxer (or the spill file, timestamps as they are).
  void write();
  // What this sink handed to the muxer and the stream it went to, for --verify.
  WrittenStream written() const;
};

}  // namespace mediabatch::video
