#include "replay_gain.hpp"

#include <ebur128.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <FLAC++/decoder.h>
#include <FLAC++/metadata.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <atomic>
#include <map>
#include <thread>
#include <memory>
#include <system_error>

#include "mediabatch/errors.hpp"
#include "mediabatch/parallel.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

namespace fs = std::filesystem;

constexpr double kReference = -18.0;  // LUFS, ReplayGain 2.0

struct Ebur128Free {
  void operator()(ebur128_state* s) const noexcept { ebur128_destroy(&s); }
};
using Ebur128 = std::unique_ptr<ebur128_state, Ebur128Free>;

// Decodes one FLAC file into an EBU R128 meter.
class Meter final : public FLAC::Decoder::File {
 public:
  Ebur128 state;
  std::string error;

 protected:
  FLAC__StreamDecoderWriteStatus write_callback(const FLAC__Frame* frame, const FLAC__int32* const buffer[]) override {
    const unsigned channels = frame->header.channels;
    const unsigned n = frame->header.blocksize;
    if (!state) {
      state.reset(ebur128_init(channels, frame->header.sample_rate, EBUR128_MODE_I | EBUR128_MODE_SAMPLE_PEAK));
      if (!state) {
        error = "cannot start the loudness meter";
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
      }
      channels_ = channels;
    }
    if (channels != channels_) {
      error = "channel count changes mid-stream";
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    const double scale = 1.0 / static_cast<double>(1ull << (frame->header.bits_per_sample - 1));
    samples_.resize(static_cast<std::size_t>(n) * channels);
    for (unsigned c = 0; c < channels; ++c)
      for (unsigned i = 0; i < n; ++i) samples_[static_cast<std::size_t>(i) * channels + c] = buffer[c][i] * scale;
    if (ebur128_add_frames_double(state.get(), samples_.data(), n) != EBUR128_SUCCESS) {
      error = "loudness meter failed";
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
  }
  void error_callback(FLAC__StreamDecoderErrorStatus status) override {
    if (error.empty()) error = FLAC__StreamDecoderErrorStatusString[status];
  }

 private:
  unsigned channels_ = 0;
  std::vector<double> samples_;
};

double peak_of(ebur128_state* s) {
  double peak = 0;
  for (unsigned c = 0; c < s->channels; ++c) {
    double p = 0;
    if (ebur128_sample_peak(s, c, &p) == EBUR128_SUCCESS) peak = std::max(peak, p);
  }
  return peak;
}

std::string format_gain(double db) { return number_text("%+.2f dB", db); }
std::string format_peak(double peak) { return number_text("%.6f", peak); }

bool add_replay_gain(FLAC::Metadata::VorbisComment& vc, const Loudness& l) {
  return vc.append_comment({"REPLAYGAIN_TRACK_GAIN", format_gain(l.track_gain).c_str()}) &&
         vc.append_comment({"REPLAYGAIN_TRACK_PEAK", format_peak(l.track_peak).c_str()}) &&
         vc.append_comment({"REPLAYGAIN_ALBUM_GAIN", format_gain(l.album_gain).c_str()}) &&
         vc.append_comment({"REPLAYGAIN_ALBUM_PEAK", format_peak(l.album_peak).c_str()});
}

// Writes the tags into `file` in place; `name` is the file the user knows, for messages.
void write_tags(const fs::path& file, const std::string& name, const Loudness& l) {
  FLAC::Metadata::Chain chain;
  if (!chain.read(file.c_str()))
    throw Error(name + ": reading FLAC metadata for ReplayGain: " + chain.status().as_cstring());
  FLAC::Metadata::Iterator it;
  it.init(chain);
  bool found = false;
  do {
    if (it.get_block_type() != FLAC__METADATA_TYPE_VORBIS_COMMENT) continue;
    std::unique_ptr<FLAC::Metadata::Prototype> block(it.get_block());
    auto* vc = dynamic_cast<FLAC::Metadata::VorbisComment*>(block.get());
    if (vc == nullptr) break;
    for (const char* key : {"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN",
                            "REPLAYGAIN_ALBUM_PEAK", "REPLAYGAIN_REFERENCE_LOUDNESS"})
      vc->remove_entries_matching(key);
    if (!add_replay_gain(*vc, l)) throw Error(name + ": adding ReplayGain tags: out of memory");
    found = true;
    break;
  } while (it.next());
  if (!found) {
    // The encoder always writes a VORBIS_COMMENT block; a file without one gets a new block.
    // On success the chain takes the block and FLAC++ deletes the wrapper itself.
    auto vc = std::make_unique<FLAC::Metadata::VorbisComment>();
    FLAC::Metadata::Iterator first;
    first.init(chain);
    if (!add_replay_gain(*vc, l) || !first.insert_block_after(vc.get()))
      throw Error(name + ": adding a VORBIS_COMMENT block failed");
    vc.release();
  }
  // use_padding: the tags grow into the PADDING block, so the audio is not moved.
  if (!chain.write(true, false)) throw Error(name + ": writing ReplayGain tags: " + chain.status().as_cstring());
}

// Copies `from` into `to`, which this call creates (O_EXCL: never someone else's file) and
// removes again when the copy fails part-way; `to` gets the permission bits of `from`. Throws
// Error with the system's reason ("writing: No space left on device").
void copy_to_new_file(const fs::path& from, const fs::path& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!in || ::fstat(in.get(), &st) != 0) throw Error("reading: " + errno_text(errno));
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) throw Error("creating " + to.filename().string() + ": " + errno_text(errno));
  try {
    std::vector<char> buffer(1 << 20);
    for (ssize_t n; (n = ::read(in.get(), buffer.data(), buffer.size())) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("reading: " + errno_text(errno));
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(out.get(), buffer.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw Error("writing: " + errno_text(errno));
        done += w;
      }
    }
    if (::fchmod(out.get(), st.st_mode & 07777) != 0 || out.close() != 0)
      throw Error("writing: " + errno_text(errno));
  } catch (...) {
    std::error_code ignored;
    fs::remove(to, ignored);
    throw;
  }
}

// A hidden copy beside a file, renamed over it once complete, so that the file under its own
// name is whole at every moment (a crash or a full disk leaves the old file, not a torn one).
// The name has the engine's temporary shape (".NAME.mbtmp<pid>-..."), which the input walk
// skips; the copy is removed unless it replaced the file.
class ReplacementCopy {
 public:
  explicit ReplacementCopy(const fs::path& original) : original_(original) {
    const fs::path temp = original.parent_path() / ("." + original.stem().string() + ".mbtmp" +
                                                    std::to_string(::getpid()) + "-replaygain" +
                                                    original.extension().string());
    try {
      mtime_ = fs::last_write_time(original);
      copy_to_new_file(original, temp);
    } catch (const std::exception& e) {
      throw Error(name() + ": copying for ReplayGain: " + e.what());
    }
    path_ = temp;
  }
  ~ReplacementCopy() {
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);
  }
  ReplacementCopy(const ReplacementCopy&) = delete;
  ReplacementCopy& operator=(const ReplacementCopy&) = delete;

  const fs::path& path() const noexcept { return path_; }
  std::string name() const { return original_.filename().string(); }

  // Renames the copy over the file, with the file's time: a later run's skip-if-newer sees
  // the time of the encode, as before the tags were added.
  void replace_original() {
    std::error_code ec;
    fs::last_write_time(path_, mtime_, ec);
    if (!ec) fs::rename(path_, original_, ec);
    if (ec) throw Error(name() + ": replacing it with its ReplayGain-tagged copy: " + ec.message());
    path_.clear();
  }

 private:
  fs::path original_;
  fs::path path_;
  fs::file_time_type mtime_;
};

}  // namespace

std::vector<Loudness> measure_replay_gain(const std::vector<std::filesystem::path>& files) {
  std::vector<Loudness> out(files.size());
  std::vector<Ebur128> states(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<std::size_t> next{0};
  auto measure = [&](std::size_t i) {
    Meter meter;
    meter.set_md5_checking(false);
    const auto init = meter.init(files[i].string());
    if (init != FLAC__STREAM_DECODER_INIT_STATUS_OK) {
      errors[i] = std::string("opening: ") + FLAC__StreamDecoderInitStatusString[init];
      return;
    }
    if (!meter.process_until_end_of_stream() || !meter.error.empty()) {
      errors[i] = "decoding: " + (meter.error.empty() ? std::string(meter.get_state().as_cstring()) : meter.error);
      return;
    }
    meter.finish();
    states[i] = std::move(meter.state);
  };
  const auto cores = static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
  run_workers(static_cast<int>(std::min(cores, files.size())), [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) measure(i);
  });
  for (std::size_t i = 0; i < files.size(); ++i)
    if (!errors[i].empty() || !states[i])
      throw Error("ReplayGain: " + files[i].filename().string() + ": " +
                  (errors[i].empty() ? std::string("no audio") : errors[i]));

  // Each folder is one album.
  std::map<std::filesystem::path, std::vector<std::size_t>> albums;
  for (std::size_t i = 0; i < files.size(); ++i) albums[files[i].parent_path()].push_back(i);
  for (const auto& [folder, members] : albums) {
    std::vector<ebur128_state*> group;
    double album_peak = 0;
    for (std::size_t i : members) {
      Loudness& l = out[i];
      double loudness = 0;
      ebur128_loudness_global(states[i].get(), &loudness);
      l.silent = !std::isfinite(loudness);
      l.track_gain = kReference - loudness;
      l.track_peak = peak_of(states[i].get());
      album_peak = std::max(album_peak, l.track_peak);
      group.push_back(states[i].get());
    }
    double album_loudness = 0;
    ebur128_loudness_global_multiple(group.data(), group.size(), &album_loudness);
    for (std::size_t i : members) {
      out[i].album_gain = kReference - album_loudness;
      out[i].album_peak = album_peak;
      if (!std::isfinite(album_loudness)) out[i].silent = true;
    }
  }
  return out;
}

void apply_replay_gain(const std::vector<std::filesystem::path>& files) {
  const auto results = measure_replay_gain(files);
  std::string silent;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (results[i].silent) {
      silent += (silent.empty() ? "" : ", ") + files[i].filename().string();
      continue;
    }
    ReplacementCopy copy(files[i]);
    write_tags(copy.path(), copy.name(), results[i]);
    copy.replace_original();
  }
  if (!silent.empty()) throw Error("ReplayGain: no loudness to measure (silence) in " + silent + "; left untagged");
}

}  // namespace mediabatch::flac
