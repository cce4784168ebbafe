#pragma once
// RAII owners for FFmpeg's C handles: one deleter per free function and a unique_ptr alias,
// as Chromium does (media/ffmpeg/ffmpeg_deleters.h). Destructors only release; steps that
// finish a file and can fail (av_write_trailer, avio_closep) are called explicitly.
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace mediabatch::video {

struct InputFormatClose {
  void operator()(AVFormatContext* c) const noexcept { avformat_close_input(&c); }
};
using InputFormat = std::unique_ptr<AVFormatContext, InputFormatClose>;

// An output context owns its AVIOContext unless the format needs no file.
struct OutputFormatFree {
  void operator()(AVFormatContext* c) const noexcept {
    if (c->pb && !(c->oformat->flags & AVFMT_NOFILE)) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
using OutputFormat = std::unique_ptr<AVFormatContext, OutputFormatFree>;

struct CodecContextFree {
  void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
using CodecContext = std::unique_ptr<AVCodecContext, CodecContextFree>;

struct FrameFree {
  void operator()(AVFrame* f) const noexcept { av_frame_free(&f); }
};
using Frame = std::unique_ptr<AVFrame, FrameFree>;

struct PacketFree {
  void operator()(AVPacket* p) const noexcept { av_packet_free(&p); }
};
using Packet = std::unique_ptr<AVPacket, PacketFree>;

struct SwsContextFree {
  void operator()(SwsContext* s) const noexcept { sws_freeContext(s); }
};
using ScaleContext = std::unique_ptr<SwsContext, SwsContextFree>;

struct FilterGraphFree {
  void operator()(AVFilterGraph* g) const noexcept { avfilter_graph_free(&g); }
};
using FilterGraph = std::unique_ptr<AVFilterGraph, FilterGraphFree>;

// A list of a filter graph's open ends, for avfilter_graph_parse_ptr.
struct FilterInOutFree {
  void operator()(AVFilterInOut* p) const noexcept { avfilter_inout_free(&p); }
};
using FilterInOut = std::unique_ptr<AVFilterInOut, FilterInOutFree>;

struct SwrContextFree {
  void operator()(SwrContext* s) const noexcept { swr_free(&s); }
};
using ResampleContext = std::unique_ptr<SwrContext, SwrContextFree>;

struct AudioFifoFree {
  void operator()(AVAudioFifo* f) const noexcept { av_audio_fifo_free(f); }
};
using AudioFifo = std::unique_ptr<AVAudioFifo, AudioFifoFree>;

// An AVChannelLayout by value; a custom-order layout owns a map that needs uninit.
struct ChannelLayout {
  AVChannelLayout layout{};
  ChannelLayout() = default;
  ChannelLayout(const ChannelLayout&) = delete;
  ChannelLayout& operator=(const ChannelLayout&) = delete;
  ~ChannelLayout() { av_channel_layout_uninit(&layout); }
};

}  // namespace mediabatch::video
