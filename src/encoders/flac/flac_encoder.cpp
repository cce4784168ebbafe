// flac: WAV to FLAC with libFLAC++, with album tags (JSON or CUE), whole-disc images split
// by their cue sheet, a cover picture and album ReplayGain written after the batch. This file
// holds the command: its options, how it recognises and names inputs, the track list of the
// batch, and which stage a file goes to (flac_writer, cue_split, replay_gain).
#include <CLI/CLI.hpp>
#include <FLAC/format.h>
#include <ebur128.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>

#include "../descriptions.hpp"
#include "album.hpp"
#include "album_json.hpp"
#include "cover.hpp"
#include "cue_sheet.hpp"
#include "cue_split.hpp"
#include "flac_verify.hpp"
#include "flac_writer.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/job_list.hpp"
#include "mediabatch/text.hpp"
#include "replay_gain.hpp"
#include "wav_reader.hpp"

namespace mediabatch {

namespace {

using flac::Tags;

bool is_cue_path(const fs::path& p) { return lower_extension(p.filename().string()) == ".cue"; }

bool is_flac_head(std::string_view head) { return head.substr(0, 4) == "fLaC"; }

bool is_wav_head(std::string_view h) {
  return h.size() >= 12 && (h.substr(0, 4) == "RIFF" || h.substr(0, 4) == "RF64" || h.substr(0, 4) == "BW64") &&
         h.substr(8, 4) == "WAVE";
}

// Inputs are compared as absolute paths: a file may be named "a.wav" in one place and
// "/music/a.wav" in another.
fs::path normal(const fs::path& p) { return fs::absolute(p).lexically_normal(); }

class FlacEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "flac"; }
  std::string_view description() const override {
    return descriptions::flac;
  }
  std::vector<std::string> library_versions() const override {
    int major = 0, minor = 0, patch = 0;
    ebur128_get_version(&major, &minor, &patch);
    return {"libFLAC " + std::string(FLAC__VERSION_STRING),
            "libebur128 " + version_text(unsigned(major), unsigned(minor), unsigned(patch))};
  }

  void add_options(CLI::App& cmd) override {
    cmd.add_option("--level", writer_.level, "Compression level 0-8 (default 8, flac --best)")->check(CLI::Range(0, 8));
    cmd.add_option("--album", album_path_, "Album data (JSON: artist, title, year, genre, tracks, ...)");
    cmd.add_option("--cue", cue_path_, "CUE sheet: tags, and splits a whole-disc image into tracks");
    cmd.add_option("--tag", tag_args_, "Add or override a tag on every file: KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    cmd.add_option("--cover", cover_path_, "Embed this JPEG or PNG as the front cover");
    cmd.add_flag("--replay-gain", replay_gain_, "Write ReplayGain 2.0 track and album tags after encoding");
    cmd.add_flag("--strict", writer_.strict,
                 "Fail a WAV shorter than its header says, instead of encoding what is there with a warning");
  }

  void validate() override {
    if (!album_path_.empty() && !cue_path_.empty())
      throw UsageError("--album and --cue both give the album's tags: use one of them");
    if (!album_path_.empty()) album_ = flac::read_album_json(album_path_);
    if (!cue_path_.empty()) cue_ = flac::read_cue_sheet(cue_path_);
    for (const auto& a : tag_args_) overrides_.push_back(flac::parse_tag_argument(a));
    if (!cover_path_.empty()) cover_ = flac::read_cover(cover_path_);
    writer_.cover = cover_ ? &*cover_ : nullptr;
  }

  // With --cue and no inputs: the whole-disc image it names, or its track files.
  std::vector<std::string> default_inputs() const override {
    std::vector<std::string> files;
    if (!cue_) return files;
    if (cue_->files.size() == 1 && cue_->image_path().empty())
      throw UsageError(cue_path_ + " has no FILE line: name the image after it (mediabatch flac --cue " + cue_path_ +
                       " IMAGE)");
    for (const auto& f : cue_->files) files.push_back((cue_->path.parent_path() / f).string());
    return files;
  }

  // The batch's WAV inputs are its track list: a file without a number in its name is the
  // track of its place among them.
  void plan(const EncoderJobs& jobs) override {
    std::vector<fs::path> wavs;
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      const std::string input = jobs.input(k);
      if (!is_cue_path(input)) wavs.push_back(normal(input));
    }
    std::sort(wavs.begin(), wavs.end());
    // An album is a folder: a file is numbered by its place among the batch's WAVs beside it
    // (with -r, each subfolder counts from 1).
    places_.clear();
    std::map<fs::path, unsigned> in_folder;
    for (const auto& w : wavs) places_.try_emplace(w, ++in_folder[w.parent_path()]);
    // A track with no entry in the album data is a usage error before anything is encoded.
    if (const flac::Album* album = album_data()) {
      for (const auto& in : wavs) {
        const unsigned n = album_track_for(in);
        if (n == 0 || n > album->tracks.size()) throw UsageError(no_entry(n, in));
      }
    }
  }

  bool accepts(const Probe& probe) const override {
    return is_wav_head(probe.head) || (is_cue_path(probe.path) && flac::looks_like_cue_sheet(probe.head));
  }

  // A .flac is claimed too: it is not an input, but one that is not FLAC is a broken file that
  // someone converting a rip must hear about.
  bool claims(const Probe& probe) const override {
    const std::string ext = lower_extension(probe.path.filename().string());
    return ext == ".wav" || ext == ".wave" || ext == ".cue" || (ext == ".flac" && !is_flac_head(probe.head));
  }

  std::string reject_reason(const Probe& probe) const override {
    if (is_flac_head(probe.head)) return "already FLAC";
    if (lower_extension(probe.path.filename().string()) == ".flac") return "not a FLAC file";
    return "not a WAV file (RIFF/RF64 WAVE) or a cue sheet";
  }

  fs::path output_name(const fs::path& input) const override {
    if (is_cue_path(input)) {
      try {
        return flac::track_file_name(flac::read_cue_sheet(input).tracks.front().number);
      } catch (const std::exception&) {
        return flac::track_file_name(1);  // encode() reports what is wrong with it
      }
    }
    if (cue_ && cue_->is_image()) return flac::track_file_name(cue_->tracks.front().number);
    fs::path stem = input.stem();
    if (lower_extension(stem.string()) == ".cdda") stem = stem.stem();
    return stem.string() + ".flac";
  }

  // A split writes every track of its cue sheet, named before encoding; skip-if-newer needs
  // them all (a track may have been deleted since).
  std::vector<fs::path> planned_outputs(const fs::path& input, const fs::path& output) const override {
    if (is_cue_path(input)) return flac::track_paths(output.parent_path(), flac::read_image_cue_sheet(input));
    if (cue_ && cue_->is_image()) return flac::track_paths(output.parent_path(), *cue_);
    return {output};
  }

  void encode(EncodeContext& ctx) const override {
    if (is_cue_path(ctx.input())) {
      const flac::CueSheet cue = flac::read_image_cue_sheet(ctx.input());
      flac::split_image(ctx, cue.image_path(), cue, overrides_, writer_);
    } else if (cue_ && cue_->is_image()) {
      flac::split_image(ctx, ctx.input(), *cue_, overrides_, writer_);
    } else {
      encode_wav(ctx);
    }
  }

  bool wants_outputs() const override { return replay_gain_; }

  // `outputs` holds the tracks that earlier runs wrote and this one skipped as well, so an
  // album encoded over several runs gets the gain of all its tracks. Under --verify each
  // tagged copy is read back and checked before it replaces its file.
  void finish(const std::vector<fs::path>& outputs, const std::atomic<bool>& stop) override {
    if (!replay_gain_) return;
    std::vector<fs::path> files;
    for (const auto& f : outputs)  // every output, the tracks of a split image included
      if (lower_extension(f.filename().string()) == ".flac") files.push_back(f);
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    if (!files.empty()) flac::apply_replay_gain(files, stop, verify());
  }

 private:
  void encode_wav(EncodeContext& ctx) const {
    flac::WavReader wav(ctx.input(), writer_.strict);
    for (const auto& note : wav.notes()) ctx.warn(note);
    flac::Piece piece;
    piece.frames = wav.format().frames;
    piece.path = ctx.temp_output();
    piece.tags = tags_for(ctx.input());
    flac::add_channel_mask(ctx, wav.format(), piece.tags);
    flac::check_when_verifying(ctx, piece.path, flac::write_piece(ctx, wav, piece, writer_));
  }

  // The album data that tags separate track files, if any (a cue sheet of one image tags
  // the tracks it splits instead).
  const flac::Album* album_data() const {
    if (album_) return &*album_;
    return cue_ && !cue_->is_image() ? &cue_->album : nullptr;
  }

  std::string no_entry(unsigned track, const fs::path& input) const {
    return (album_ ? album_path_ : cue_path_) + " has no entry for track " + std::to_string(track) + " (" +
           input.filename().string() + ")";
  }

  // A file's track: the number in its name (track07.cdda.wav is 7), or else its place among
  // the batch's WAV inputs (0 for a file plan() did not see).
  unsigned track_number_for(const fs::path& input) const {
    if (auto n = flac::track_number_in_name(input)) return *n;
    const auto it = places_.find(normal(input));
    return it == places_.end() ? 0 : it->second;
  }

  // The album entry of an input: with a cue sheet, the track whose FILE has the input's name,
  // or, for a sheet of one FILE, its track (the numbers come from the sheet, never from the
  // image's name, which may hold a year); otherwise track_number_for().
  unsigned album_track_for(const fs::path& input) const {
    if (cue_ && !album_) {
      for (const auto& t : cue_->tracks)
        if (fs::path(t.file).stem() == input.stem() || fs::path(t.file).filename() == input.filename())
          return t.number;
      if (cue_->files.size() == 1 && !cue_->tracks.empty()) return cue_->tracks.front().number;
    }
    return track_number_for(input);
  }

  Tags tags_for(const fs::path& input) const {
    Tags tags;
    if (const flac::Album* album = album_data()) {
      const unsigned n = album_track_for(input);
      // plan() has checked the batch; this is a file it did not see.
      if (n == 0 || n > album->tracks.size()) throw Error(no_entry(n, input));
      tags = album->tags_for(n);
    }
    flac::override_tags(tags, overrides_);
    return tags;
  }

  flac::WriterSettings writer_;
  std::string album_path_, cue_path_, cover_path_;
  std::vector<std::string> tag_args_;
  bool replay_gain_ = false;

  // Parsed by validate(), the track list by plan(); read-only while files are encoded.
  std::optional<flac::Album> album_;
  std::optional<flac::CueSheet> cue_;
  Tags overrides_;
  std::optional<flac::Cover> cover_;
  std::map<fs::path, unsigned> places_;  // place of each WAV input in sorted order, from 1
};

}  // namespace

std::unique_ptr<Encoder> make_flac_encoder() { return std::make_unique<FlacEncoder>(); }

}  // namespace mediabatch
