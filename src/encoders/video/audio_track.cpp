#include "audio_track.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "decoder.hpp"
#include "mediabatch/errors.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
}

namespace mediabatch::video {

namespace {

// Vorbis fixes the channel order per channel count (libavcodec/vorbis_data.c); converting to
// it with swresample keeps every channel where it belongs.
uint64_t vorbis_layout_mask(int channels) {
  switch (channels) {
    case 1: return AV_CH_LAYOUT_MONO;
    case 2: return AV_CH_LAYOUT_STEREO;
    case 3: return AV_CH_LAYOUT_SURROUND;
    case 4: return AV_CH_LAYOUT_QUAD;
    case 5: return AV_CH_LAYOUT_5POINT0_BACK;
    case 6: return AV_CH_LAYOUT_5POINT1_BACK;
    case 7: return AV_CH_LAYOUT_6POINT1;
    case 8: return AV_CH_LAYOUT_7POINT1;
    default: return AV_CH_LAYOUT_STEREO;
  }
}

}  // namespace

AudioTrack::AudioTrack(AVStream* in, AVFormatContext* out, AVPacket* packet, const Settings& settings, int threads,
                       EncodeContext& ctx)
    : in_(in), decoder_(open_decoder(in, threads, "audio")), log_("audio", in->time_base, settings.strict) {
  if (decoder_->sample_rate <= 0) throw Error("the audio stream has no sample rate");
  if (decoder_->ch_layout.nb_channels <= 0) throw Error("the audio stream has no channels");
  open_encoder(out, settings, threads, ctx);
  AVStream* st = add_output_stream(out, in);
  const int r = avcodec_parameters_from_context(st->codecpar, encoder_.get());
  if (r < 0) fail("setting up the audio stream", r);
  st->time_base = encoder_->time_base;
  sink_ = Sink{out, st, encoder_->time_base, packet};
  open_buffers();
}

// The Vorbis encoder, set as `ffmpeg -c:a libvorbis -q:a N` sets it.
void AudioTrack::open_encoder(const AVFormatContext* out, const Settings& settings, int threads, EncodeContext& ctx) {
  const AVCodec* vorbis = avcodec_find_encoder_by_name("libvorbis");
  if (!vorbis) throw Error("this FFmpeg has no libvorbis encoder");
  encoder_.reset(avcodec_alloc_context3(vorbis));
  if (!encoder_) throw Error("out of memory");
  AVCodecContext* enc = encoder_.get();
  enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  enc->sample_rate = decoder_->sample_rate;
  const int channels = decoder_->ch_layout.nb_channels;
  if (channels > 8) ctx.warn(std::to_string(channels) + " audio channels mixed down to stereo (Vorbis in FFmpeg takes 8 at most)");
  int r = av_channel_layout_from_mask(&enc->ch_layout, vorbis_layout_mask(channels));
  if (r < 0) fail("setting the channel layout", r);
  enc->time_base = AVRational{1, enc->sample_rate};
  enc->flags |= AV_CODEC_FLAG_QSCALE;  // what `ffmpeg -q:a N` sets
  enc->global_quality = static_cast<int>(FF_QP2LAMBDA * settings.audio_quality);
  enc->thread_count = threads;
  if (out->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  r = avcodec_open2(enc, vorbis, nullptr);
  if (r < 0) fail("opening the Vorbis encoder", r);
}

void AudioTrack::open_buffers() {
  const AVCodecContext* enc = encoder_.get();
  frame_size_ = enc->frame_size > 0 ? enc->frame_size : 1024;
  fifo_.reset(av_audio_fifo_alloc(enc->sample_fmt, enc->ch_layout.nb_channels, frame_size_ * 4));
  chunk_.reset(av_frame_alloc());
  if (!fifo_ || !chunk_) throw Error("out of memory");
  chunk_->format = enc->sample_fmt;
  chunk_->sample_rate = enc->sample_rate;
  chunk_->nb_samples = frame_size_;
  int r = av_channel_layout_copy(&chunk_->ch_layout, &enc->ch_layout);
  if (r < 0) fail("copying a channel layout", r);
  r = av_frame_get_buffer(chunk_.get(), 0);
  if (r < 0) fail("allocating audio buffers", r);
}

void AudioTrack::decode(const AVPacket* packet, AVFrame* frame, const Timeline& time) {
  video::decode(decoder_.get(), packet, frame, log_, time, [&](AVFrame* f) { on_frame(f, time); });
}

std::int64_t AudioTrack::reached_us() const {
  return write_pos_ == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale(write_pos_, AV_TIME_BASE, encoder_->sample_rate);
}

void AudioTrack::configure_resampler(const AVFrame* f) {
  ChannelLayout layout;
  if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0) {
    int channels = f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : decoder_->ch_layout.nb_channels;
    av_channel_layout_default(&layout.layout, channels);
  } else {
    int r = av_channel_layout_copy(&layout.layout, &f->ch_layout);
    if (r < 0) fail("copying a channel layout", r);
  }
  if (resampler_ && f->format == resampler_format_ && f->sample_rate == resampler_rate_ &&
      av_channel_layout_compare(&layout.layout, &resampler_layout_.layout) == 0)
    return;
  SwrContext* raw = nullptr;
  int r = swr_alloc_set_opts2(&raw, &encoder_->ch_layout, encoder_->sample_fmt, encoder_->sample_rate,
                              &layout.layout, static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
  ResampleContext swr(raw);
  if (r < 0) fail("setting up the audio conversion", r);
  r = swr_init(swr.get());
  if (r < 0) fail("setting up the audio conversion", r);
  resampler_ = std::move(swr);
  resampler_format_ = f->format;
  resampler_rate_ = f->sample_rate;
  av_channel_layout_uninit(&resampler_layout_.layout);
  r = av_channel_layout_copy(&resampler_layout_.layout, &layout.layout);
  if (r < 0) fail("copying a channel layout", r);
}

void AudioTrack::ensure_converted_capacity(int samples) {
  if (converted_ && converted_->nb_samples >= samples) return;
  Frame f(av_frame_alloc());
  if (!f) throw Error("out of memory");
  f->format = encoder_->sample_fmt;
  f->sample_rate = encoder_->sample_rate;
  int r = av_channel_layout_copy(&f->ch_layout, &encoder_->ch_layout);
  if (r < 0) fail("copying a channel layout", r);
  f->nb_samples = std::max(samples, 4096);
  r = av_frame_get_buffer(f.get(), 0);
  if (r < 0) fail("allocating audio buffers", r);
  converted_ = std::move(f);
}

// Appends converted samples at write_pos_, keeping only [0 if trimming, end_sample_).
void AudioTrack::push(uint8_t** planes, int count) {
  if (count <= 0) return;
  const std::int64_t begin = write_pos_, end = write_pos_ + count;
  write_pos_ = end;
  const std::int64_t keep_begin = trim_start_ ? std::max<std::int64_t>(begin, 0) : begin;
  const std::int64_t keep_end = std::min(end, end_sample_);
  if (keep_end >= end_sample_) done_ = true;
  if (keep_end <= keep_begin) return;
  if (av_audio_fifo_size(fifo_.get()) == 0) fifo_pts_ = keep_begin;
  const auto offset = static_cast<std::size_t>(keep_begin - begin) * sizeof(float);
  std::vector<void*> from(static_cast<std::size_t>(encoder_->ch_layout.nb_channels));
  for (std::size_t c = 0; c < from.size(); ++c) from[c] = planes[c] + offset;
  const int n = static_cast<int>(keep_end - keep_begin);
  const int r = av_audio_fifo_write(fifo_.get(), from.data(), n);
  if (r < n) fail("buffering audio", r < 0 ? r : AVERROR(ENOMEM));
}

// Hands the FIFO to the encoder in frame_size_ pieces; at the end also the short remainder.
void AudioTrack::send_chunks(bool last) {
  for (;;) {
    const int available = av_audio_fifo_size(fifo_.get());
    if (available == 0 || (available < frame_size_ && !last)) return;
    const int n = std::min(available, frame_size_);
    const int r = av_frame_make_writable(chunk_.get());
    if (r < 0) fail("allocating audio buffers", r);
    chunk_->nb_samples = n;
    if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(chunk_->extended_data), n) < n)
      throw Error("reading buffered audio");
    chunk_->pts = fifo_pts_;
    fifo_pts_ += n;
    encode(chunk_.get());
  }
}

// Sends a frame (null: the end) to the encoder and moves what it has ready to the muxer.
void AudioTrack::encode(const AVFrame* frame) {
  int r = avcodec_send_frame(encoder_.get(), frame);
  if (r < 0) fail("encoding Vorbis", r);
  for (;;) {
    r = avcodec_receive_packet(encoder_.get(), sink_.packet);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail("encoding Vorbis", r);
    sink_.write();
  }
}

void AudioTrack::on_frame(AVFrame* f, const Timeline& time) {
  if (write_pos_ == AV_NOPTS_VALUE) {
    // Later frames follow on sample by sample from the first one's time, so nothing drifts
    // (as with the ffmpeg CLI without -async), except across a hole (fill_gap_before).
    std::int64_t rel_us = 0;
    if (f->best_effort_timestamp != AV_NOPTS_VALUE) rel_us = time.output_us(f->best_effort_timestamp, in_->time_base);
    write_pos_ = av_rescale(rel_us, encoder_->sample_rate, AV_TIME_BASE);
    end_sample_ = time.end_us == kNoLimit ? kNoLimit : av_rescale(time.end_us, encoder_->sample_rate, AV_TIME_BASE);
    trim_start_ = time.trim_start;
  } else if (f->best_effort_timestamp != AV_NOPTS_VALUE) {
    fill_gap_before(f, time);
  }
  configure_resampler(f);
  const int room = swr_get_out_samples(resampler_.get(), f->nb_samples);
  if (room < 0) fail("converting audio", room);
  ensure_converted_capacity(room);
  const int got = swr_convert(resampler_.get(), converted_->extended_data, converted_->nb_samples,
                              const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
  if (got < 0) fail("converting audio", got);
  push(converted_->extended_data, got);
  send_chunks(false);
}

// A packet skipped as damaged, or data the demuxer lost, leaves a hole in the time line: it is
// filled with silence, or everything after it would play early. Less than half a frame is
// timestamp rounding (Matroska's 1 ms), not a hole.
void AudioTrack::fill_gap_before(const AVFrame* f, const Timeline& time) {
  const int rate = encoder_->sample_rate;
  const std::int64_t at = av_rescale(time.output_us(f->best_effort_timestamp, in_->time_base), rate, AV_TIME_BASE);
  const std::int64_t buffered = resampler_ ? swr_get_delay(resampler_.get(), rate) : 0;  // lands before the frame
  if (f->sample_rate > 0 && at - (write_pos_ + buffered) > av_rescale(f->nb_samples, rate, f->sample_rate) / 2)
    fill_silence(at - buffered);
}

// Silence from write_pos_ up to `until_sample`, a buffer at a time.
void AudioTrack::fill_silence(std::int64_t until_sample) {
  ensure_converted_capacity(4096);
  while (write_pos_ < until_sample && !done_) {
    const int n = static_cast<int>(std::min<std::int64_t>(until_sample - write_pos_, converted_->nb_samples));
    const int r = av_samples_set_silence(converted_->extended_data, 0, n, encoder_->ch_layout.nb_channels,
                                         encoder_->sample_fmt);
    if (r < 0) fail("filling a gap in the audio", r);
    push(converted_->extended_data, n);
    send_chunks(false);
  }
}

void AudioTrack::flush(std::int64_t until_us) {
  if (resampler_) {
    ensure_converted_capacity(4096);
    for (;;) {
      const int got = swr_convert(resampler_.get(), converted_->extended_data, converted_->nb_samples, nullptr, 0);
      if (got < 0) fail("converting audio", got);
      if (got == 0) break;
      push(converted_->extended_data, got);
    }
  }
  if (until_us != AV_NOPTS_VALUE && write_pos_ != AV_NOPTS_VALUE)
    fill_silence(av_rescale(until_us, encoder_->sample_rate, AV_TIME_BASE));
  send_chunks(true);
  encode(nullptr);
}

}  // namespace mediabatch::video
