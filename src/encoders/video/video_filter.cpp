#include "video_filter.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "ffmpeg_errors.hpp"
#include "mediabatch/errors.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace mediabatch::video {

namespace {

std::string ratio(AVRational r) { return std::to_string(r.num) + "/" + std::to_string(r.den); }

// The filters the ffmpeg CLI puts first to turn a stream's pictures upright (fftools/
// ffmpeg_filter.c, autorotate, with cmdutils.c's get_rotation): a quarter turn is a transpose,
// a half turn two flips, and a mirrored matrix (negative determinant) flips once more. Other
// angles, which would need the corners filled, are kept as stored.
void turn_upright(const AVStream* in, PictureParams& p) {
  // FFmpeg 5.1's way to a stream's side data (FFmpeg 6.1 moves it to codecpar).
  std::size_t size = 0;
  const auto* m = reinterpret_cast<const std::int32_t*>(av_stream_get_side_data(in, AV_PKT_DATA_DISPLAYMATRIX, &size));
  if (!m || size < 9 * sizeof(std::int32_t)) return;
  const double angle = av_display_rotation_get(m);
  if (std::isnan(angle)) return;
  double theta = -std::round(angle);  // clockwise
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  const bool mirrored = std::int64_t{m[0]} * m[4] - std::int64_t{m[1]} * m[3] < 0;
  if (std::fabs(theta - 90) < 1.0) {
    p.upright = mirrored ? "transpose=cclock_flip" : "transpose=clock";
    p.sideways = true;
  } else if (std::fabs(theta - 180) < 1.0) {
    p.upright = mirrored ? "hflip" : "hflip,vflip";
  } else if (std::fabs(theta - 270) < 1.0) {
    p.upright = mirrored ? "transpose=clock_flip" : "transpose=cclock";
    p.sideways = true;
  } else if (std::fabs(theta) < 1.0 && mirrored) {
    p.upright = "vflip";
  }
}

Deinterlacing deinterlacing(const AVCodecParameters* par, Deinterlace setting) {
  if (setting == Deinterlace::off) return Deinterlacing::none;
  if (setting == Deinterlace::on) return Deinterlacing::all;
  // A coded field order makes every frame interlaced, whatever its flag says; without one,
  // frames flagged interlaced (a mixed stream's) are.
  const bool fields = par->field_order != AV_FIELD_UNKNOWN && par->field_order != AV_FIELD_PROGRESSIVE;
  return fields ? Deinterlacing::all : Deinterlacing::flagged;
}

// The colour of the output's samples as they come out of swscale or the graph, so that the
// tags say what the samples are.
void output_colour(const AVCodecParameters* par, PictureParams& p) {
  if (p.tonemap) {  // the graph ends in limited-range BT.709
    p.primaries = AVCOL_PRI_BT709;
    p.transfer = AVCOL_TRC_BT709;
    p.matrix = AVCOL_SPC_BT709;
    p.range = AVCOL_RANGE_MPEG;
    return;
  }
  p.primaries = par->color_primaries;
  p.transfer = par->color_trc;
  p.matrix = par->color_space;
  p.range = par->color_range;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(par->format));
  if (!d) return;
  // swscale turns RGB into YUV with its default matrix (BT.601), and into limited range, as it
  // does with the formats it takes as full range (yuvj*, gray). Other YUV samples keep their
  // range; the graph's scale is told to keep it too.
  const bool rgb = (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) != 0;
  if (rgb) p.matrix = AVCOL_SPC_SMPTE170M;
  if (rgb || d->nb_components < 3 || std::strncmp(d->name, "yuvj", 4) == 0) p.range = AVCOL_RANGE_MPEG;
}

// The graph after the buffer source: deinterlace on the frames as coded, turn, then tone-map
// (scaling to the output size in linear light) or scale; yuv420p at the output size at the end.
std::string describe(const PictureParams& p, int width, int height) {
  std::string chain;
  const auto add = [&chain](const std::string& filter) { chain += (chain.empty() ? "" : ",") + filter; };
  // send_frame: one frame per frame (50 fields a second make 25 frames), not ffmpeg's
  // default of one per field.
  if (p.deinterlace != Deinterlacing::none)
    add(std::string("bwdif=mode=send_frame:parity=auto:deint=") +
        (p.deinterlace == Deinterlacing::all ? "all" : "interlaced"));
  if (!p.upright.empty()) add(p.upright);
  const std::string size = "w=" + std::to_string(width) + ":h=" + std::to_string(height);
  if (p.tonemap) {
    add("zscale=" + size + ":f=bicubic:t=linear:npl=100");
    add("format=gbrpf32le");
    add("zscale=p=bt709");
    add("tonemap=hable:desat=0");
    add("zscale=t=bt709:m=bt709:r=tv");
  } else {
    add("scale=" + size + ":flags=bicubic" + (p.range == AVCOL_RANGE_JPEG ? ":out_range=pc" : ""));
  }
  add("format=yuv420p");
  return chain;
}

}  // namespace

bool PictureParams::needs_filter(const AVFrame& f) const {
  return !upright.empty() || tonemap || deinterlace == Deinterlacing::all ||
         (deinterlace == Deinterlacing::flagged && f.interlaced_frame);
}

PictureParams picture_params(const AVStream* in, const Settings& settings) {
  PictureParams p;
  if (settings.autorotate) turn_upright(in, p);
  const AVCodecParameters* par = in->codecpar;
  p.deinterlace = deinterlacing(par, settings.deinterlace);
  p.field_order = p.deinterlace == Deinterlacing::none ? par->field_order : AV_FIELD_PROGRESSIVE;
  p.tonemap = settings.tonemap && (par->color_trc == AVCOL_TRC_SMPTE2084 || par->color_trc == AVCOL_TRC_ARIB_STD_B67);
  output_colour(par, p);
  return p;
}

VideoFilter::VideoFilter(const AVFrame& first, AVRational time_base, const PictureParams& picture, int width,
                         int height, int threads)
    : graph_(avfilter_graph_alloc()), width_(first.width), height_(first.height), format_(first.format) {
  if (!graph_) throw Error("out of memory");
  graph_->nb_threads = threads;  // before any filter is added
  const AVRational aspect = first.sample_aspect_ratio.den > 0 ? first.sample_aspect_ratio : AVRational{0, 1};
  const std::string source = "video_size=" + std::to_string(first.width) + "x" + std::to_string(first.height) +
                             ":pix_fmt=" + std::to_string(first.format) + ":time_base=" + ratio(time_base) +
                             ":pixel_aspect=" + ratio(aspect);
  const std::string what = "setting up the video filters";
  int r = avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in", source.c_str(), nullptr,
                                       graph_.get());
  if (r < 0) fail(what, r);
  r = avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr, graph_.get());
  if (r < 0) fail(what, r);

  // The chain's open ends: its input is fed by the source, its output feeds the sink.
  FilterInOut from_source(avfilter_inout_alloc());
  FilterInOut to_sink(avfilter_inout_alloc());
  if (!from_source || !to_sink) throw Error("out of memory");
  from_source->name = av_strdup("in");
  from_source->filter_ctx = source_;
  to_sink->name = av_strdup("out");
  to_sink->filter_ctx = sink_;
  if (!from_source->name || !to_sink->name) throw Error("out of memory");
  AVFilterInOut* inputs = to_sink.release();
  AVFilterInOut* outputs = from_source.release();
  r = avfilter_graph_parse_ptr(graph_.get(), describe(picture, width, height).c_str(), &inputs, &outputs, nullptr);
  to_sink.reset(inputs);  // what parsing left unlinked
  from_source.reset(outputs);
  if (r < 0) fail(what, r);
  r = avfilter_graph_config(graph_.get(), nullptr);
  if (r < 0) fail(what, r);
}

bool VideoFilter::takes(const AVFrame& f) const {
  return f.width == width_ && f.height == height_ && f.format == format_;
}

void VideoFilter::send(AVFrame* f) {
  const int r = av_buffersrc_add_frame(source_, f);
  if (r < 0) fail("filtering video", r);
}

bool VideoFilter::receive(AVFrame* out) {
  const int r = av_buffersink_get_frame(sink_, out);
  if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return false;
  if (r < 0) fail("filtering video", r);
  return true;
}

AVRational VideoFilter::time_base() const { return av_buffersink_get_time_base(sink_); }

}  // namespace mediabatch::video
