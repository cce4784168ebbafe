#include "video_track.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "decoder.hpp"
#include "mediabatch/errors.hpp"
#include "spill_file.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace mediabatch::video {

namespace {

constexpr std::int64_t kMaxDuplicates = 1000;  // as many frames as ffmpeg repeats before it warns

// The ffmpeg CLI's rule for a variable-rate muxer: a frame (at `ipts`, in frames) keeps its own
// time rounded to the frame grid, unless that is taken: then it follows the one before, or is
// dropped when it would go back 0.6 frame or more. False: dropped. The rule depends on the
// frames before, so parts coded apart are placed again with it when they are joined.
bool place_variable_rate(double ipts, std::int64_t& next_pts) {
  const double delta = ipts - static_cast<double>(next_pts) + 1;
  if (delta <= -0.6) return false;
  if (delta > 0.6) next_pts = std::llrint(ipts);
  return true;
}

}  // namespace

TheoraParams theora_params(AVFormatContext* in, AVStream* video_in, const AVCodecContext* decoder,
                           const Settings& settings) {
  int width = decoder->width, height = decoder->height;
  if (width <= 0 || height <= 0) throw Error("the video stream has no frame size");
  if (settings.max_height > 0 && height > settings.max_height) {
    const int h = std::max(2, settings.max_height & ~1);
    const int w = std::max(2, 2 * static_cast<int>(std::lround(static_cast<double>(width) * h / height / 2.0)));
    width = w;
    height = h;
  }
  AVRational rate = av_guess_frame_rate(in, video_in, nullptr);
  if (rate.num <= 0 || rate.den <= 0) rate = AVRational{25, 1};
  TheoraParams params;
  params.width = width;
  params.height = height;
  params.frame_rate = rate;
  params.sample_aspect = av_guess_sample_aspect_ratio(in, video_in, nullptr);
  params.quality = settings.video_quality;
  // --speed 0, 1, 3: libtheora's levels 0, 1 and 2 for every frame; 2: level 1, and level 2
  // for the frames no other frame predicts from.
  params.speed_level = settings.speed >= 3 ? std::numeric_limits<int>::max() : std::min(settings.speed, 1);
  params.fast_unreferenced = settings.speed == 2;
  return params;
}

VideoTrack::VideoTrack(AVStream* in, CodecContext decoder, const TheoraParams& params)
    : in_(in),
      decoder_(std::move(decoder)),
      encoder_(params),
      width_(params.width),
      height_(params.height),
      time_base_(av_inv_q(params.frame_rate)),
      scaled_(av_frame_alloc()) {
  if (!scaled_) throw Error("out of memory");
  scaled_->format = AV_PIX_FMT_YUV420P;
  scaled_->width = params.width;
  scaled_->height = params.height;
  const int r = av_frame_get_buffer(scaled_.get(), 0);
  if (r < 0) fail("allocating a frame", r);
}

void VideoTrack::write_to(AVFormatContext* out, AVPacket* packet, const TheoraParams& params) {
  AVStream* st = add_output_stream(out, in_);
  AVCodecParameters* par = st->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = AV_CODEC_ID_THEORA;
  par->format = AV_PIX_FMT_YUV420P;
  par->width = params.width;
  par->height = params.height;
  par->sample_aspect_ratio = params.sample_aspect;
  const std::vector<std::uint8_t>& headers = encoder_.headers();
  par->extradata = static_cast<uint8_t*>(av_mallocz(headers.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) throw Error("out of memory");
  std::copy(headers.begin(), headers.end(), par->extradata);
  par->extradata_size = static_cast<int>(headers.size());
  st->time_base = time_base_;
  st->avg_frame_rate = params.frame_rate;
  st->sample_aspect_ratio = params.sample_aspect;
  sink_ = Sink{out, st, time_base_, packet};
  constant_rate_ = !(out->oformat->flags & AVFMT_VARIABLE_FPS);
}

void VideoTrack::spill_to(SpillFile& spill, AVPacket* packet) {
  sink_ = Sink{nullptr, nullptr, time_base_, packet, &spill};
}

void VideoTrack::decode(const AVPacket* packet, AVFrame* frame, const Timeline& time, const EncodeContext& ctx) {
  video::decode(decoder_.get(), packet, frame, "video", decoded_, [&](AVFrame* f) { on_frame(f, time, ctx); });
}

bool VideoTrack::append(SpillFile& spill, const Span& part) {
  spill.rewind();
  double ipts = 0;
  while (spill.get(sink_.packet, ipts)) {
    if (!place_variable_rate(ipts, next_pts_)) return false;
    sink_.packet->pts = sink_.packet->dts = next_pts_++;
    sink_.write();
  }
  span.reached_us = std::max(span.reached_us, part.reached_us);
  return true;
}

void VideoTrack::on_frame(AVFrame* f, const Timeline& time, const EncodeContext& ctx) {
  ++decoded_;
  double ipts = static_cast<double>(next_pts_);
  if (f->best_effort_timestamp == AV_NOPTS_VALUE)
    span.untimed = true;
  else if (!place_in_span(f, time, ipts))
    return;
  Copies copies = copies_at(ipts);
  if (copies.total == 0) return;
  sink_.ipts = ipts;
  for (std::int64_t i = 0; i < copies.repeats; ++i, --copies.total) {
    ctx.throw_if_stopped();
    encode(last_.get(), next_pts_++);
  }
  const AVFrame* out = to_yuv420p(f);
  for (std::int64_t i = 0; i < copies.total; ++i) {
    if (i > 0) ctx.throw_if_stopped();
    encode(out, next_pts_++);
  }
  if (constant_rate_) keep_last(out);  // to fill a pause before the next frame
}

// A timed frame: false when it lies outside the span (before it: dropped; at its end or
// after: the track is done). Else `ipts` becomes its time in frames.
bool VideoTrack::place_in_span(const AVFrame* f, const Timeline& time, double& ipts) {
  const std::int64_t rel_us = time.output_us(f->best_effort_timestamp, in_->time_base);
  if (rel_us < span.begin_us) return false;
  if (rel_us >= span.end_us) {
    done_ = true;
    span.next_frame_us = rel_us;
    return false;
  }
  if (span.first_kept_us == AV_NOPTS_VALUE) span.first_kept_us = rel_us;
  const std::int64_t length_us = f->pkt_duration > 0 ? av_rescale_q(f->pkt_duration, in_->time_base, kMicroseconds)
                                                     : av_rescale_q(1, time_base_, kMicroseconds);
  span.reached_us = std::max(span.reached_us, rel_us + length_us);
  const AVRational tb = time_base_;
  ipts = static_cast<double>(rel_us) * tb.den / (static_cast<double>(tb.num) * AV_TIME_BASE);
  return true;
}

// The ffmpeg CLI's frame-rate logic (fftools/ffmpeg.c do_video_out): with a variable-rate
// muxer a frame keeps its own time, rounded to the encoder's time base; with Ogg the rate is
// constant, so frames are duplicated or dropped to fill the grid.
VideoTrack::Copies VideoTrack::copies_at(double ipts) {
  Copies copies;
  const double delta0 = ipts - static_cast<double>(next_pts_);
  const double delta = delta0 + 1;
  if (!constant_rate_) {
    if (!place_variable_rate(ipts, next_pts_)) copies.total = 0;
    return copies;
  }
  if (delta < -1.1) {
    copies.total = 0;
  } else if (delta > 1.1) {
    copies.total = std::llrint(delta);
    if (last_ && delta0 > 0.5) copies.repeats = std::min<std::int64_t>(std::llrint(delta0), copies.total - 1);
  }
  if (copies.total > kMaxDuplicates) {  // a broken timestamp, not a pause: jump instead of filling
    copies = Copies{};
    next_pts_ = std::llrint(ipts);
  }
  return copies;
}

const AVFrame* VideoTrack::to_yuv420p(const AVFrame* f) {
  if (f->width == width_ && f->height == height_ && f->format == AV_PIX_FMT_YUV420P) return f;
  scaler_.reset(sws_getCachedContext(scaler_.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                     width_, height_, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!scaler_) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
    throw Error(std::string("cannot convert ") + (name ? name : "an unknown pixel format") + " " +
                std::to_string(f->width) + "x" + std::to_string(f->height) + " to yuv420p");
  }
  const int r = av_frame_make_writable(scaled_.get());
  if (r < 0) fail("allocating a frame", r);
  sws_scale(scaler_.get(), f->data, f->linesize, 0, f->height, scaled_->data, scaled_->linesize);
  return scaled_.get();
}

void VideoTrack::keep_last(const AVFrame* f) {
  if (!last_) last_.reset(av_frame_alloc());
  if (!last_) throw Error("out of memory");
  av_frame_unref(last_.get());
  const int r = av_frame_ref(last_.get(), f);
  if (r < 0) fail("keeping a frame", r);
}

void VideoTrack::encode(const AVFrame* f, std::int64_t pts) {
  if (encoder_.encode(*f, pts, sink_.packet)) sink_.write();
}

}  // namespace mediabatch::video
