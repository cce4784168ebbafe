#include "replay_gain.hpp"

#include <ebur128.h>

#include <FLAC++/decoder.h>
#include <FLAC++/metadata.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <system_error>
#include <thread>

#include "flac_io.hpp"
#include "flac_verify.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/parallel.hpp"
#include "mediabatch/temp_files.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

namespace fs = std::filesystem;

constexpr double kReference = -18.0;  // LUFS, ReplayGain 2.0

struct Ebur128Free {
  void operator()(ebur128_state* s) const noexcept { ebur128_destroy(&s); }
};
using Ebur128 = std::unique_ptr<ebur128_state, Ebur128Free>;

// Decodes one FLAC file into an EBU R128 meter; stops at the next frame once `stop` is set.
class Meter final : public FLAC::Decoder::File {
 public:
  explicit Meter(const std::atomic<bool>& stop) : stop_(stop) {}
  Ebur128 state;
  std::string error;

 protected:
  FLAC__StreamDecoderWriteStatus write_callback(const FLAC__Frame* frame, const FLAC__int32* const buffer[]) override {
    if (stop_.load()) {
      error = "interrupted";
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
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
  const std::atomic<bool>& stop_;
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

// "track01.flac: ReplayGain: writing its tagged copy", the start of each reason given here.
std::string about(const std::string& name, const char* doing) { return name + ": ReplayGain: " + doing; }

Error failure(const std::string& name, const char* doing, const std::string& reason) {
  return Error(about(name, doing) + ": " + reason);
}

// Replaces any ReplayGain tags in the chain's VORBIS_COMMENT block with these.
void set_replay_gain(FLAC::Metadata::Chain& chain, const std::string& name, const Loudness& l) {
  FLAC::Metadata::Iterator it;
  it.init(chain);
  do {
    if (it.get_block_type() != FLAC__METADATA_TYPE_VORBIS_COMMENT) continue;
    std::unique_ptr<FLAC::Metadata::Prototype> block(it.get_block());
    auto* vc = dynamic_cast<FLAC::Metadata::VorbisComment*>(block.get());
    if (vc == nullptr) break;
    for (const char* key : {"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN",
                            "REPLAYGAIN_ALBUM_PEAK", "REPLAYGAIN_REFERENCE_LOUDNESS"})
      vc->remove_entries_matching(key);
    if (!add_replay_gain(*vc, l)) throw failure(name, "adding its tags", "out of memory");
    return;
  } while (it.next());
  // The encoder always writes a VORBIS_COMMENT block; a file without one gets a new block.
  // On success the chain takes the block and FLAC++ deletes the wrapper itself.
  auto vc = std::make_unique<FLAC::Metadata::VorbisComment>();
  FLAC::Metadata::Iterator first;
  first.init(chain);
  if (!add_replay_gain(*vc, l) || !first.insert_block_after(vc.get()))
    throw failure(name, "adding its tags", "adding a VORBIS_COMMENT block failed");
  vc.release();
}

// A hidden copy beside a file, renamed over it once complete, so that the file under its own
// name is whole at every moment (a crash, a full disk or Ctrl-C leaves the old file, not a torn
// one). The name is the engine's temporary shape, which the input walk skips and a later run
// sweeps up; the copy is removed unless it replaced the file.
class ReplacementCopy {
 public:
  explicit ReplacementCopy(const fs::path& original)
      : original_(original), path_(temp_path_beside(original, "replaygain")) {}
  ~ReplacementCopy() {
    std::error_code ec;
    if (created_) fs::remove(path_, ec);
  }
  ReplacementCopy(const ReplacementCopy&) = delete;
  ReplacementCopy& operator=(const ReplacementCopy&) = delete;

  std::string name() const { return original_.filename().string(); }
  const fs::path& path() const { return path_; }

  // Creates the copy, never over someone else's file, with the file's permission bits.
  IoFile create() {
    std::error_code ec;
    const auto perms = fs::status(original_, ec).permissions();
    if (!ec) mtime_ = fs::last_write_time(original_, ec);
    if (ec) throw failure(name(), "reading", ec.message());
    IoFile copy = IoFile::create_new(path_, static_cast<mode_t>(perms & fs::perms::mask),
                                     about(name(), "creating its tagged copy"));
    created_ = true;
    return copy;
  }

  // Renames the copy over the file, with the file's time: a later run's skip-if-newer sees
  // the time of the encode, as before the tags were added.
  void replace_original() {
    std::error_code ec;
    fs::last_write_time(path_, mtime_, ec);
    if (!ec) fs::rename(path_, original_, ec);
    if (ec) throw failure(name(), "replacing it with its tagged copy", ec.message());
    created_ = false;
  }

 private:
  fs::path original_;
  fs::path path_;
  fs::file_time_type mtime_;
  bool created_ = false;
};

void copy_bytes(IoFile& in, IoFile& out, const std::string& name) {
  std::vector<char> buffer(1 << 20);
  in.seek(0, SEEK_SET);
  for (std::size_t n; in.error() == 0 && out.error() == 0 && (n = in.read(buffer.data(), 1, buffer.size())) > 0;)
    out.write(buffer.data(), 1, n);
  if (in.error() != 0) throw failure(name, "reading", errno_text(in.error()));
  if (out.error() != 0) throw failure(name, "writing its tagged copy", errno_text(out.error()));
}

// Writes the file with the chain's metadata into `out`: its bytes copied, then the metadata
// rewritten in place (the tags go into the padding; the audio is not re-encoded or moved).
// Where the padding has no room, libFLAC writes the whole file anew from `in`.
void write_tagged(FLAC::Metadata::Chain& chain, IoFile& in, IoFile& out, const std::string& name) {
  bool ok = false;
  if (chain.check_if_tempfile_needed(true)) {
    ok = chain.write(true, in.handle(), IoFile::callbacks, out.handle(), IoFile::callbacks);
  } else {
    copy_bytes(in, out, name);
    ok = chain.write(true, out.handle(), IoFile::callbacks);
  }
  if (ok) return;
  if (in.error() != 0) throw failure(name, "reading", errno_text(in.error()));
  throw failure(name, "writing its tagged copy", out.reason(chain.status().as_cstring()));
}

// What a file written from `chain` holds: its metadata blocks and tags, and STREAMINFO's
// format, sample count and MD5 (that of the audio, which the copy keeps unchanged).
FileFacts facts_of(FLAC::Metadata::Chain& chain) {
  FileFacts facts;
  FLAC::Metadata::Iterator it;
  it.init(chain);
  do {
    std::unique_ptr<FLAC::Metadata::Prototype> block(it.get_block());
    if (!block) break;
    add_block(facts, *static_cast<const FLAC__StreamMetadata*>(*block));
  } while (it.next());
  return facts;
}

// Tags one file: the file is only read, its tagged copy then renamed over it. Our own file
// handles keep the system's reason for a failure, which libFLAC's chain reports only as
// FLAC__METADATA_CHAIN_STATUS_WRITE_ERROR (and it does not check its close). With `verify`,
// the copy is decoded and checked first: a bad copy never takes the file's place.
void tag_file(const fs::path& file, const Loudness& l, bool verify) {
  ReplacementCopy copy(file);
  const std::string name = copy.name();
  IoFile in = IoFile::open(file, "rb", about(name, "opening"));
  FLAC::Metadata::Chain chain;
  if (!chain.read(in.handle(), IoFile::callbacks))
    throw failure(name, "reading its metadata", in.reason(chain.status().as_cstring()));
  set_replay_gain(chain, name, l);
  IoFile out = copy.create();
  write_tagged(chain, in, out, name);
  out.close(about(name, "writing its tagged copy"));
  if (verify) {
    // The chain as written: libFLAC may have resized the padding to make room for the tags.
    try {
      check_flac(copy.path(), facts_of(chain));
    } catch (const Error& e) {
      throw failure(name, "verify", e.what());
    }
  }
  copy.replace_original();
}

void throw_if_stopped(const std::atomic<bool>& stop) {
  if (stop.load()) throw Cancelled("interrupted");
}

// One file's meter, or null with the reason in `error`.
Ebur128 measure_file(const fs::path& file, const std::atomic<bool>& stop, std::string& error) {
  Meter meter(stop);
  meter.set_md5_checking(false);
  const auto init = meter.init(file.string());
  if (init != FLAC__STREAM_DECODER_INIT_STATUS_OK) {
    error = std::string("opening: ") + FLAC__StreamDecoderInitStatusString[init];
    return nullptr;
  }
  if (!meter.process_until_end_of_stream() || !meter.error.empty()) {
    error = "decoding: " + (meter.error.empty() ? std::string(meter.get_state().as_cstring()) : meter.error);
    return nullptr;
  }
  meter.finish();
  return std::move(meter.state);
}

// Every file's meter, measured in parallel; throws Cancelled once `stop` is set.
std::vector<Ebur128> measure_all(const std::vector<fs::path>& files, const std::atomic<bool>& stop) {
  std::vector<Ebur128> states(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<std::size_t> next{0};
  const auto cores = static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
  run_workers(static_cast<int>(std::min(cores, files.size())), [&] {
    for (std::size_t i = next++; i < files.size() && !stop.load(); i = next++)
      states[i] = measure_file(files[i], stop, errors[i]);
  });
  throw_if_stopped(stop);
  for (std::size_t i = 0; i < files.size(); ++i)
    if (!states[i])
      throw Error("ReplayGain: " + files[i].filename().string() + ": " +
                  (errors[i].empty() ? std::string("no audio") : errors[i]));
  return states;
}

// Track values from each meter, album values over each folder's meters (a folder is an album).
std::vector<Loudness> loudness_by_album(const std::vector<fs::path>& files, const std::vector<Ebur128>& states) {
  std::vector<Loudness> out(files.size());
  std::map<fs::path, std::vector<std::size_t>> albums;
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

}  // namespace

std::vector<Loudness> measure_replay_gain(const std::vector<fs::path>& files, const std::atomic<bool>& stop) {
  return loudness_by_album(files, measure_all(files, stop));
}

void apply_replay_gain(const std::vector<fs::path>& files, const std::atomic<bool>& stop, bool verify) {
  const auto results = measure_replay_gain(files, stop);
  std::string silent;
  for (std::size_t i = 0; i < files.size(); ++i) {
    // Between measuring and writing, and between files: each file is untagged or whole.
    throw_if_stopped(stop);
    if (results[i].silent) {
      silent += (silent.empty() ? "" : ", ") + files[i].filename().string();
      continue;
    }
    tag_file(files[i], results[i], verify);
  }
  if (!silent.empty()) throw Error("ReplayGain: no loudness to measure (silence) in " + silent + "; left untagged");
}

}  // namespace mediabatch::flac
