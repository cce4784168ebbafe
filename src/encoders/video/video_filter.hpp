#pragma once
// The picture's way from the decoder to Theora when scaling is not enough: turned upright by
// the stream's display matrix, deinterlaced (bwdif), tone-mapped from PQ or HLG to SDR BT.709,
// in a libavfilter graph. Progressive, upright SDR pictures never meet one: swscale alone
// (video_track.cpp) does their scaling, faster.
#include <string>

#include "ffmpeg_handles.hpp"
#include "transcode.hpp"

namespace mediabatch::video {

// Which frames bwdif deinterlaces.
enum class Deinterlacing { none, flagged, all };

// What a stream's pictures need on their way to Theora, and the colour of what comes out.
// Decided once per stream from its parameters, so that every part of a file does the same.
struct PictureParams {
  std::string upright;    // filters that turn the stored picture upright ("transpose=clock"); empty: none
  bool sideways = false;  // a quarter turn: the upright picture is as wide as the stored one is high
  Deinterlacing deinterlace = Deinterlacing::none;
  bool tonemap = false;   // PQ or HLG to SDR BT.709
  AVFieldOrder field_order = AV_FIELD_UNKNOWN;  // of the output
  AVColorPrimaries primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic transfer = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace matrix = AVCOL_SPC_UNSPECIFIED;
  AVColorRange range = AVCOL_RANGE_UNSPECIFIED;

  // Whether `f` goes through a filter graph; else swscale alone makes the picture.
  bool needs_filter(const AVFrame& f) const;
};

PictureParams picture_params(const AVStream* in, const Settings& settings);

// A filter graph from decoded frames of one size and format to yuv420p pictures of the output
// size. One per track (a new one when the frames change size); not thread-safe. Throws Error.
class VideoFilter {
 public:
  // For frames like `first`, timed in `time_base`. Its filters run on at most `threads`
  // threads, the calling one included.
  VideoFilter(const AVFrame& first, AVRational time_base, const PictureParams& picture, int width, int height,
              int threads);

  // Whether `f` has the size and format the graph was made for.
  bool takes(const AVFrame& f) const;
  // Sends `f` in, moving its reference there; null: the end.
  void send(AVFrame* f);
  // The next picture into `out`; false when the graph needs more frames first, or is drained.
  bool receive(AVFrame* out);
  // Of the pictures' timestamps.
  AVRational time_base() const;

 private:
  FilterGraph graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_ = nullptr;
  int width_ = 0;  // of the frames taken
  int height_ = 0;
  int format_ = AV_PIX_FMT_NONE;
};

}  // namespace mediabatch::video
