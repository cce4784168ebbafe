#pragma once
// Decoding (libavcodec), the first stage of both tracks, and what becomes of damage there. By
// default, as with the ffmpeg CLI, a packet the decoder cannot decode is skipped and a frame
// decoded with damage concealed is kept; both are counted for a warning. With --strict the
// first of them fails the file.
#include <cstdint>
#include <string>
#include <vector>

#include "ffmpeg_errors.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"

namespace mediabatch::video {

// A decoder for `stream` on `threads` threads; `kind` ("video", "audio") names it in reasons.
CodecContext open_decoder(const AVStream* stream, int threads, const std::string& kind);

// What one stream's decoder met: the damage it skipped or concealed. One per track; not
// thread-safe. With `strict`, damage throws Error instead of being counted.
class DecodeLog {
 public:
  // `kind` names the stream in reasons and notes; `time_base` is the stream's.
  DecodeLog(std::string kind, AVRational time_base, bool strict);

  // One note for what was skipped and one for what was concealed ("3 damaged video frames
  // between 1.200 s and 1.360 s concealed"); empty when the stream decoded cleanly.
  std::vector<std::string> notes() const;

  // For decode(): the packet sent (null: the end) and what avcodec_send_packet returned; a
  // decoding error; a decoded frame. Throw Error under --strict, and for no memory always.
  void sent(const AVPacket* packet, int result, const Timeline& time);
  void failed(int code);
  void decoded(const AVFrame* frame, const Timeline& time);

 private:
  // Damage of one kind: how often, and the output times it spans.
  struct Tally {
    std::int64_t count = 0;
    std::int64_t first_us = AV_NOPTS_VALUE;
    std::int64_t last_us = AV_NOPTS_VALUE;
    void add(std::int64_t us);
    std::string note(const std::string& what) const;
  };

  std::string kind_;
  AVRational time_base_;
  bool strict_;
  std::int64_t frames_ = 0;                    // decoded, for reasons
  // Output time of the last packet sent. A decoder on several threads reports an error while
  // it decodes later packets, so a skip is placed a packet or two late then.
  std::int64_t packet_us_ = AV_NOPTS_VALUE;
  std::int64_t corrupt_pts_ = AV_NOPTS_VALUE;  // the last packet the demuxer marked corrupt
  int skip_reason_ = 0;                        // FFmpeg's code for the first skipped packet
  Tally skipped_;
  Tally concealed_;
};

// Sends one packet (or the end, when packet is null) to a decoder and hands on every frame,
// reporting damage to `log`. Throws Error (see DecodeLog), Cancelled.
template <typename OnFrame>
void decode(AVCodecContext* dec, const AVPacket* packet, AVFrame* frame, DecodeLog& log, const Timeline& time,
            OnFrame&& on_frame) {
  log.sent(packet, avcodec_send_packet(dec, packet), time);
  for (;;) {
    const int r = avcodec_receive_frame(dec, frame);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    // A decoding error drops the packet it came from, so receiving goes on with the next one
    // (as FFmpeg 7's fftools/ffmpeg_dec.c does).
    if (r < 0) {
      log.failed(r);
      continue;
    }
    log.decoded(frame, time);
    on_frame(frame);
    av_frame_unref(frame);
  }
}

}  // namespace mediabatch::video
