#include "video_parts.hpp"

#include <algorithm>

#include "decoder.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::video {

namespace {

// Each part starts with a key frame of its own: 1.4% more bytes for a 6 s part (key frames
// every 12 frames cost about 3.5 times the others).
constexpr std::int64_t kMinPartUs = 6 * AV_TIME_BASE;

// Containers whose seeking lands on a key frame at or before the time asked for, with the
// times of the frames as the first reading sees them.
bool can_code_in_parts(const AVFormatContext* in) {
  if (in->duration <= 0 || in->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE) return false;
  if (!in->pb || !(in->pb->seekable & AVIO_SEEKABLE_NORMAL)) return false;
  if (in->iformat->flags & AVFMT_NOTIMESTAMPS) return false;
  const std::string name = in->iformat->name;
  return name.find("mov") != std::string::npos || name.find("matroska") != std::string::npos;
}

}  // namespace

std::vector<std::int64_t> plan_parts(const AVFormatContext* in, const Timeline& time, int threads) {
  std::vector<std::int64_t> starts;
  if (threads < 2 || !can_code_in_parts(in)) return starts;
  const std::int64_t span = expected_end_us(in, time);
  const std::int64_t parts = std::min<std::int64_t>(threads, span / kMinPartUs);
  for (std::int64_t i = 1; i < parts; ++i) starts.push_back(span * i / parts);
  return starts;
}

VideoParts::~VideoParts() {
  stop_.abort();
  wait();
}

void VideoParts::start(const std::vector<std::int64_t>& starts, PartSource source, const fs::path& spill_dir) {
  source_ = std::move(source);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    auto part = std::make_unique<Part>(spill_dir);
    part->span.begin_us = starts[i];
    part->span.end_us = i + 1 < starts.size() ? starts[i + 1] : source_.time.end_us;
    parts_.push_back(std::move(part));
  }
  for (auto& part : parts_) threads_.emplace_back([this, p = part.get()] { run(*p); });
}

// The one place a part's exceptions are caught: a part only reports how it ended.
void VideoParts::run(Part& part) noexcept {
  try {
    code(part);
  } catch (const Cancelled&) {
    part.cancelled = std::current_exception();
  } catch (...) {
    part.failed = true;
    failed_ = true;
  }
}

// Reads the input again from the key frame at or before the part's start; what comes before
// the start is decoded, not coded.
void VideoParts::code(Part& part) const {
  const int index = source_.stream_index;
  InputFormat in = open_input(source_.path, stop_);
  if (index >= static_cast<int>(in->nb_streams)) throw Error("the input changed while it was read");
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (static_cast<int>(i) != index) in->streams[i]->discard = AVDISCARD_ALL;
  AVStream* st = in->streams[index];
  // Strict: damage in a part has the file coded again in one part, where it is tolerated and
  // reported once, not once by each reading that decodes it.
  VideoTrack track(st, open_decoder(st, 1, "video"), source_.params, 1, true);
  Packet packet(av_packet_alloc());
  Packet out_packet(av_packet_alloc());
  Frame frame(av_frame_alloc());
  if (!packet || !out_packet || !frame) throw Error("out of memory");
  track.spill_to(part.spill, out_packet.get());
  track.span = part.span;
  const int sought = seek_key_frame(in.get(), source_.time.origin_us + part.span.begin_us);
  if (sought < 0) fail("seeking", sought);
  while (!track.done()) {
    stop_.throw_if_stopped();
    const int r = read_packet(in.get(), packet.get());
    if (r == AVERROR_EOF) {
      track.decode(nullptr, frame.get(), source_.time, ctx_);
      break;
    }
    if (r < 0) fail("reading the input", r);
    if (packet->stream_index == index) track.decode(packet.get(), frame.get(), source_.time, ctx_);
    av_packet_unref(packet.get());
  }
  part.span = track.span;
}

void VideoParts::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

bool VideoParts::join_onto(VideoTrack& video) {
  wait();
  if (parts_.empty()) return true;
  if (!line_up(video.span)) return false;
  for (auto& part : parts_)
    if (!video.append(part->spill, part->span)) return false;
  return true;
}

// Whether each part begins with the frame that ends the one before it.
bool VideoParts::line_up(const Span& first) const {
  std::int64_t next_us = first.next_frame_us;
  bool untimed = first.untimed;
  for (const auto& part : parts_) {
    if (part->cancelled) std::rethrow_exception(part->cancelled);
    if (part->failed || part->span.first_kept_us != next_us) return false;
    next_us = part->span.next_frame_us;
    untimed = untimed || part->span.untimed;
  }
  return !untimed;
}

}  // namespace mediabatch::video
