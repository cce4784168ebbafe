#include "theora_encoder.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "mediabatch/errors.hpp"

extern "C" {
#include <libavcodec/packet.h>
#include <libavutil/avutil.h>
}

namespace mediabatch::video {

namespace {

struct Comment {  // th_comment by value, cleared on scope exit
  th_comment comment{};
  Comment() { th_comment_init(&comment); }
  Comment(const Comment&) = delete;
  Comment& operator=(const Comment&) = delete;
  ~Comment() { th_comment_clear(&comment); }
};

struct Info {
  th_info info{};
  Info() { th_info_init(&info); }
  Info(const Info&) = delete;
  Info& operator=(const Info&) = delete;
  ~Info() { th_info_clear(&info); }
};

int align16(int v) { return (v + 15) & ~15; }

int control(th_enc_ctx* ctx, int request, int value) { return th_encode_ctl(ctx, request, &value, sizeof value); }

}  // namespace

TheoraEncoder::TheoraEncoder(const TheoraParams& p) {
  if (p.width <= 0 || p.height <= 0 || p.width > 0xFFFF0 || p.height > 0xFFFF0)
    throw Error("Theora cannot code a " + std::to_string(p.width) + "x" + std::to_string(p.height) + " picture");
  Info i;
  th_info& info = i.info;
  info.frame_width = static_cast<ogg_uint32_t>(align16(p.width));
  info.frame_height = static_cast<ogg_uint32_t>(align16(p.height));
  info.pic_width = static_cast<ogg_uint32_t>(p.width);
  info.pic_height = static_cast<ogg_uint32_t>(p.height);
  info.pic_x = 0;
  info.pic_y = 0;
  info.fps_numerator = static_cast<ogg_uint32_t>(p.frame_rate.num);
  info.fps_denominator = static_cast<ogg_uint32_t>(p.frame_rate.den);
  info.aspect_numerator = p.sample_aspect.num > 0 ? static_cast<ogg_uint32_t>(p.sample_aspect.num) : 1;
  info.aspect_denominator = p.sample_aspect.num > 0 ? static_cast<ogg_uint32_t>(p.sample_aspect.den) : 1;
  info.colorspace = p.primaries == AVCOL_PRI_BT470M    ? TH_CS_ITU_REC_470M
                    : p.primaries == AVCOL_PRI_BT470BG ? TH_CS_ITU_REC_470BG
                                                       : TH_CS_UNSPECIFIED;
  info.pixel_fmt = TH_PF_420;
  // -q:v N the way the CLI and libavcodec carry it: N in lambda units (an int), back to the
  // 0..10 scale as a float, times 6.3, truncated to libtheora's 0..63.
  const int global_quality = static_cast<int>(FF_QP2LAMBDA * p.quality);
  info.quality = static_cast<int>(std::clamp(static_cast<float>(global_quality) / FF_QP2LAMBDA, 0.0f, 10.0f) * 6.3);
  info.target_bitrate = 0;

  ctx_.reset(th_encode_alloc(&info));
  if (!ctx_) throw Error("libtheora refused the video parameters");
  keyframe_mask_ = (std::int64_t{1} << info.keyframe_granule_shift) - 1;
  if (control(ctx_.get(), TH_ENCCTL_SET_KEYFRAME_FREQUENCY_FORCE, p.keyframe_interval) != 0)
    throw Error("libtheora refused a key frame interval of " + std::to_string(p.keyframe_interval));
  int max_level = 0;
  th_encode_ctl(ctx_.get(), TH_ENCCTL_GET_SPLEVEL_MAX, &max_level, sizeof max_level);
  speed_level_ = current_level_ = std::clamp(p.speed_level, 0, max_level);
  if (control(ctx_.get(), TH_ENCCTL_SET_SPLEVEL, speed_level_) != 0)
    throw Error("libtheora refused speed level " + std::to_string(speed_level_));
  fast_level_ = p.fast_unreferenced ? max_level : speed_level_;
  keyframe_interval_ = p.keyframe_interval;

  Comment comment;
  ogg_packet op{};
  for (;;) {
    const int r = th_encode_flushheader(ctx_.get(), &comment.comment, &op);
    if (r == 0) break;
    if (r < 0 || op.bytes < 0 || op.bytes > 0xFFFF) throw Error("libtheora could not write its headers");
    headers_.push_back(static_cast<std::uint8_t>(op.bytes >> 8));
    headers_.push_back(static_cast<std::uint8_t>(op.bytes & 0xFF));
    headers_.insert(headers_.end(), op.packet, op.packet + op.bytes);
  }

  for (int plane = 0; plane < 3; ++plane) {
    planes_[plane].width = static_cast<int>(info.frame_width) >> (plane ? 1 : 0);
    planes_[plane].height = static_cast<int>(info.frame_height) >> (plane ? 1 : 0);
  }
}

bool TheoraEncoder::encode(const AVFrame& frame, std::int64_t pts, AVPacket* packet) {
  for (int plane = 0; plane < 3; ++plane) {
    planes_[plane].stride = frame.linesize[plane];
    planes_[plane].data = frame.data[plane];
  }
  // libtheora forces a key frame once keyframe_interval frames have passed since the last one
  // (it may also start one early at a scene change, which cannot be known in advance).
  const int level = since_key_ + 2 >= keyframe_interval_ ? fast_level_ : speed_level_;
  if (level != current_level_) {
    if (control(ctx_.get(), TH_ENCCTL_SET_SPLEVEL, level) != 0)
      throw Error("libtheora refused speed level " + std::to_string(level));
    current_level_ = level;
  }
  int r = th_encode_ycbcr_in(ctx_.get(), planes_);
  if (r != 0) throw Error("libtheora refused a frame (error " + std::to_string(r) + ")");
  ogg_packet op{};
  r = th_encode_packetout(ctx_.get(), 0, &op);
  if (r == 0) {
    ++since_key_;
    return false;
  }
  if (r < 0 || op.bytes < 0) throw Error("libtheora failed to code a frame (error " + std::to_string(r) + ")");
  av_packet_unref(packet);
  r = av_new_packet(packet, static_cast<int>(op.bytes));
  if (r < 0) throw Error("out of memory");
  if (op.bytes > 0) std::memcpy(packet->data, op.packet, static_cast<std::size_t>(op.bytes));
  packet->pts = packet->dts = pts;
  packet->duration = 1;
  // A granule position is the last key frame's number, shifted, plus the frames since it.
  since_key_ = static_cast<int>(op.granulepos & keyframe_mask_);
  if (since_key_ == 0) packet->flags |= AV_PKT_FLAG_KEY;
  return true;
}

}  // namespace mediabatch::video
