#include "output.hpp"

#include <algorithm>

#include "mediabatch/errors.hpp"
#include "spill_file.hpp"

namespace mediabatch::video {

OutputFormat open_output(const std::string& path, bool ogg, const AVFormatContext* in, const StopFlags& stop) {
  AVFormatContext* raw = nullptr;
  const int r = avformat_alloc_output_context2(&raw, nullptr, ogg ? "ogv" : "matroska", path.c_str());
  if (r < 0) fail("setting up the output", r);
  OutputFormat out(raw);
  out->interrupt_callback = stop.callback();
  av_dict_copy(&out->metadata, in->metadata, 0);
  av_dict_set(&out->metadata, "encoder", nullptr, 0);
  return out;
}

void copy_chapters(AVFormatContext* out, const AVFormatContext* in, const Timeline& time) {
  for (unsigned i = 0; i < in->nb_chapters; ++i) {
    const AVChapter* from = in->chapters[i];
    const std::int64_t start_us = time.output_us(from->start, from->time_base);
    const std::int64_t end_us = std::min(time.output_us(from->end, from->time_base), time.end_us);
    // Wholly before --start or after --duration; or ending before it starts, which the
    // Matroska muxer refuses.
    if (start_us >= time.end_us || end_us <= 0 || end_us < start_us) continue;
    auto** chapters =
        static_cast<AVChapter**>(av_realloc_array(out->chapters, out->nb_chapters + 1, sizeof(AVChapter*)));
    if (!chapters) throw Error("out of memory");
    out->chapters = chapters;
    auto* to = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!to) throw Error("out of memory");
    out->chapters[out->nb_chapters++] = to;  // avformat_free_context frees it from here
    to->id = from->id;
    to->time_base = kMicroseconds;
    to->start = std::max<std::int64_t>(start_us, 0);
    to->end = end_us;
    if (av_dict_copy(&to->metadata, from->metadata, 0) < 0) throw Error("out of memory");
  }
}

AVStream* add_output_stream(AVFormatContext* out, const AVStream* from) {
  AVStream* st = avformat_new_stream(out, nullptr);
  if (!st) throw Error("out of memory");
  for (const char* key : {"language", "title"}) {
    if (const AVDictionaryEntry* e = av_dict_get(from->metadata, key, nullptr, 0))
      av_dict_set(&st->metadata, key, e->value, 0);
  }
  return st;
}

void start_output(AVFormatContext* out, const std::string& path) {
  int r = avio_open2(&out->pb, path.c_str(), AVIO_FLAG_WRITE, &out->interrupt_callback, nullptr);
  if (r < 0) fail("creating " + path, r);
  r = avformat_write_header(out, nullptr);
  if (r < 0) fail("writing the output header", r);
}

void finish_output(AVFormatContext* out) {
  int r = av_write_trailer(out);
  if (r < 0) fail("finishing the output", r);
  r = avio_closep(&out->pb);
  if (r < 0) fail("closing the output", r);
}

void Sink::write() {
  ++packets;
  if (spill) {
    spill->put(packet, ipts);
    av_packet_unref(packet);
    return;
  }
  if (packet->size > 0) {
    if (muxed++ == 0) {
      first_ts = packet->pts;
      first_duration = packet->duration;
    }
    if (packet->pts != AV_NOPTS_VALUE)
      end_ts =
          end_ts == AV_NOPTS_VALUE ? packet->pts + packet->duration : std::max(end_ts, packet->pts + packet->duration);
    total_duration += packet->duration;
  }
  av_packet_rescale_ts(packet, time_base, stream->time_base);
  packet->stream_index = stream->index;
  const int r = av_interleaved_write_frame(format, packet);  // takes the packet's reference
  if (r < 0) fail("writing the output", r);
}

WrittenStream Sink::written() const {
  WrittenStream w;
  const AVCodecParameters* par = stream->codecpar;
  w.index = stream->index;
  w.type = par->codec_type;
  w.codec = par->codec_id;
  w.packets = muxed;
  w.first_us = first_ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(first_ts, time_base, kMicroseconds);
  w.end_us = end_ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(end_ts, time_base, kMicroseconds);
  if (w.type == AVMEDIA_TYPE_VIDEO) {
    w.width = par->width;
    w.height = par->height;
    w.frame_us = av_rescale_q(1, time_base, kMicroseconds);
  } else {
    w.sample_rate = par->sample_rate;
    w.channels = par->ch_layout.nb_channels;
    // The audio sinks count in samples (time_base 1/sample_rate).
    w.samples = av_rescale_q(total_duration, time_base, AVRational{1, std::max(par->sample_rate, 1)});
    w.first_samples = av_rescale_q(first_duration, time_base, AVRational{1, std::max(par->sample_rate, 1)});
  }
  return w;
}

}  // namespace mediabatch::video
