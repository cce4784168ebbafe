#pragma once
// The parts: with threads to spare (a batch smaller than the slots), libtheora's one thread
// is the bottleneck, so later parts of the video are coded at once, each on a thread of its
// own from a reading of its own, starting with a key frame. Their packets wait in spill files
// until the main reading has coded the first part, then are appended in order, as long as
// each part joins up with the one before it frame for frame.
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "input.hpp"
#include "spill_file.hpp"
#include "theora_encoder.hpp"
#include "video_track.hpp"

namespace mediabatch::video {

// Output times where parts after the first begin, for `threads` threads; empty: one part.
std::vector<std::int64_t> plan_parts(const AVFormatContext* in, const Timeline& time, int threads);

// What every part reads and codes the same way as the main reading.
struct PartSource {
  std::string path;
  int stream_index = -1;
  VideoParams params;
  Timeline time;
};

// The later parts of one file and their threads. Used by the file's main thread only; the
// parts' own threads see their part, the source and the stop flags.
class VideoParts {
 public:
  VideoParts(StopFlags& stop, const EncodeContext& ctx) noexcept : stop_(stop), ctx_(ctx) {}
  VideoParts(const VideoParts&) = delete;
  VideoParts& operator=(const VideoParts&) = delete;
  // When the file ends first (it failed, or its parts do not join), tells the parts to stop
  // and waits for them.
  ~VideoParts();

  // Makes a spill file in `spill_dir` for each part (from each of `starts` to the next, the
  // last to the end of the time line) and starts their threads. Throws Error.
  void start(const std::vector<std::int64_t>& starts, PartSource source, const fs::path& spill_dir);
  bool empty() const { return parts_.empty(); }
  // True once a part failed: the file will be coded again in one part, so stop now.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  // Waits for every part, then appends their packets after `video`'s. False when they do not
  // join up (a frame without a time, a seek that landed late, damage before a part's start,
  // a part that failed): the file is then coded in one part. Throws Cancelled when a part
  // was stopped, Error when writing fails.
  bool join_onto(VideoTrack& video);

 private:
  struct Part {
    explicit Part(const fs::path& spill_dir) : spill(spill_dir) {}
    SpillFile spill;
    Span span;
    std::exception_ptr cancelled;
    bool failed = false;
  };
  void run(Part& part) noexcept;
  void code(Part& part) const;
  void wait();
  bool line_up(const Span& first) const;

  StopFlags& stop_;
  const EncodeContext& ctx_;
  PartSource source_;
  std::vector<std::unique_ptr<Part>> parts_;
  std::atomic<bool> failed_{false};
  std::vector<std::thread> threads_;
};

}  // namespace mediabatch::video
