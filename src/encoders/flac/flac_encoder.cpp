// flac: WAV to FLAC with libFLAC++, with album tags (JSON or CUE), whole-disc images split
// by their cue sheet, a cover picture and album ReplayGain written after the batch.
#include <tbb/parallel_for.h>

#include <CLI/CLI.hpp>
#include <FLAC++/encoder.h>
#include <FLAC++/metadata.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <optional>

#include "album.hpp"
#include "cover.hpp"
#include "mediabatch/encoder.hpp"
#include "mediabatch/errors.hpp"
#include "replay_gain.hpp"
#include "wav_reader.hpp"

namespace mediabatch {

namespace {

using flac::Tags;

constexpr std::size_t kBlockFrames = 16384;  // frames read and handed to libFLAC at a time

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_cue_path(const fs::path& p) { return lower(p.extension().string()) == ".cue"; }

std::string track_file_name(unsigned number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "track%02u.flac", number);
  return buf;
}

// Channel masks whose speaker order is FLAC's own order for that channel count.
bool is_flac_channel_order(unsigned channels, std::uint32_t mask) {
  switch (channels) {
    case 1: return mask == 0x4 || mask == 0x1;
    case 2: return mask == 0x3;
    case 3: return mask == 0x7;
    case 4: return mask == 0x33 || mask == 0x603;
    case 5: return mask == 0x37 || mask == 0x607;
    case 6: return mask == 0x3F || mask == 0x60F;
    case 7: return mask == 0x70F;
    case 8: return mask == 0x63F;
    default: return false;
  }
}

std::string hex_mask(std::uint32_t mask) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", mask);
  return buf;
}

// One encode of a range of frames of an open WAV into one FLAC file.
struct Piece {
  std::uint64_t first_frame = 0;
  std::uint64_t frames = 0;
  fs::path path;  // the temporary file to write
  Tags tags;
};

bool is_wav_head(std::string_view h) {
  return h.size() >= 12 && (h.substr(0, 4) == "RIFF" || h.substr(0, 4) == "RF64" || h.substr(0, 4) == "BW64") &&
         h.substr(8, 4) == "WAVE";
}

bool is_wav_file(const fs::path& p) {
  char head[12] = {};
  flac::File f(std::fopen(p.c_str(), "rb"));
  return f && std::fread(head, 1, sizeof head, f.get()) == sizeof head && is_wav_head({head, sizeof head});
}

class FlacEncoder final : public Encoder {
 public:
  std::string_view name() const override { return "flac"; }
  std::string_view description() const override {
    return "WAV to FLAC (libFLAC), with album tags, cue sheet splitting, cover art and ReplayGain";
  }

  void add_options(CLI::App& cmd) override {
    command_ = &cmd;
    cmd.add_option("--level", level_, "Compression level 0-8 (default 8, flac --best)")->check(CLI::Range(0, 8));
    cmd.add_flag("--verify", verify_, "Decode each frame again while encoding and compare (libFLAC verify)");
    cmd.add_option("--album", album_path_, "Album data (JSON: artist, title, year, genre, tracks, ...)");
    cmd.add_option("--cue", cue_path_, "CUE sheet: tags, and splits a whole-disc image into tracks");
    cmd.add_option("--tag", tag_args_, "Add or override a tag on every file: KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    cmd.add_option("--cover", cover_path_, "Embed this JPEG or PNG as the front cover");
    cmd.add_flag("--replay-gain", replay_gain_, "Write ReplayGain 2.0 track and album tags after encoding");
  }

  // With --cue and no inputs: the whole-disc image it names, or its track files.
  std::vector<std::string> default_inputs() const override {
    std::vector<std::string> files;
    if (!cue_) return files;
    for (const auto& f : cue_->files) files.push_back((cue_->path.parent_path() / f).string());
    return files;
  }

  void validate() override {
    if (!album_path_.empty() && !cue_path_.empty())
      throw UsageError("--album and --cue both give the album's tags: use one of them");
    if (!album_path_.empty()) album_ = flac::read_album_json(album_path_);
    if (!cue_path_.empty()) cue_ = flac::read_cue_sheet(cue_path_);
    for (const auto& a : tag_args_) extra_tags_.push_back(flac::parse_tag_argument(a));
    if (!cover_path_.empty()) cover_ = flac::read_cover(cover_path_);
    collect_inputs();
    if (inputs_.empty() && cue_) {  // no inputs named: the cue sheet's files (default_inputs)
      for (const auto& f : default_inputs()) inputs_.push_back(fs::absolute(f).lexically_normal());
      std::sort(inputs_.begin(), inputs_.end());
    }
    // A track with no entry in the album data is a usage error before anything is encoded.
    const flac::Album* album = album_ ? &*album_ : (cue_ && !cue_->is_image()) ? &cue_->album : nullptr;
    if (album != nullptr) {
      for (const auto& in : inputs_) {
        const unsigned n = album_track_for(in);
        if (n == 0 || n > album->tracks.size())
          throw UsageError((album_ ? album_path_ : cue_path_) + " has no entry for track " + std::to_string(n) +
                           " (" + in.filename().string() + ")");
      }
    }
  }

  bool accepts(const Probe& probe) const override {
    return is_wav_head(probe.head) || (is_cue_path(probe.path) && flac::looks_like_cue_sheet(probe.head));
  }

  std::string reject_reason(const Probe& probe) const override {
    if (probe.head.size() >= 4 && probe.head.substr(0, 4) == "fLaC") return "already FLAC";
    return "not a WAV file (RIFF/RF64 WAVE) or a cue sheet";
  }

  fs::path output_name(const fs::path& input) const override {
    if (is_cue_path(input)) {
      try {
        return track_file_name(flac::read_cue_sheet(input).tracks.front().number);
      } catch (const std::exception&) {
        return track_file_name(1);  // encode() reports what is wrong with it
      }
    }
    if (cue_ && cue_->is_image()) return track_file_name(cue_->tracks.front().number);
    fs::path stem = input.stem();
    if (lower(stem.extension().string()) == ".cdda") stem = stem.stem();
    return stem.string() + ".flac";
  }

  void encode(EncodeContext& ctx) const override {
    if (is_cue_path(ctx.input())) {
      flac::CueSheet cue;
      try {
        cue = flac::read_cue_sheet(ctx.input());
      } catch (const UsageError& e) {
        throw Error(e.what());
      }
      if (cue.files.size() != 1)
        throw Error("cue sheet names " + std::to_string(cue.files.size()) +
                    " files: only a single whole-disc image can be split (give the track files as inputs with --cue)");
      split_image(ctx, cue.image_path(), cue);
      return;
    }
    if (cue_ && cue_->is_image()) {
      split_image(ctx, ctx.input(), *cue_);
      return;
    }
    flac::WavReader wav(ctx.input());
    for (const auto& note : wav.notes()) ctx.warn(note);
    Piece piece;
    piece.frames = wav.format().frames;
    piece.path = ctx.temp_output();
    piece.tags = tags_for(ctx.input());
    add_channel_mask(ctx, wav.format(), piece.tags);
    encode_piece(ctx, wav, piece);
  }

  bool wants_outputs() const override { return replay_gain_; }

  void finish(const std::vector<fs::path>& written) override {
    if (!replay_gain_) return;
    std::vector<fs::path> files;
    for (const auto& f : written)  // every output, the tracks of a split image included
      if (lower(f.extension().string()) == ".flac") files.push_back(f);
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    if (!files.empty()) flac::apply_replay_gain(files);
  }

 private:
  // The WAV inputs named on the command line (files, and the WAVs in named folders), sorted.
  void collect_inputs() {
    if (command_ == nullptr) return;
    for (const CLI::Option* opt : command_->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
      for (const auto& arg : opt->results()) {
        std::error_code ec;
        const fs::path p(arg);
        if (fs::is_directory(p, ec)) {
          for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_regular_file(ec) && is_wav_file(e.path())) inputs_.push_back(e.path());
        } else if (is_wav_file(p)) {
          inputs_.push_back(p);
        }
      }
    }
    for (auto& p : inputs_) p = fs::absolute(p).lexically_normal();
    std::sort(inputs_.begin(), inputs_.end());
  }

  // A file's track: the number in its name (track07.cdda.wav is 7), or else its place in
  // sorted order among the inputs (or, without a command line, the WAVs of its folder).
  unsigned track_number_for(const fs::path& input) const {
    if (auto n = flac::track_number_in_name(input)) return *n;
    const fs::path me = fs::absolute(input).lexically_normal();
    std::vector<fs::path> list = inputs_;
    if (std::find(list.begin(), list.end(), me) == list.end()) {
      list.clear();
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(me.parent_path(), ec))
        if (lower(e.path().extension().string()) == ".wav") list.push_back(fs::absolute(e.path()).lexically_normal());
      std::sort(list.begin(), list.end());
    }
    auto it = std::find(list.begin(), list.end(), me);
    return it == list.end() ? 0 : static_cast<unsigned>(it - list.begin() + 1);
  }

  // The album entry of an input: with a cue sheet of separate track files, the track whose
  // FILE has the input's name; otherwise track_number_for().
  unsigned album_track_for(const fs::path& input) const {
    if (cue_ && !album_) {
      for (const auto& t : cue_->tracks)
        if (fs::path(t.file).stem() == input.stem() || fs::path(t.file).filename() == input.filename())
          return t.number;
    }
    return track_number_for(input);
  }

  Tags tags_for(const fs::path& input) const {
    Tags tags;
    if (album_) {
      tags = album_tags(*album_, album_track_for(input), album_path_, input);
    } else if (cue_) {
      tags = album_tags(cue_->album, album_track_for(input), cue_path_, input);
    }
    apply_extra_tags(tags);
    return tags;
  }

  static Tags album_tags(const flac::Album& album, unsigned n, const std::string& source, const fs::path& input) {
    if (n == 0 || n > album.tracks.size())
      throw Error(source + " has no entry for track " + std::to_string(n) + " (" + input.filename().string() + ")");
    return album.tags_for(n);
  }

  void apply_extra_tags(Tags& tags) const {
    // Every --tag replaces the album's value of that key; repeated keys among --tag add up.
    for (const auto& [key, value] : extra_tags_)
      tags.erase(std::remove_if(tags.begin(), tags.end(),
                                [&](const auto& t) { return lower(t.first) == lower(key); }),
                 tags.end());
    for (const auto& t : extra_tags_) tags.push_back(t);
  }

  static void add_channel_mask(EncodeContext& ctx, const flac::WavFormat& f, Tags& tags) {
    // As the flac CLI does: a WAVE_FORMAT_EXTENSIBLE channel mask is kept as a tag.
    if (!f.extensible || f.channel_mask == 0) return;
    if (!is_flac_channel_order(f.channels, f.channel_mask))
      ctx.warn("channel mask " + hex_mask(f.channel_mask) + " is not a FLAC channel order: channels kept as " +
               "they are, layout recorded in WAVEFORMATEXTENSIBLE_CHANNEL_MASK");
    flac::set_tag(tags, "WAVEFORMATEXTENSIBLE_CHANNEL_MASK", hex_mask(f.channel_mask));
  }

  void split_image(EncodeContext& ctx, const fs::path& image, const flac::CueSheet& cue) const {
    flac::WavReader wav(image);
    for (const auto& note : wav.notes()) ctx.warn(note);
    const flac::WavFormat& f = wav.format();
    // CD frames are 1/75 s: 588 samples at 44.1 kHz, so the split is sample-exact.
    std::vector<std::uint64_t> starts;
    for (std::size_t i = 0; i < cue.tracks.size(); ++i) {
      const auto& t = cue.tracks[i];
      // Track 1 starts at the image's first sample (a hidden pregap stays in it) and each
      // INDEX 00 pregap ends the track before, so the tracks joined are the whole image.
      const std::uint64_t start = i == 0 ? 0 : t.start_cd_frames * f.sample_rate / 75;
      if (start >= f.frames && f.frames > 0)
        throw Error("cue sheet track " + std::to_string(t.number) + " starts after the end of " +
                    image.filename().string() + " (" + std::to_string(f.frames) + " samples)");
      if (f.sample_rate * t.start_cd_frames % 75 != 0)
        ctx.warn("track " + std::to_string(t.number) + " start is not a whole sample at " +
                 std::to_string(f.sample_rate) + " Hz; rounded down");
      starts.push_back(start);
    }
    std::vector<Piece> pieces(cue.tracks.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      Piece& p = pieces[i];
      p.first_frame = starts[i];
      p.frames = (i + 1 < starts.size() ? starts[i + 1] : f.frames) - starts[i];
      const fs::path final_path = ctx.output().parent_path() / track_file_name(cue.tracks[i].number);
      p.path = final_path == ctx.output() ? ctx.temp_output() : ctx.add_output(final_path);
      p.tags = cue.album.tags_for(cue.tracks[i].number);
      apply_extra_tags(p.tags);
      add_channel_mask(ctx, f, p.tags);
    }
    if (ctx.threads() <= 1 || pieces.size() < 2) {
      for (const Piece& p : pieces) encode_piece(ctx, wav, p);
      return;
    }
    // The tracks are encoded in parallel, longest first from a shared queue (a long closing
    // track does not end up last on one thread), each worker with its own reader of the
    // image. The nested loop runs on the engine's task arena, so it takes no more than the
    // batch's slots; a failure stops the other workers at their next track.
    std::vector<std::size_t> order(pieces.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return pieces[a].frames > pieces[b].frames; });
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    const int workers = std::min(ctx.threads(), static_cast<int>(pieces.size()));
    tbb::parallel_for(0, workers, [&](int) {
      try {
        flac::WavReader own(image);
        for (std::size_t k; !failed.load() && (k = next.fetch_add(1)) < order.size();)
          encode_piece(ctx, own, pieces[order[k]]);
      } catch (...) {
        failed = true;
        throw;
      }
    });
  }

  // Encodes one range of frames. May run on several threads at once for one ctx: it only
  // calls ctx.should_stop(), which is safe to call from any thread.
  void encode_piece(const EncodeContext& ctx, flac::WavReader& wav, const Piece& piece) const {
    const flac::WavFormat& f = wav.format();
    // The metadata blocks outlive the encoder: libFLAC fills in the seek table when it finishes.
    FLAC::Metadata::VorbisComment comments;
    for (const auto& [key, value] : piece.tags) {
      FLAC::Metadata::VorbisComment::Entry entry(key.c_str(), value.c_str());
      if (!entry.is_valid() || !comments.append_comment(entry))
        throw Error("tag " + key + ": not a valid Vorbis comment");
    }
    // The flac CLI's layout: SEEKTABLE (a point every 10 s), VORBIS_COMMENT, PICTURE, PADDING.
    std::vector<FLAC::Metadata::Prototype*> blocks;
    FLAC::Metadata::SeekTable seek;
    if (piece.frames > 0 && seek.template_append_spaced_points_by_samples(f.sample_rate * 10, piece.frames) &&
        seek.template_sort(true))
      blocks.push_back(&seek);
    blocks.push_back(&comments);
    FLAC::Metadata::Picture picture;
    if (cover_) {
      picture.set_type(FLAC__STREAM_METADATA_PICTURE_TYPE_FRONT_COVER);
      if (!picture.set_mime_type(cover_->mime.c_str()) ||
          !picture.set_data(cover_->data.data(), static_cast<FLAC__uint32>(cover_->data.size())))
        throw Error("building the cover PICTURE block: out of memory");
      picture.set_width(cover_->width);
      picture.set_height(cover_->height);
      picture.set_depth(cover_->depth);
      picture.set_colors(cover_->colors);
      blocks.push_back(&picture);
    }
    // Room for tags added later (ReplayGain, a tagger) without rewriting the audio; the
    // flac CLI's default: 8 KiB, 64 KiB past 20 minutes.
    FLAC::Metadata::Padding padding(piece.frames > 20ull * 60 * f.sample_rate ? 65536 : 8192);
    blocks.push_back(&padding);
    FLAC::Encoder::File enc;
    bool ok = enc.set_verify(verify_) && enc.set_compression_level(static_cast<unsigned>(level_)) &&
              enc.set_channels(f.channels) && enc.set_bits_per_sample(f.bits) && enc.set_sample_rate(f.sample_rate) &&
              enc.set_total_samples_estimate(piece.frames);  // libFLAC always computes the MD5
    // The streamable subset stops at 24 bits and 655,350 Hz; past that, the format still holds it.
    if (f.bits > 24 || f.sample_rate > 655350) ok = ok && enc.set_streamable_subset(false);
    if (!ok) throw Error(std::string("setting up libFLAC: ") + enc.get_state().as_cstring());

    if (!enc.set_metadata(blocks.data(), static_cast<uint32_t>(blocks.size())))
      throw Error(std::string("setting FLAC metadata: ") + enc.get_state().as_cstring());

    const auto init = enc.init(piece.path.string());
    if (init != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
      std::string why = FLAC__StreamEncoderInitStatusString[init];
      if (init == FLAC__STREAM_ENCODER_INIT_STATUS_ENCODER_ERROR) why = enc.get_state().as_cstring();
      throw Error("starting libFLAC for " + describe(f) + ": " + why);
    }

    wav.seek_frame(piece.first_frame);
    std::vector<FLAC__int32> samples(kBlockFrames * f.channels);
    std::uint64_t left = piece.frames;
    while (left > 0) {
      ctx.throw_if_stopped();
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBlockFrames));
      const std::size_t got = wav.read(samples.data(), want);
      if (got != want) throw Error("WAV data ended early");
      if (!enc.process_interleaved(samples.data(), static_cast<uint32_t>(got))) throw encoder_error(enc, "encoding");
      left -= got;
    }
    if (!enc.finish()) throw encoder_error(enc, "finishing the FLAC file");
  }

  static Error encoder_error(FLAC::Encoder::File& enc, const std::string& what) {
    const auto state = enc.get_state();
    std::string why = state.as_cstring();
    if (state == FLAC__STREAM_ENCODER_VERIFY_MISMATCH_IN_AUDIO_DATA) {
      FLAC__uint64 sample = 0;
      uint32_t frame = 0, channel = 0, frame_sample = 0;
      FLAC__int32 expected = 0, got = 0;
      enc.get_verify_decoder_error_stats(&sample, &frame, &channel, &frame_sample, &expected, &got);
      why += " at sample " + std::to_string(sample) + ", channel " + std::to_string(channel);
    } else if (state == FLAC__STREAM_ENCODER_VERIFY_DECODER_ERROR) {
      why += std::string(" (") + enc.get_verify_decoder_state().as_cstring() + ")";
    }
    return Error(what + ": " + why);
  }

  int level_ = 8;
  bool verify_ = false;
  std::string album_path_, cue_path_, cover_path_;
  std::vector<std::string> tag_args_;
  bool replay_gain_ = false;
  CLI::App* command_ = nullptr;

  // Parsed by validate(); read-only while files are encoded.
  std::optional<flac::Album> album_;
  std::optional<flac::CueSheet> cue_;
  Tags extra_tags_;
  std::optional<flac::Cover> cover_;
  std::vector<fs::path> inputs_;
};

}  // namespace

std::unique_ptr<Encoder> make_flac_encoder() { return std::make_unique<FlacEncoder>(); }

}  // namespace mediabatch
