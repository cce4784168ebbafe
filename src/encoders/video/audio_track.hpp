#pragma once
// An audio track: decode -> swresample to Vorbis' layout and float planes -> a FIFO cut into
// the encoder's frame size -> libavcodec's libvorbis -> the muxer. One per kept audio stream;
// not thread-safe.
#include <cstdint>

#include "decoder.hpp"
#include "ffmpeg_handles.hpp"
#include "input.hpp"
#include "output.hpp"

namespace mediabatch::video {

class AudioTrack {
 public:
  // Opens the decoder and the Vorbis encoder (both on `threads` threads) and adds the output
  // stream to `out`, written through `packet`. Throws Error.
  AudioTrack(AVStream* in, AVFormatContext* out, AVPacket* packet, const Settings& settings, int threads,
             EncodeContext& ctx);

  // Sends one packet of the track's stream (null: the end) through the track.
  void decode(const AVPacket* packet, AVFrame* frame, const Timeline& time);
  // Codes what is left in the resampler and the FIFO, then drains the encoder. `until_us`
  // (else AV_NOPTS_VALUE): output time to fill with silence up to first, for an input cut
  // short whose audio stops before its video.
  void flush(std::int64_t until_us);

  bool done() const { return done_; }
  std::int64_t packets() const { return sink_.packets; }
  // What went to the muxer, for --verify.
  WrittenStream written() const { return sink_.written(); }
  const DecodeLog& decode_log() const { return log_; }
  // Output time where the converted audio ends; AV_NOPTS_VALUE before the first frame.
  std::int64_t reached_us() const;

 private:
  void open_encoder(const AVFormatContext* out, const Settings& settings, int threads, EncodeContext& ctx);
  void open_buffers();
  void on_frame(AVFrame* f, const Timeline& time);
  void fill_gap_before(const AVFrame* f, const Timeline& time);
  void fill_silence(std::int64_t until_sample);
  void configure_resampler(const AVFrame* f);
  void ensure_converted_capacity(int samples);
  void push(uint8_t** planes, int count);
  void send_chunks(bool last);
  void encode(const AVFrame* frame);

  AVStream* in_ = nullptr;
  CodecContext decoder_;
  CodecContext encoder_;
  Sink sink_;
  ResampleContext resampler_;
  int resampler_format_ = -1;  // the input side the resampler was set up for
  int resampler_rate_ = 0;
  ChannelLayout resampler_layout_;
  AudioFifo fifo_;
  Frame converted_;  // swresample's output, grown as needed
  Frame chunk_;      // exactly frame_size_ samples for the encoder
  int frame_size_ = 0;
  std::int64_t write_pos_ = AV_NOPTS_VALUE;  // output time of the next converted sample, in samples
  std::int64_t fifo_pts_ = 0;                // output time of the first sample in the FIFO
  std::int64_t end_sample_ = kNoLimit;
  bool trim_start_ = false;
  DecodeLog log_;
  bool done_ = false;
};

}  // namespace mediabatch::video
