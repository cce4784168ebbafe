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

VideoParams video_params(AVFormatContext* in, AVStream* video_in, const AVCodecContext* decoder,
                         const Settings& settings) {
  VideoParams params;
  params.picture = picture_params(video_in, settings);
  int width = decoder->width, height = decoder->height;
  if (width <= 0 || height <= 0) throw Error("the video stream has no frame size");
  AVRational aspect = av_guess_sample_aspect_ratio(in, video_in, nullptr);
  if (params.picture.sideways) {
    std::swap(width, height);
    if (aspect.num > 0) aspect = av_inv_q(aspect);
  }
  if (settings.max_height > 0 && height > settings.max_height) {
    const int h = std::max(2, settings.max_height & ~1);
    const int w = std::max(2, 2 * static_cast<int>(std::lround(static_cast<double>(width) * h / height / 2.0)));
    width = w;
    height = h;
  }
  AVRational rate = av_guess_frame_rate(in, video_in, nullptr);
  if (rate.num <= 0 || rate.den <= 0) rate = AVRational{25, 1};
  TheoraParams& theora = params.theora;
  theora.width = width;
  theora.height = height;
  theora.frame_rate = rate;
  theora.sample_aspect = aspect;
  theora.quality = settings.video_quality;
  // --speed 0, 1, 3: libtheora's levels 0, 1 and 2 for every frame; 2: level 1, and level 2
  // for the frames no other frame predicts from.
  theora.speed_level = settings.speed >= 3 ? std::numeric_limits<int>::max() : std::min(settings.speed, 1);
  theora.fast_unreferenced = settings.speed == 2;
  return params;
}

VideoTrack::VideoTrack(AVStream* in, CodecContext decoder, const VideoParams& params, int threads, bool strict)
    : in_(in),
      decoder_(std::move(decoder)),
      encoder_(params.theora),
      width_(params.theora.width),
      height_(params.theora.height),
      time_base_(av_inv_q(params.theora.frame_rate)),
      picture_(params.picture),
      threads_(threads),
      scaled_(av_frame_alloc()),
      filtered_(av_frame_alloc()),
      log_("video", in->time_base, strict) {
  if (!scaled_ || !filtered_) throw Error("out of memory");
  scaled_->format = AV_PIX_FMT_YUV420P;
  scaled_->width = width_;
  scaled_->height = height_;
  const int r = av_frame_get_buffer(scaled_.get(), 0);
  if (r < 0) fail("allocating a frame", r);
}

void VideoTrack::write_to(AVFormatContext* out, AVPacket* packet, const VideoParams& params) {
  AVStream* st = add_output_stream(out, in_);
  AVCodecParameters* par = st->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = AV_CODEC_ID_THEORA;
  par->format = AV_PIX_FMT_YUV420P;
  par->width = params.theora.width;
  par->height = params.theora.height;
  par->sample_aspect_ratio = params.theora.sample_aspect;
  par->field_order = params.picture.field_order;
  par->color_primaries = params.picture.primaries;
  par->color_trc = params.picture.transfer;
  par->color_space = params.picture.matrix;
  par->color_range = params.picture.range;
  const std::vector<std::uint8_t>& headers = encoder_.headers();
  par->extradata = static_cast<uint8_t*>(av_mallocz(headers.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) throw Error("out of memory");
  std::copy(headers.begin(), headers.end(), par->extradata);
  par->extradata_size = static_cast<int>(headers.size());
  st->time_base = time_base_;
  st->avg_frame_rate = params.theora.frame_rate;
  st->sample_aspect_ratio = params.theora.sample_aspect;
  sink_ = Sink{out, st, time_base_, packet};
  constant_rate_ = !(out->oformat->flags & AVFMT_VARIABLE_FPS);
}

void VideoTrack::spill_to(SpillFile& spill, AVPacket* packet) {
  sink_ = Sink{nullptr, nullptr, time_base_, packet, &spill};
}

void VideoTrack::decode(const AVPacket* packet, AVFrame* frame, const Timeline& time, const EncodeContext& ctx) {
  video::decode(decoder_.get(), packet, frame, log_, time, [&](AVFrame* f) { on_frame(f, time, ctx); });
  if (!packet && filter_) finish_filter(time, ctx);
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
  if (filter_ && !filter_->takes(*f)) finish_filter(time, ctx);  // the frames changed size
  if (!filter_ && picture_.needs_filter(*f))
    filter_ = std::make_unique<VideoFilter>(*f, in_->time_base, picture_, width_, height_, threads_);
  if (!filter_) {
    on_picture(f, f->best_effort_timestamp, in_->time_base, time, ctx);
    return;
  }
  f->pts = f->best_effort_timestamp;  // as the ffmpeg CLI times the frames it filters
  filter_->send(f);
  receive_filtered(time, ctx);
}

// Filters such as bwdif hold a frame back until the next one comes.
void VideoTrack::receive_filtered(const Timeline& time, const EncodeContext& ctx) {
  while (!done_ && filter_->receive(filtered_.get())) {
    on_picture(filtered_.get(), filtered_->pts, filter_->time_base(), time, ctx);
    av_frame_unref(filtered_.get());
  }
}

void VideoTrack::finish_filter(const Timeline& time, const EncodeContext& ctx) {
  filter_->send(nullptr);
  receive_filtered(time, ctx);
  filter_.reset();
}

// A picture timed `ts` in `time_base`, at the output size unless it still needs swscale.
void VideoTrack::on_picture(const AVFrame* f, std::int64_t ts, AVRational time_base, const Timeline& time,
                            const EncodeContext& ctx) {
  double ipts = static_cast<double>(next_pts_);
  if (ts == AV_NOPTS_VALUE)
    span.untimed = true;
  else if (!place_in_span(f, ts, time_base, time, ipts))
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
bool VideoTrack::place_in_span(const AVFrame* f, std::int64_t ts, AVRational time_base, const Timeline& time,
                               double& ipts) {
  const std::int64_t rel_us = time.output_us(ts, time_base);
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
