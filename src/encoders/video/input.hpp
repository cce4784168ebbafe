#pragma once
// The input (demux): opening it, choosing its streams, the time line the whole file shares,
// and reading packets. Every reading of a file, the main one and each part's, opens it here.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "transcode.hpp"

namespace mediabatch::video {

constexpr AVRational kMicroseconds{1, AV_TIME_BASE};
constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();

// "2.500 s": a time in microseconds, for reasons.
std::string time_text(std::int64_t us);

// Opens `path` with `stop` as its interrupt callback and reads the stream parameters.
// Throws Error ("opening the input: ..."), Cancelled.
InputFormat open_input(const std::string& path, const StopFlags& stop);

// The first video stream (cover art is not video), the first or every audio stream;
// subtitles and data are dropped. Throws Error when there is neither audio nor video.
struct InputStreams {
  AVStream* video = nullptr;
  std::vector<AVStream*> audio;
};
InputStreams select_streams(const AVFormatContext* in, bool all_audio);

// What the whole file shares: the time origin and the limits from --start / --duration.
struct Timeline {
  std::int64_t origin_us = 0;      // input time that becomes 0 in the output
  bool trim_start = false;         // drop what lies before the origin (--start was given)
  std::int64_t end_us = kNoLimit;  // output time where the output ends (--duration)

  // A timestamp of a stream as output time.
  std::int64_t output_us(std::int64_t ts, AVRational time_base) const;
};

// The time line of `settings`; with --start, also seeks the input there (a failed seek is a
// warning: the file is then decoded from the beginning).
Timeline start_timeline(AVFormatContext* in, const Settings& settings, EncodeContext& ctx);

// Output time where the input should end: the container's own length, or --duration. Only
// for an input with a known duration (in->duration > 0).
std::int64_t expected_end_us(const AVFormatContext* in, const Timeline& time);

// Seeks to the key frame at or before input time `us`; returns FFmpeg's code.
int seek_key_frame(AVFormatContext* in, std::int64_t us);

// The next packet into `packet`: 0; AVERROR_EOF at the end of the input; else FFmpeg's code
// for an input that breaks off (cut short, or damaged where the demuxer cannot go on).
// Throws Error for no memory, Cancelled.
int read_packet(AVFormatContext* in, AVPacket* packet);

}  // namespace mediabatch::video
