#pragma once
// The video track: decode -> scale to yuv420p (or a VideoFilter graph) -> frame rate ->
// TheoraEncoder -> a Sink. One per reading of the file (the main one, and each part's); not
// thread-safe.
#include <cstdint>
#include <limits>
#include <memory>

#include "decoder.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "output.hpp"
#include "theora_encoder.hpp"
#include "video_filter.hpp"

namespace mediabatch::video {

// The stretch of output time a video track codes, and what it found there: the part
// descriptions and the tracks that code them share it.
struct Span {
  std::int64_t begin_us = std::numeric_limits<std::int64_t>::min();  // frames at [begin_us, end_us)
  std::int64_t end_us = kNoLimit;
  std::int64_t first_kept_us = AV_NOPTS_VALUE;  // the first frame coded
  std::int64_t next_frame_us = AV_NOPTS_VALUE;  // the first frame at end_us or later
  std::int64_t reached_us = 0;                  // output time where the last decoded frame ends
  bool untimed = false;                         // a frame had no timestamp
};

// How a video stream is coded: the Theora set-up (the upright picture's size after
// --max-height, rate, quality) and what its pictures need on the way there.
struct VideoParams {
  TheoraParams theora;
  PictureParams picture;
};
VideoParams video_params(AVFormatContext* in, AVStream* video_in, const AVCodecContext* decoder,
                         const Settings& settings);

class VideoTrack {
 public:
  // Everything but where the packets go (write_to() or spill_to()); `threads`: the picture
  // filters' share of the job's threads, as the decoder's; `strict`: damage fails (see
  // DecodeLog). Throws Error.
  VideoTrack(AVStream* in, CodecContext decoder, const VideoParams& params, int threads, bool strict);

  // Adds the Theora stream to `out` and writes there, through `packet`.
  void write_to(AVFormatContext* out, AVPacket* packet, const VideoParams& params);
  // Keeps the coded packets, timestamps as they are, in `spill` (a later part).
  void spill_to(SpillFile& spill, AVPacket* packet);

  // Sends one packet of the track's stream (null: the end) through the track.
  void decode(const AVPacket* packet, AVFrame* frame, const Timeline& time, const EncodeContext& ctx);
  // Writes the packets a later part spilled after this track's own, each frame placed again
  // by the rule it was placed by; false when one would go back (the parts do not join up).
  bool append(SpillFile& spill, const Span& part);

  bool done() const { return done_; }
  std::int64_t packets() const { return sink_.packets; }
  // What went to the muxer (write_to()), for --verify.
  WrittenStream written() const { return sink_.written(); }
  const DecodeLog& decode_log() const { return log_; }
  // Where the track starts and ends (set before the first frame), and what it found there.
  Span span;

 private:
  struct Copies {
    std::int64_t total = 1;    // output frames for this input frame...
    std::int64_t repeats = 0;  // ...of which the first ones repeat the previous frame (a pause)
  };
  void on_frame(AVFrame* f, const Timeline& time, const EncodeContext& ctx);
  void receive_filtered(const Timeline& time, const EncodeContext& ctx);
  void finish_filter(const Timeline& time, const EncodeContext& ctx);
  void on_picture(const AVFrame* f, std::int64_t ts, AVRational time_base, const Timeline& time,
                  const EncodeContext& ctx);
  bool place_in_span(const AVFrame* f, std::int64_t ts, AVRational time_base, const Timeline& time, double& ipts);
  Copies copies_at(double ipts);
  const AVFrame* to_yuv420p(const AVFrame* f);
  void keep_last(const AVFrame* f);
  void encode(const AVFrame* f, std::int64_t pts);

  AVStream* in_ = nullptr;
  CodecContext decoder_;
  TheoraEncoder encoder_;
  Sink sink_;
  std::int64_t next_pts_ = 0;  // next output timestamp, in the encoder's time base (frames)
  int width_ = 0;  // of the output picture
  int height_ = 0;
  AVRational time_base_{1, 25};  // of the output: one tick per frame
  PictureParams picture_;
  int threads_ = 1;             // for the filter graph
  ScaleContext scaler_;         // the pictures that need no filter graph
  Frame scaled_;
  std::unique_ptr<VideoFilter> filter_;  // made for the first frame that needs one
  Frame filtered_;
  Frame last_;                  // constant rate only: the frame sent last
  bool constant_rate_ = false;  // Ogg: duplicate or drop frames to keep a constant rate
  DecodeLog log_;
  bool done_ = false;
};

}  // namespace mediabatch::video
