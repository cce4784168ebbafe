// Demux -> decode -> swscale / swresample -> libtheora / libvorbis -> Matroska or Ogg, the way
// the ffmpeg CLI does it with `-c:v libtheora -q:v N -c:a libvorbis -q:a N -sn`, but in-process.
#include "transcode.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "ffmpeg_handles.hpp"
#include "mediabatch/errors.hpp"
#include "theora_encoder.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>
}

namespace mediabatch::video {

namespace {

constexpr AVRational kMicroseconds{1, AV_TIME_BASE};
constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxDuplicates = 1000;  // as many frames as ffmpeg repeats before it warns

[[noreturn]] void fail(const std::string& what, int code) {
  // AVERROR_EXIT comes back from any blocking call once the interrupt callback said stop.
  if (code == AVERROR_EXIT) throw Cancelled("stopped");
  throw Error(what + ": " + av_error(code));
}

// What FFmpeg's interrupt callback checks: Ctrl-C / --timeout, and the file's own abort flag
// (set when one of its threads failed, so that the others stop too).
struct StopFlags {
  const EncodeContext* ctx = nullptr;
  const std::atomic<bool>* abort = nullptr;
  bool stop() const { return ctx->should_stop() || (abort && abort->load(std::memory_order_relaxed)); }
};

int interrupt_requested(void* opaque) { return static_cast<const StopFlags*>(opaque)->stop() ? 1 : 0; }

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

std::string seconds_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(us) / AV_TIME_BASE);
  return buf;
}

CodecContext open_decoder(AVStream* st, int threads, const std::string& kind) {
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) throw Error("no decoder for the " + kind + " codec " + avcodec_get_name(st->codecpar->codec_id));
  CodecContext dec(avcodec_alloc_context3(codec));
  if (!dec) throw Error("out of memory");
  int r = avcodec_parameters_to_context(dec.get(), st->codecpar);
  if (r < 0) fail("setting up the " + kind + " decoder", r);
  dec->pkt_timebase = st->time_base;
  dec->thread_count = threads;
  r = avcodec_open2(dec.get(), codec, nullptr);
  if (r < 0) fail(std::string("opening the ") + codec->name + " decoder", r);
  return dec;
}

const AVCodec* find_encoder(const char* name) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name);
  if (!codec) throw Error(std::string("this FFmpeg has no ") + name + " encoder");
  return codec;
}

void copy_stream_tags(const AVStream* from, AVStream* to) {
  for (const char* key : {"language", "title"}) {
    if (const AVDictionaryEntry* e = av_dict_get(from->metadata, key, nullptr, 0))
      av_dict_set(&to->metadata, key, e->value, 0);
  }
}

// Opens a configured encoder and adds the output stream it feeds, tagged like `from`.
AVStream* open_encoder_stream(AVFormatContext* out, AVCodecContext* enc, const AVCodec* codec, bool global_header,
                              const AVStream* from, const std::string& kind, const char* codec_name) {
  if (global_header) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  int r = avcodec_open2(enc, codec, nullptr);
  if (r < 0) fail(std::string("opening the ") + codec_name + " encoder", r);
  AVStream* st = avformat_new_stream(out, nullptr);
  if (!st) throw Error("out of memory");
  r = avcodec_parameters_from_context(st->codecpar, enc);
  if (r < 0) fail("setting up the " + kind + " stream", r);
  st->time_base = enc->time_base;
  copy_stream_tags(from, st);
  return st;
}

// The coded packets of a later part of the video, kept in an anonymous temporary file (gone
// when closed, or when the process dies) until the parts before it are in the output. It is
// made in the output's folder, which has room for the output anyway (/tmp may not).
class SpillFile {
 public:
  explicit SpillFile(const fs::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    std::FILE* f = nullptr;
    if (fd >= 0 && !(f = ::fdopen(fd, "w+b"))) ::close(fd);
    file_.reset(f ? f : std::tmpfile());
    if (!file_) throw Error(std::string("creating a temporary file: ") + std::strerror(errno));
  }
  void put(const AVPacket* p, double ipts) {
    const Record r{p->pts, p->dts, p->duration, ipts, p->flags, p->size};
    if (std::fwrite(&r, sizeof r, 1, file_.get()) != 1 ||
        (p->size > 0 && std::fwrite(p->data, static_cast<std::size_t>(p->size), 1, file_.get()) != 1))
      throw Error(std::string("writing a temporary file: ") + std::strerror(errno));
  }
  void rewind() { std::rewind(file_.get()); }
  // The next packet into `p` (unreferenced first) and the time kept with it; false at the end.
  bool get(AVPacket* p, double& ipts) {
    Record r{};
    if (std::fread(&r, sizeof r, 1, file_.get()) != 1) return false;
    av_packet_unref(p);
    if (av_new_packet(p, r.size) < 0) throw Error("out of memory");
    if (r.size > 0 && std::fread(p->data, static_cast<std::size_t>(r.size), 1, file_.get()) != 1)
      throw Error("reading a temporary file: it ends early");
    p->pts = r.pts;
    p->dts = r.dts;
    p->duration = r.duration;
    p->flags = r.flags;
    ipts = r.ipts;
    return true;
  }

 private:
  struct Record {
    int64_t pts, dts, duration;
    double ipts;
    int flags, size;
  };
  struct Close {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Close> file_;
};

// Where an output stream's packets go: the muxer, or a spill file.
struct Sink {
  AVFormatContext* format = nullptr;
  AVStream* stream = nullptr;
  AVRational time_base{1, 1};  // of the packets handed in
  AVPacket* packet = nullptr;
  SpillFile* spill = nullptr;
  double ipts = 0;  // video: the frame's own time in frames, kept with spilled packets
  std::int64_t packets = 0;

  // Hands `packet` to the muxer (or the spill file, timestamps as they are).
  void write() {
    ++packets;
    if (spill) {
      spill->put(packet, ipts);
      av_packet_unref(packet);
      return;
    }
    av_packet_rescale_ts(packet, time_base, stream->time_base);
    packet->stream_index = stream->index;
    int r = av_interleaved_write_frame(format, packet);  // takes the packet's reference
    if (r < 0) fail("writing the output", r);
  }
};

// Sends a frame (null: the end) to a libavcodec encoder and moves what it has ready to `sink`.
void encode_to(AVCodecContext* encoder, const AVFrame* frame, Sink& sink, const char* what) {
  int r = avcodec_send_frame(encoder, frame);
  if (r < 0) fail(std::string("encoding ") + what, r);
  for (;;) {
    r = avcodec_receive_packet(encoder, sink.packet);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail(std::string("encoding ") + what, r);
    sink.write();
  }
}

// What the whole file shares: the time origin and the limits from --start / --duration.
struct Timeline {
  int64_t origin_us = 0;        // input time that becomes 0 in the output
  bool trim_start = false;      // drop what lies before the origin (--start was given)
  int64_t end_us = kNoLimit;    // output time where the output ends (--duration)
};

// The ffmpeg CLI's rule for a variable-rate muxer: a frame (at `ipts`, in frames) keeps its own
// time rounded to the frame grid, unless that is taken: then it follows the one before, or is
// dropped when it would go back 0.6 frame or more. False: dropped. The rule depends on the
// frames before, so parts coded apart are placed again with it when they are joined.
bool place_variable_rate(double ipts, int64_t& next_pts) {
  const double delta = ipts - static_cast<double>(next_pts) + 1;
  if (delta <= -0.6) return false;
  if (delta > 0.6) next_pts = std::llrint(ipts);
  return true;
}

struct VideoTrack {
  AVStream* in = nullptr;
  CodecContext decoder;
  std::unique_ptr<TheoraEncoder> encoder;
  int width = 0;            // of the output picture
  int height = 0;
  AVRational time_base{1, 25};  // of the output: one tick per frame
  Sink sink;
  ScaleContext scaler;
  Frame scaled;
  Frame last;                  // constant rate only: the frame sent last
  bool constant_rate = false;  // Ogg: duplicate or drop frames to keep a constant rate
  int64_t next_pts = 0;        // next output timestamp, in the encoder's time base (frames)
  int64_t reached_us = 0;      // output time where the last decoded frame ends
  int64_t decoded = 0;
  bool done = false;
  // The part of the output this track codes: frames at [begin_us, end_us) of output time.
  int64_t begin_us = std::numeric_limits<int64_t>::min();
  int64_t end_us = kNoLimit;
  int64_t first_kept_us = AV_NOPTS_VALUE;  // the first frame coded
  int64_t next_frame_us = AV_NOPTS_VALUE;  // the first frame at end_us or later
  bool untimed = false;                    // a frame had no timestamp

  void on_frame(AVFrame* f, const Timeline& time, const EncodeContext& ctx) {
    ++decoded;
    const AVRational tb = time_base;
    double ipts = static_cast<double>(next_pts);
    int64_t ts = f->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) {
      int64_t rel_us = av_rescale_q(ts, in->time_base, kMicroseconds) - time.origin_us;
      if (rel_us < begin_us) return;
      if (rel_us >= end_us) {
        done = true;
        next_frame_us = rel_us;
        return;
      }
      if (first_kept_us == AV_NOPTS_VALUE) first_kept_us = rel_us;
      int64_t length_us = f->pkt_duration > 0 ? av_rescale_q(f->pkt_duration, in->time_base, kMicroseconds)
                                          : av_rescale_q(1, time_base, kMicroseconds);
      reached_us = std::max(reached_us, rel_us + length_us);
      ipts = static_cast<double>(rel_us) * tb.den / (static_cast<double>(tb.num) * AV_TIME_BASE);
    } else {
      untimed = true;
    }
    // The ffmpeg CLI's frame-rate logic (fftools/ffmpeg.c do_video_out): with a variable-rate
    // muxer a frame keeps its own time, rounded to the encoder's time base; with Ogg the rate
    // is constant, so frames are duplicated or dropped to fill the grid.
    int64_t copies = 1;   // output frames for this input frame...
    int64_t repeats = 0;  // ...of which the first ones repeat the previous frame (a pause)
    const double delta0 = ipts - static_cast<double>(next_pts);
    const double delta = delta0 + 1;
    if (constant_rate) {
      if (delta < -1.1) {
        copies = 0;
      } else if (delta > 1.1) {
        copies = std::llrint(delta);
        if (last && delta0 > 0.5) repeats = std::min<int64_t>(std::llrint(delta0), copies - 1);
      }
      if (copies > kMaxDuplicates) {  // a broken timestamp, not a pause: jump instead of filling
        copies = 1;
        repeats = 0;
        next_pts = std::llrint(ipts);
      }
    } else if (!place_variable_rate(ipts, next_pts)) {
      copies = 0;
    }
    if (copies == 0) return;
    sink.ipts = ipts;
    for (int64_t i = 0; i < repeats; ++i, --copies) {
      ctx.throw_if_stopped();
      encode(last.get(), next_pts++);
    }

    AVFrame* out = f;
    if (f->width != width || f->height != height || f->format != AV_PIX_FMT_YUV420P) {
      scaler.reset(sws_getCachedContext(scaler.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                        width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr,
                                        nullptr, nullptr));
      if (!scaler) {
        const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
        throw Error(std::string("cannot convert ") + (name ? name : "an unknown pixel format") + " " +
                    std::to_string(f->width) + "x" + std::to_string(f->height) + " to yuv420p");
      }
      int r = av_frame_make_writable(scaled.get());
      if (r < 0) fail("allocating a frame", r);
      sws_scale(scaler.get(), f->data, f->linesize, 0, f->height, scaled->data, scaled->linesize);
      out = scaled.get();
    }
    for (int64_t i = 0; i < copies; ++i) {
      if (i > 0 && ctx.should_stop()) throw Cancelled("stopped");
      encode(out, next_pts++);
    }
    if (constant_rate) {  // kept to fill a pause before the next frame
      if (!last) last.reset(av_frame_alloc());
      if (!last) throw Error("out of memory");
      av_frame_unref(last.get());
      int r = av_frame_ref(last.get(), out);
      if (r < 0) fail("keeping a frame", r);
    }
  }

  void encode(const AVFrame* f, int64_t pts) {
    if (encoder->encode(*f, pts, sink.packet)) sink.write();
  }
};

struct AudioTrack {
  AVStream* in = nullptr;
  CodecContext decoder;
  CodecContext encoder;
  Sink sink;
  ResampleContext resampler;
  int resampler_format = -1;  // the input side the resampler was set up for
  int resampler_rate = 0;
  ChannelLayout resampler_layout;
  AudioFifo fifo;
  Frame converted;  // swresample's output, grown as needed
  Frame chunk;      // exactly frame_size samples for the encoder
  int frame_size = 0;
  int64_t write_pos = AV_NOPTS_VALUE;  // output time of the next converted sample, in samples
  int64_t fifo_pts = 0;                // output time of the first sample in the FIFO
  int64_t end_sample = kNoLimit;
  bool trim_start = false;
  int64_t decoded = 0;
  bool done = false;

  void configure_resampler(const AVFrame* f) {
    ChannelLayout layout;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0) {
      int channels = f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : decoder->ch_layout.nb_channels;
      av_channel_layout_default(&layout.layout, channels);
    } else {
      int r = av_channel_layout_copy(&layout.layout, &f->ch_layout);
      if (r < 0) fail("copying a channel layout", r);
    }
    if (resampler && f->format == resampler_format && f->sample_rate == resampler_rate &&
        av_channel_layout_compare(&layout.layout, &resampler_layout.layout) == 0)
      return;
    SwrContext* raw = nullptr;
    int r = swr_alloc_set_opts2(&raw, &encoder->ch_layout, encoder->sample_fmt, encoder->sample_rate, &layout.layout,
                                static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
    ResampleContext swr(raw);
    if (r < 0) fail("setting up the audio conversion", r);
    r = swr_init(swr.get());
    if (r < 0) fail("setting up the audio conversion", r);
    resampler = std::move(swr);
    resampler_format = f->format;
    resampler_rate = f->sample_rate;
    av_channel_layout_uninit(&resampler_layout.layout);
    r = av_channel_layout_copy(&resampler_layout.layout, &layout.layout);
    if (r < 0) fail("copying a channel layout", r);
  }

  void ensure_converted_capacity(int samples) {
    if (converted && converted->nb_samples >= samples) return;
    Frame f(av_frame_alloc());
    if (!f) throw Error("out of memory");
    f->format = encoder->sample_fmt;
    f->sample_rate = encoder->sample_rate;
    int r = av_channel_layout_copy(&f->ch_layout, &encoder->ch_layout);
    if (r < 0) fail("copying a channel layout", r);
    f->nb_samples = std::max(samples, 4096);
    r = av_frame_get_buffer(f.get(), 0);
    if (r < 0) fail("allocating audio buffers", r);
    converted = std::move(f);
  }

  // Appends converted samples at write_pos, keeping only [0 if trimming, end_sample).
  void push(uint8_t** planes, int count) {
    if (count <= 0) return;
    const int64_t begin = write_pos, end = write_pos + count;
    write_pos = end;
    const int64_t keep_begin = trim_start ? std::max<int64_t>(begin, 0) : begin;
    const int64_t keep_end = std::min(end, end_sample);
    if (keep_end >= end_sample) done = true;
    if (keep_end <= keep_begin) return;
    if (av_audio_fifo_size(fifo.get()) == 0) fifo_pts = keep_begin;
    const auto offset = static_cast<std::size_t>(keep_begin - begin) * sizeof(float);
    std::vector<void*> from(static_cast<std::size_t>(encoder->ch_layout.nb_channels));
    for (std::size_t c = 0; c < from.size(); ++c) from[c] = planes[c] + offset;
    const int n = static_cast<int>(keep_end - keep_begin);
    int r = av_audio_fifo_write(fifo.get(), from.data(), n);
    if (r < n) fail("buffering audio", r < 0 ? r : AVERROR(ENOMEM));
  }

  // Hands the FIFO to the encoder in frame_size pieces; at the end also the short remainder.
  void send_chunks(bool last) {
    for (;;) {
      const int available = av_audio_fifo_size(fifo.get());
      if (available == 0 || (available < frame_size && !last)) return;
      const int n = std::min(available, frame_size);
      int r = av_frame_make_writable(chunk.get());
      if (r < 0) fail("allocating audio buffers", r);
      chunk->nb_samples = n;
      if (av_audio_fifo_read(fifo.get(), reinterpret_cast<void**>(chunk->extended_data), n) < n)
        throw Error("reading buffered audio");
      chunk->pts = fifo_pts;
      fifo_pts += n;
      encode_to(encoder.get(), chunk.get(), sink, "Vorbis");
    }
  }

  void on_frame(AVFrame* f, const Timeline& time) {
    ++decoded;
    if (write_pos == AV_NOPTS_VALUE) {
      // Later frames follow on sample by sample from the first one's time, as with the
      // ffmpeg CLI without -async: no gaps are filled, nothing drifts.
      int64_t rel_us = 0;
      if (f->best_effort_timestamp != AV_NOPTS_VALUE)
        rel_us = av_rescale_q(f->best_effort_timestamp, in->time_base, kMicroseconds) - time.origin_us;
      write_pos = av_rescale(rel_us, encoder->sample_rate, AV_TIME_BASE);
      end_sample = time.end_us == kNoLimit ? kNoLimit : av_rescale(time.end_us, encoder->sample_rate, AV_TIME_BASE);
      trim_start = time.trim_start;
    }
    configure_resampler(f);
    const int room = swr_get_out_samples(resampler.get(), f->nb_samples);
    if (room < 0) fail("converting audio", room);
    ensure_converted_capacity(room);
    const int got = swr_convert(resampler.get(), converted->extended_data, converted->nb_samples,
                                const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
    if (got < 0) fail("converting audio", got);
    push(converted->extended_data, got);
    send_chunks(false);
  }

  void flush() {
    if (resampler) {
      ensure_converted_capacity(4096);
      for (;;) {
        const int got = swr_convert(resampler.get(), converted->extended_data, converted->nb_samples, nullptr, 0);
        if (got < 0) fail("converting audio", got);
        if (got == 0) break;
        push(converted->extended_data, got);
      }
    }
    send_chunks(true);
    encode_to(encoder.get(), nullptr, sink, "Vorbis");
  }
};

// Sends one packet (or the end, when packet is null) to a decoder and hands on every frame.
template <typename OnFrame>
void decode(AVCodecContext* dec, const AVPacket* packet, AVFrame* frame, const std::string& kind, const int64_t& count,
            OnFrame&& on_frame) {
  int r = avcodec_send_packet(dec, packet);
  if (r < 0 && r != AVERROR_EOF) fail("decoding " + kind + " frame " + std::to_string(count + 1), r);
  for (;;) {
    r = avcodec_receive_frame(dec, frame);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail("decoding " + kind + " frame " + std::to_string(count + 1), r);
    // The decoder concealed damage (what `ffmpeg -xerror` stops on as "corrupt decoded
    // frame"): the input is broken midway, and the output would show it.
    if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT))
      throw Error("decoding " + kind + " frame " + std::to_string(count + 1) + ": " + av_error(AVERROR_INVALIDDATA) +
                  " (damaged data concealed)");
    on_frame(frame);
    av_frame_unref(frame);
  }
}


// The Theora set-up for a video stream: its size (after --max-height), rate and quality.
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

// Everything of a video track but where its packets go.
void open_video_track(VideoTrack& t, AVStream* video_in, CodecContext decoder, const TheoraParams& params) {
  t.in = video_in;
  t.decoder = std::move(decoder);
  t.encoder = std::make_unique<TheoraEncoder>(params);
  t.width = params.width;
  t.height = params.height;
  t.time_base = av_inv_q(params.frame_rate);
  t.scaled.reset(av_frame_alloc());
  if (!t.scaled) throw Error("out of memory");
  t.scaled->format = AV_PIX_FMT_YUV420P;
  t.scaled->width = params.width;
  t.scaled->height = params.height;
  int r = av_frame_get_buffer(t.scaled.get(), 0);
  if (r < 0) fail("allocating a frame", r);
}


// A later part of the video, coded on a thread of its own from a second reading of the input;
// its packets wait in a spill file until the parts before it are in the output.
struct VideoPart {
  explicit VideoPart(const fs::path& spill_dir) : spill(spill_dir) {}
  int64_t begin_us = 0;  // output time: frames at [begin_us, end_us)
  int64_t end_us = kNoLimit;
  SpillFile spill;
  int64_t first_kept_us = AV_NOPTS_VALUE;
  int64_t next_frame_us = AV_NOPTS_VALUE;
  int64_t reached_us = 0;
  bool untimed = false;
  std::exception_ptr error;
};

void code_video_part(const std::string& path, int stream_index, const TheoraParams& params, const Timeline& time,
                     StopFlags& flags, const EncodeContext& ctx, VideoPart& part) {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw Error("out of memory");
  raw->interrupt_callback = AVIOInterruptCB{&interrupt_requested, &flags};
  int r = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (r < 0) fail("opening the input", r);
  InputFormat in(raw);
  r = avformat_find_stream_info(in.get(), nullptr);
  if (r < 0) fail("reading the stream parameters", r);
  if (stream_index >= static_cast<int>(in->nb_streams)) throw Error("the input changed while it was read");
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (static_cast<int>(i) != stream_index) in->streams[i]->discard = AVDISCARD_ALL;
  AVStream* st = in->streams[stream_index];
  VideoTrack t;
  open_video_track(t, st, open_decoder(st, 1, "video"), params);
  Packet packet(av_packet_alloc());
  Packet out_packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !out_packet || !frame) throw Error("out of memory");
  t.sink = Sink{nullptr, nullptr, t.time_base, out_packet.get(), &part.spill};
  t.begin_us = part.begin_us;
  t.end_us = part.end_us;
  // To the key frame at or before the part's start; what comes before it is decoded, not coded.
  const int64_t target = time.origin_us + part.begin_us;
  r = avformat_seek_file(in.get(), -1, std::numeric_limits<int64_t>::min(), target, target, 0);
  if (r < 0) fail("seeking", r);
  auto on_frame = [&](AVFrame* f) { t.on_frame(f, time, ctx); };
  while (!t.done) {
    if (flags.stop()) throw Cancelled("stopped");
    r = av_read_frame(in.get(), packet.get());
    if (r == AVERROR_EOF) {
      decode(t.decoder.get(), nullptr, frame.get(), "video", t.decoded, on_frame);
      break;
    }
    if (r < 0) fail("reading the input", r);
    if (packet->stream_index == stream_index)
      decode(t.decoder.get(), packet.get(), frame.get(), "video", t.decoded, on_frame);
    av_packet_unref(packet.get());
  }
  part.first_kept_us = t.first_kept_us;
  part.next_frame_us = t.next_frame_us;
  part.reached_us = t.reached_us;
  part.untimed = t.untimed;
}

// The threads coding later parts. Joined before the file is finished; when the file fails
// first, they are told to stop and joined on the way out.
class PartThreads {
 public:
  explicit PartThreads(std::atomic<bool>& abort) : abort_(abort) {}
  PartThreads(const PartThreads&) = delete;
  PartThreads& operator=(const PartThreads&) = delete;
  ~PartThreads() {
    abort_ = true;
    join();
  }
  void start(std::function<void()> work) { threads_.emplace_back(std::move(work)); }
  void join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::atomic<bool>& abort_;
  std::vector<std::thread> threads_;
};

// Thrown when the parts coded apart do not join up frame for frame (a frame without a time,
// a seek that landed late, damage before a part's start): the file is then coded in one part.
struct PartsDoNotJoin {};

// Containers whose seeking lands on a key frame at or before the time asked for, with the
// times of the frames as the first reading sees them.
bool can_code_in_parts(const AVFormatContext* in) {
  if (in->duration <= 0 || in->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE) return false;
  if (!in->pb || !(in->pb->seekable & AVIO_SEEKABLE_NORMAL)) return false;
  if (in->iformat->flags & AVFMT_NOTIMESTAMPS) return false;
  const std::string name = in->iformat->name;
  return name.find("mov") != std::string::npos || name.find("matroska") != std::string::npos;
}

// Each part starts with a key frame of its own: 1.4% more bytes for a 6 s part (key frames
// every 12 frames cost about 3.5 times the others).
constexpr int64_t kMinPartUs = 6 * AV_TIME_BASE;

}  // namespace

namespace {

// One attempt at the file; with in_parts, the video may be coded in parts on ctx.threads().
void transcode_file(EncodeContext& ctx, const Settings& settings, bool in_parts) {
  const std::string input_path = ctx.input().string();
  std::atomic<bool> abort{false};
  StopFlags flags{&ctx, &abort};
  const AVIOInterruptCB interrupt{&interrupt_requested, &flags};
  const int threads = std::max(1, ctx.threads());

  AVFormatContext* raw_in = avformat_alloc_context();
  if (!raw_in) throw Error("out of memory");
  raw_in->interrupt_callback = interrupt;
  int r = avformat_open_input(&raw_in, input_path.c_str(), nullptr, nullptr);  // frees raw_in on failure
  if (r < 0) fail("opening the input", r);
  InputFormat in(raw_in);
  r = avformat_find_stream_info(in.get(), nullptr);
  if (r < 0) fail("reading the stream parameters", r);

  // The first video stream (cover art is not video), the first or every audio stream;
  // subtitles and data are dropped.
  AVStream* video_in = nullptr;
  std::vector<AVStream*> audio_in;
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    AVStream* st = in->streams[i];
    const AVMediaType type = st->codecpar->codec_type;
    if (type == AVMEDIA_TYPE_VIDEO && !video_in && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
      video_in = st;
    else if (type == AVMEDIA_TYPE_AUDIO && (settings.all_audio || audio_in.empty()))
      audio_in.push_back(st);
  }
  if (!video_in && audio_in.empty()) throw Error("no audio or video stream in the input");

  Timeline time;
  time.origin_us = in->start_time != AV_NOPTS_VALUE ? in->start_time : 0;
  if (settings.start > 0) {
    time.origin_us += std::llround(settings.start * AV_TIME_BASE);
    time.trim_start = true;
    // Like ffmpeg's -ss before -i: seek to the key frame before, decode from there, drop
    // what comes before the start.
    r = avformat_seek_file(in.get(), -1, std::numeric_limits<int64_t>::min(), time.origin_us, time.origin_us, 0);
    if (r < 0) {
      if (r == AVERROR_EXIT) fail("seeking", r);
      ctx.warn("could not seek to " + seconds_text(time.origin_us) + " (" + av_error(r) +
               "), decoding from the beginning");
    }
  }
  if (settings.duration >= 0) time.end_us = std::llround(settings.duration * AV_TIME_BASE);
  const int64_t declared_us = (in->start_time != AV_NOPTS_VALUE ? in->start_time : 0) + in->duration;

  // With threads to spare (a batch smaller than the slots), libtheora's one thread is the
  // bottleneck: later parts of the video are coded at once from readings of their own, each
  // starting with a key frame, and appended. Matroska only: Ogg's constant rate carries state
  // from frame to frame.
  std::vector<int64_t> part_starts;  // output times where parts after the first begin
  if (in_parts && threads >= 2 && video_in && !settings.ogg && can_code_in_parts(in.get())) {
    const int64_t span = std::min(declared_us - time.origin_us, time.end_us);
    const int64_t parts = std::min<int64_t>(threads, span / kMinPartUs);
    for (int64_t i = 1; i < parts; ++i) part_starts.push_back(span * i / parts);
  }

  // The output.
  const std::string output_path = ctx.temp_output().string();
  AVFormatContext* raw_out = nullptr;
  r = avformat_alloc_output_context2(&raw_out, nullptr, settings.ogg ? "ogv" : "matroska", output_path.c_str());
  if (r < 0) fail("setting up the output", r);
  OutputFormat out(raw_out);
  out->interrupt_callback = interrupt;
  const bool global_header = (out->oformat->flags & AVFMT_GLOBALHEADER) != 0;
  av_dict_copy(&out->metadata, in->metadata, 0);
  av_dict_set(&out->metadata, "encoder", nullptr, 0);

  Packet packet(av_packet_alloc());
  Packet out_packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !out_packet || !frame) throw Error("out of memory");

  std::vector<int> route(in->nb_streams, -1);  // input stream -> -2 video, k >= 0 audio track k

  std::unique_ptr<VideoTrack> video;
  TheoraParams params;
  if (video_in) {
    video = std::make_unique<VideoTrack>();
    CodecContext decoder = open_decoder(video_in, part_starts.empty() ? threads : 1, "video");
    params = theora_params(in.get(), video_in, decoder.get(), settings);
    open_video_track(*video, video_in, std::move(decoder), params);
    VideoTrack& t = *video;
    AVStream* st = avformat_new_stream(out.get(), nullptr);
    if (!st) throw Error("out of memory");
    AVCodecParameters* par = st->codecpar;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_THEORA;
    par->format = AV_PIX_FMT_YUV420P;
    par->width = params.width;
    par->height = params.height;
    par->sample_aspect_ratio = params.sample_aspect;
    const std::vector<std::uint8_t>& headers = t.encoder->headers();
    par->extradata = static_cast<uint8_t*>(av_mallocz(headers.size() + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!par->extradata) throw Error("out of memory");
    std::copy(headers.begin(), headers.end(), par->extradata);
    par->extradata_size = static_cast<int>(headers.size());
    st->time_base = t.time_base;
    st->avg_frame_rate = params.frame_rate;
    st->sample_aspect_ratio = params.sample_aspect;
    copy_stream_tags(video_in, st);
    t.sink = Sink{out.get(), st, t.time_base, out_packet.get()};
    t.constant_rate = !(out->oformat->flags & AVFMT_VARIABLE_FPS);
    if (time.trim_start) t.begin_us = 0;
    t.end_us = part_starts.empty() ? time.end_us : part_starts.front();
    route[static_cast<std::size_t>(video_in->index)] = -2;
  }

  std::vector<std::unique_ptr<VideoPart>> parts;
  std::atomic<bool> part_failed{false};  // then the file is coded again in one part: stop now
  PartThreads part_threads(abort);
  for (std::size_t i = 0; i < part_starts.size(); ++i) {
    auto part = std::make_unique<VideoPart>(ctx.temp_output().parent_path());
    part->begin_us = part_starts[i];
    part->end_us = i + 1 < part_starts.size() ? part_starts[i + 1] : time.end_us;
    parts.push_back(std::move(part));
  }
  for (auto& part : parts) {
    VideoPart* p = part.get();
    part_threads.start([&, p] {
      try {
        code_video_part(input_path, video_in->index, params, time, flags, ctx, *p);
      } catch (const Cancelled&) {
        p->error = std::current_exception();
      } catch (...) {
        p->error = std::current_exception();
        part_failed = true;
      }
    });
  }
  // Audio runs ahead of the video while later parts wait in their spill files: the muxer keeps
  // it until the video catches up, however far that is.
  if (!parts.empty()) out->max_interleave_delta = 0;

  std::vector<std::unique_ptr<AudioTrack>> audio;
  for (AVStream* audio_stream : audio_in) {
    auto track = std::make_unique<AudioTrack>();
    AudioTrack& t = *track;
    t.in = audio_stream;
    t.decoder = open_decoder(audio_stream, threads, "audio");
    if (t.decoder->sample_rate <= 0) throw Error("the audio stream has no sample rate");
    const int channels = t.decoder->ch_layout.nb_channels;
    if (channels <= 0) throw Error("the audio stream has no channels");
    const AVCodec* vorbis = find_encoder("libvorbis");
    t.encoder.reset(avcodec_alloc_context3(vorbis));
    if (!t.encoder) throw Error("out of memory");
    AVCodecContext* enc = t.encoder.get();
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = t.decoder->sample_rate;
    if (channels > 8) ctx.warn(std::to_string(channels) + " audio channels mixed down to stereo (Vorbis in FFmpeg takes 8 at most)");
    r = av_channel_layout_from_mask(&enc->ch_layout, vorbis_layout_mask(channels));
    if (r < 0) fail("setting the channel layout", r);
    enc->time_base = AVRational{1, enc->sample_rate};
    enc->flags |= AV_CODEC_FLAG_QSCALE;  // what `ffmpeg -q:a N` sets
    enc->global_quality = static_cast<int>(FF_QP2LAMBDA * settings.audio_quality);
    enc->thread_count = threads;
    AVStream* st = open_encoder_stream(out.get(), enc, vorbis, global_header, audio_stream, "audio", "Vorbis");
    t.sink = Sink{out.get(), st, enc->time_base, out_packet.get()};
    t.frame_size = enc->frame_size > 0 ? enc->frame_size : 1024;
    t.fifo.reset(av_audio_fifo_alloc(enc->sample_fmt, enc->ch_layout.nb_channels, t.frame_size * 4));
    t.chunk.reset(av_frame_alloc());
    if (!t.fifo || !t.chunk) throw Error("out of memory");
    t.chunk->format = enc->sample_fmt;
    t.chunk->sample_rate = enc->sample_rate;
    t.chunk->nb_samples = t.frame_size;
    r = av_channel_layout_copy(&t.chunk->ch_layout, &enc->ch_layout);
    if (r < 0) fail("copying a channel layout", r);
    r = av_frame_get_buffer(t.chunk.get(), 0);
    if (r < 0) fail("allocating audio buffers", r);
    route[static_cast<std::size_t>(audio_stream->index)] = static_cast<int>(audio.size());
    audio.push_back(std::move(track));
  }

  r = avio_open2(&out->pb, output_path.c_str(), AVIO_FLAG_WRITE, &out->interrupt_callback, nullptr);
  if (r < 0) fail("creating " + output_path, r);
  r = avformat_write_header(out.get(), nullptr);
  if (r < 0) fail("writing the output header", r);

  auto all_done = [&] {
    if (video && !video->done) return false;
    for (const auto& a : audio)
      if (!a->done) return false;
    return true;
  };
  bool read_to_end = false;
  auto video_frame = [&](AVFrame* f) { video->on_frame(f, time, ctx); };

  for (;;) {
    ctx.throw_if_stopped();
    if (part_failed.load(std::memory_order_relaxed)) throw PartsDoNotJoin{};
    r = av_read_frame(in.get(), packet.get());
    if (r == AVERROR_EOF) {
      read_to_end = true;
      break;
    }
    if (r < 0) fail("reading the input", r);
    const int target = packet->stream_index >= 0 && static_cast<unsigned>(packet->stream_index) < route.size()
                           ? route[static_cast<std::size_t>(packet->stream_index)]
                           : -1;
    if (target != -1 && (packet->flags & AV_PKT_FLAG_CORRUPT))
      throw Error("reading the input: a corrupt packet at " +
                  seconds_text(av_rescale_q(packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts,
                                            in->streams[packet->stream_index]->time_base, kMicroseconds) -
                               time.origin_us));
    if (target == -2 && !video->done) {
      decode(video->decoder.get(), packet.get(), frame.get(), "video", video->decoded, video_frame);
    } else if (target >= 0 && !audio[static_cast<std::size_t>(target)]->done) {
      AudioTrack& t = *audio[static_cast<std::size_t>(target)];
      decode(t.decoder.get(), packet.get(), frame.get(), "audio", t.decoded, [&](AVFrame* f) { t.on_frame(f, time); });
    }
    av_packet_unref(packet.get());
    if (all_done()) break;
  }

  // Drain the decoders, then the encoders.
  if (video) {
    if (!video->done) decode(video->decoder.get(), nullptr, frame.get(), "video", video->decoded, video_frame);
  }
  for (auto& t : audio) {
    if (!t->done)
      decode(t->decoder.get(), nullptr, frame.get(), "audio", t->decoded, [&](AVFrame* f) { t->on_frame(f, time); });
    t->flush();
  }

  // The later parts, in order, once each joins up with the one before it frame for frame.
  part_threads.join();
  if (!parts.empty()) {
    int64_t next_us = video->next_frame_us;
    bool untimed = video->untimed;
    for (const auto& p : parts) {
      if (p->error) {
        try {
          std::rethrow_exception(p->error);
        } catch (const Cancelled&) {
          throw;
        } catch (...) {
          throw PartsDoNotJoin{};
        }
      }
      if (p->first_kept_us != next_us) throw PartsDoNotJoin{};
      next_us = p->next_frame_us;
      untimed = untimed || p->untimed;
    }
    if (untimed) throw PartsDoNotJoin{};
    for (auto& p : parts) {
      p->spill.rewind();
      double ipts = 0;
      while (p->spill.get(video->sink.packet, ipts)) {
        if (!place_variable_rate(ipts, video->next_pts)) throw PartsDoNotJoin{};
        video->sink.packet->pts = video->sink.packet->dts = video->next_pts++;
        video->sink.write();
      }
      video->reached_us = std::max(video->reached_us, p->reached_us);
    }
  }

  std::int64_t written = video ? video->sink.packets : 0;
  for (const auto& t : audio) written += t->sink.packets;
  if (written == 0)
    throw Error(settings.start > 0 ? "nothing to encode after --start " + seconds_text(std::llround(settings.start * AV_TIME_BASE))
                                   : "no audio or video could be decoded");

  // A file cut short demuxes and decodes without an error; the container's own length
  // (not a guess from the bit rate) tells that data is missing.
  if (read_to_end && in->duration > 0 && in->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
    int64_t reached_us = video ? video->reached_us : 0;
    for (const auto& t : audio)
      if (t->write_pos != AV_NOPTS_VALUE)
        reached_us = std::max(reached_us, av_rescale(t->write_pos, AV_TIME_BASE, t->encoder->sample_rate));
    const int64_t expected_us = std::min(declared_us - time.origin_us, time.end_us);
    if (reached_us < expected_us - std::max<int64_t>(AV_TIME_BASE / 2, expected_us / 10))
      throw Error("the input ends at " + seconds_text(reached_us) + " of " + seconds_text(expected_us) +
                  ": truncated or damaged");
  }

  r = av_write_trailer(out.get());
  if (r < 0) fail("finishing the output", r);
  r = avio_closep(&out->pb);
  if (r < 0) fail("closing the output", r);
}

}  // namespace

void transcode(EncodeContext& ctx, const Settings& settings) {
  try {
    transcode_file(ctx, settings, true);
  } catch (const PartsDoNotJoin&) {
    transcode_file(ctx, settings, false);
  }
}

}  // namespace mediabatch::video
