// `mediabatch video`: videos to Theora + Vorbis in Matroska (or Ogg) with FFmpeg's libraries.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../descriptions.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"
#include "transcode.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
}
#include <theora/codec.h>

namespace mediabatch {

namespace {

constexpr std::array<std::string_view, 15> kExtensions = {".mp4", ".avi", ".wmv", ".flv", ".mpg",
                                                          ".mpeg", ".mov", ".ogv", ".mkv", ".webm",
                                                          ".m4v", ".ts", ".m2ts", ".mts", ".3gp"};

bool known_extension(const std::string& ext) {
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

bool looks_like_transport_stream(std::string_view head) {
  for (std::size_t offset : {0, 4}) {
    for (std::size_t packet : {188, 192}) {
      bool all = head.size() > offset;
      for (std::size_t i = offset; i < head.size() && all; i += packet) all = head[i] == 0x47;
      if (all) return true;
    }
  }
  return false;
}

class VideoEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "video"; }
  std::string_view description() const override {
    return descriptions::video;
  }
  std::vector<std::string> library_versions() const override {
    const auto part = [](const char* lib, unsigned v) {
      return std::string(lib) + " " + version_text(AV_VERSION_MAJOR(v), AV_VERSION_MINOR(v), AV_VERSION_MICRO(v));
    };
    const std::string theora = th_version_string();  // "Xiph.Org libtheora 1.1 20090822 (Thusnelda)"
    const auto name = std::min(theora.find("libtheora"), theora.size());
    const auto date = theora.find(' ', theora.find(' ', name) + 1);
    return {"FFmpeg " + std::string(av_version_info()) + " (" + part("libavformat", avformat_version()) + ", " +
                part("libavcodec", avcodec_version()) + ", " + part("libavfilter", avfilter_version()) + ")",
            theora.substr(name, date == std::string::npos ? std::string::npos : date - name)};
  }

  void add_options(CLI::App& cmd) override {
    cmd.add_option("--format", format_, "Output container: mkv (Matroska) or ogv (Ogg)")
        ->check(CLI::IsMember({"mkv", "ogv"}))
        ->capture_default_str();
    cmd.add_option("--vq", settings_.video_quality, "Theora quality 0..10, as ffmpeg -q:v")
        ->check(CLI::Range(0.0, 10.0))
        ->capture_default_str();
    cmd.add_option("--aq", settings_.audio_quality, "Vorbis quality -1..10, as ffmpeg -q:a")
        ->check(CLI::Range(-1.0, 10.0))
        ->capture_default_str();
    cmd.add_option("--speed", settings_.speed,
                   "Theora encoding speed 0..3: 0 libtheora's slowest search; 1 libtheora's default (the "
                   "ffmpeg CLI's output); 2 as 1, with the frame before each key frame analysed fast; "
                   "3 every frame analysed fast (much larger files)")
        ->check(CLI::Range(0, 3))
        ->capture_default_str();
    cmd.add_option("--start", settings_.start, "Begin at this many seconds into the input (like -ss)")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--duration", settings_.duration, "Keep at most this many seconds")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--max-height", settings_.max_height, "Scale down to at most this height, keeping the aspect ratio")
        ->check(CLI::Range(2, 1 << 16));
    cmd.add_flag("--all-audio", settings_.all_audio, "Keep every audio stream, not only the first");
    cmd.add_flag("--strict", settings_.strict,
                 "Fail a damaged or truncated file on the first error, instead of converting what decodes "
                 "with a warning");
    cmd.add_flag("--no-autorotate", no_autorotate_,
                 "Keep pictures as stored, not turned upright by the stream's rotation (display matrix)");
    cmd.add_option("--deinterlace", deinterlace_,
                   "Deinterlace (bwdif, a frame per frame): auto: a stream with a coded field order and frames "
                   "flagged interlaced; on: every frame; off: none, the field order is written to the output")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    cmd.add_option("--tonemap", tonemap_, "Tone-map HDR (PQ or HLG) to SDR BT.709: auto or off")
        ->check(CLI::IsMember({"auto", "off"}))
        ->capture_default_str();
  }

  void validate() override {
    if (format_ != "mkv" && format_ != "ogv") throw UsageError("--format must be mkv or ogv");
    if (!(settings_.video_quality >= 0 && settings_.video_quality <= 10)) throw UsageError("--vq must be in 0..10");
    if (!(settings_.audio_quality >= -1 && settings_.audio_quality <= 10)) throw UsageError("--aq must be in -1..10");
    if (settings_.speed < 0 || settings_.speed > 3) throw UsageError("--speed must be in 0..3");
    if (!(settings_.start >= 0)) throw UsageError("--start must not be negative");
    if (settings_.max_height < 0 || settings_.max_height == 1) throw UsageError("--max-height must be at least 2");
    settings_.ogg = format_ == "ogv";
    if (deinterlace_ != "auto" && deinterlace_ != "on" && deinterlace_ != "off")
      throw UsageError("--deinterlace must be auto, on or off");
    if (tonemap_ != "auto" && tonemap_ != "off") throw UsageError("--tonemap must be auto or off");
    settings_.autorotate = !no_autorotate_;
    settings_.deinterlace = deinterlace_ == "on"    ? video::Deinterlace::on
                            : deinterlace_ == "off" ? video::Deinterlace::off
                                                    : video::Deinterlace::automatic;
    settings_.tonemap = tonemap_ == "auto";
  }

  bool accepts(const Probe& probe) const override {
    const std::string ext = lower_extension(probe.path.filename().string());
    if (!known_extension(ext)) return false;
    // ".ts" is also TypeScript: a transport stream has its sync byte every 188 bytes (192 in
    // .m2ts/.mts, after a 4-byte time code).
    if (ext == ".ts" || ext == ".mts" || ext == ".m2ts") return looks_like_transport_stream(probe.head);
    return true;
  }
  std::string reject_reason(const Probe& probe) const override {
    return known_extension(lower_extension(probe.path.filename().string())) ? "not an MPEG transport stream"
                                                                            : "unknown extension";
  }

  fs::path output_name(const fs::path& input) const override {
    fs::path name = input.filename();
    name.replace_extension(settings_.ogg ? ".ogv" : ".mkv");
    return name;
  }

  void encode(EncodeContext& ctx) const override { video::transcode(ctx, settings_); }

 private:
  std::string format_ = "mkv";
  video::Settings settings_;
  bool no_autorotate_ = false;
  std::string deinterlace_ = "auto";
  std::string tonemap_ = "auto";
};

}  // namespace

std::unique_ptr<Encoder> make_video_encoder() {
  // FFmpeg logs to stderr from every thread; our reasons come from av_strerror instead.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_QUIET); });
  return std::make_unique<VideoEncoder>();
}

}  // namespace mediabatch
