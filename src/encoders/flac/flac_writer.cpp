#include "flac_writer.hpp"

#include <FLAC++/encoder.h>
#include <FLAC++/metadata.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "flac_io.hpp"
#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

constexpr std::size_t kBlockFrames = 16384;  // frames read and handed to libFLAC at a time

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

// The metadata blocks of one file, in the flac CLI's layout: SEEKTABLE (a point every 10 s),
// VORBIS_COMMENT, PICTURE, PADDING. They must outlive the encoder: libFLAC fills in the seek
// table when it finishes.
struct Metadata {
  FLAC::Metadata::SeekTable seek;
  FLAC::Metadata::VorbisComment comments;
  FLAC::Metadata::Picture picture;
  FLAC::Metadata::Padding padding;
  std::vector<FLAC::Metadata::Prototype*> blocks;

  Metadata(const Piece& piece, unsigned sample_rate, const Cover* cover);
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;
};

Metadata::Metadata(const Piece& piece, unsigned sample_rate, const Cover* cover) {
  for (const auto& [key, value] : piece.tags) {
    FLAC::Metadata::VorbisComment::Entry entry(key.c_str(), value.c_str());
    if (!entry.is_valid() || !comments.append_comment(entry)) throw Error("tag " + key + ": not a valid Vorbis comment");
  }
  if (piece.frames > 0 && seek.template_append_spaced_points_by_samples(sample_rate * 10, piece.frames) &&
      seek.template_sort(true))
    blocks.push_back(&seek);
  blocks.push_back(&comments);
  if (cover != nullptr) {
    picture.set_type(FLAC__STREAM_METADATA_PICTURE_TYPE_FRONT_COVER);
    if (!picture.set_mime_type(cover->mime.c_str()) ||
        !picture.set_data(cover->data.data(), static_cast<FLAC__uint32>(cover->data.size())))
      throw Error("building the cover PICTURE block: out of memory");
    picture.set_width(cover->width);
    picture.set_height(cover->height);
    picture.set_depth(cover->depth);
    picture.set_colors(cover->colors);
    blocks.push_back(&picture);
  }
  // Room for tags added later (ReplayGain, a tagger) without rewriting the audio; the
  // flac CLI's default: 8 KiB, 64 KiB past 20 minutes.
  padding.set_length(piece.frames > 20ull * 60 * sample_rate ? 65536 : 8192);
  blocks.push_back(&padding);
}

// libFLAC encoding into an IoFile of ours: its own file output (init(filename)) reports a full
// disk as FLAC__STREAM_ENCODER_CLIENT_ERROR, without the system's reason.
class FileEncoder final : public FLAC::Encoder::Stream {
 public:
  explicit FileEncoder(const std::filesystem::path& path)
      : path_(path), file_(IoFile::open(path, "wb", "creating " + path.string())) {}
  // FLAC::Encoder::Stream's destructor finishes an encode left unfinished (an error, a stop),
  // which calls write_callback() when this object is gone. Finish while it is here, into the
  // abandoned file, where the first write fails and libFLAC stops (the engine removes it).
  ~FileEncoder() override {
    file_.discard();
    (void)finish();
  }
  FileEncoder(const FileEncoder&) = delete;
  FileEncoder& operator=(const FileEncoder&) = delete;

  // Why libFLAC failed at `what`: the system's reason for a failed write, else its state.
  Error error(const std::string& what);
  // The file complete: every byte written and the close checked.
  void close() { file_.close("writing " + path_.string()); }
  // The MD5 libFLAC computed of the samples it was handed, as it stood in memory when it
  // finished (not as written to the file); none before finish().
  const std::optional<Md5Digest>& input_md5() const noexcept { return input_md5_; }

 protected:
  FLAC__StreamEncoderWriteStatus write_callback(const FLAC__byte buffer[], size_t bytes, uint32_t /*samples*/,
                                                uint32_t /*frame*/) override {
    return file_.write(buffer, 1, bytes) == bytes ? FLAC__STREAM_ENCODER_WRITE_STATUS_OK
                                                  : FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
  }
  // libFLAC goes back to fill in STREAMINFO and the seek table when it finishes.
  FLAC__StreamEncoderSeekStatus seek_callback(FLAC__uint64 offset) override {
    return file_.seek(static_cast<std::int64_t>(offset), SEEK_SET) == 0 ? FLAC__STREAM_ENCODER_SEEK_STATUS_OK
                                                                       : FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
  }
  FLAC__StreamEncoderTellStatus tell_callback(FLAC__uint64* offset) override {
    const std::int64_t at = file_.tell();
    if (at < 0) return FLAC__STREAM_ENCODER_TELL_STATUS_ERROR;
    *offset = static_cast<FLAC__uint64>(at);
    return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
  }
  // Called once at finish() with the final STREAMINFO, after libFLAC wrote it to the file.
  void metadata_callback(const FLAC__StreamMetadata* m) override {
    if (m->type == FLAC__METADATA_TYPE_STREAMINFO) input_md5_ = streaminfo_md5(m->data.stream_info);
  }

 private:
  std::filesystem::path path_;
  IoFile file_;
  std::optional<Md5Digest> input_md5_;
};

Error FileEncoder::error(const std::string& what) {
  if (file_.error() != 0) return Error("writing " + path_.string() + ": " + errno_text(file_.error()));
  return Error(what + ": " + get_state().as_cstring());
}

void start(FileEncoder& enc, const WavFormat& f, const Piece& piece, Metadata& meta,
           const WriterSettings& settings) {
  bool ok = enc.set_compression_level(static_cast<unsigned>(settings.level)) &&
            enc.set_channels(f.channels) && enc.set_bits_per_sample(f.bits) && enc.set_sample_rate(f.sample_rate) &&
            enc.set_total_samples_estimate(piece.frames);  // libFLAC always computes the MD5
  // The streamable subset stops at 24 bits and 655,350 Hz; past that, the format still holds it.
  if (f.bits > 24 || f.sample_rate > 655350) ok = ok && enc.set_streamable_subset(false);
  if (!ok) throw Error(std::string("setting up libFLAC: ") + enc.get_state().as_cstring());

  if (!enc.set_metadata(meta.blocks.data(), static_cast<uint32_t>(meta.blocks.size())))
    throw Error(std::string("setting FLAC metadata: ") + enc.get_state().as_cstring());

  // init() writes the metadata blocks: a write can fail here already.
  const auto init = enc.init();
  const std::string what = "starting libFLAC for " + describe(f);
  if (init == FLAC__STREAM_ENCODER_INIT_STATUS_ENCODER_ERROR) throw enc.error(what);
  if (init != FLAC__STREAM_ENCODER_INIT_STATUS_OK) throw Error(what + ": " + FLAC__StreamEncoderInitStatusString[init]);
}

// What the file is to hold, but for the MD5 of its audio, which write_piece() adds.
FileFacts planned_facts(const WavFormat& f, const Piece& piece, const Metadata& meta, const Cover* cover) {
  FileFacts facts;
  facts.channels = f.channels;
  facts.bits = f.bits;
  facts.sample_rate = f.sample_rate;
  facts.samples = piece.frames;
  facts.blocks.push_back(FLAC__METADATA_TYPE_STREAMINFO);
  for (const auto* block : meta.blocks) facts.blocks.push_back(block->get_type());
  for (const auto& [key, value] : piece.tags) facts.comments.push_back(key + "=" + value);
  if (cover != nullptr) facts.pictures.push_back(cover_facts(*cover));
  return facts;
}

}  // namespace

FileFacts write_piece(const EncodeContext& ctx, WavReader& wav, const Piece& piece, const WriterSettings& settings) {
  const WavFormat& f = wav.format();
  Metadata meta(piece, f.sample_rate, settings.cover);
  FileEncoder enc(piece.path);
  start(enc, f, piece, meta, settings);
  wav.seek_frame(piece.first_frame);
  std::vector<FLAC__int32> samples(kBlockFrames * f.channels);
  for (std::uint64_t left = piece.frames; left > 0;) {
    ctx.throw_if_stopped();
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBlockFrames));
    const std::size_t got = wav.read(samples.data(), want);
    if (got != want) throw Error("WAV data ended early");
    if (!enc.process_interleaved(samples.data(), static_cast<uint32_t>(got))) throw enc.error("encoding");
    left -= got;
  }
  if (!enc.finish()) throw enc.error("finishing the FLAC file");
  enc.close();
  if (!ctx.verify()) return {};
  // --verify: the MD5 the encoder computed of the samples handed to it, to hold against
  // STREAMINFO's as read back from the file and against our own MD5 of the decoded audio.
  if (!enc.input_md5()) throw Error("libFLAC finished without giving its STREAMINFO");
  FileFacts facts = planned_facts(f, piece, meta, settings.cover);
  facts.md5 = *enc.input_md5();
  return facts;
}

void add_channel_mask(EncodeContext& ctx, const WavFormat& f, Tags& tags) {
  if (!f.extensible || f.channel_mask == 0) return;
  if (!is_flac_channel_order(f.channels, f.channel_mask))
    ctx.warn("channel mask " + hex_mask(f.channel_mask) + " is not a FLAC channel order: channels kept as " +
             "they are, layout recorded in WAVEFORMATEXTENSIBLE_CHANNEL_MASK");
  set_tag(tags, "WAVEFORMATEXTENSIBLE_CHANNEL_MASK", hex_mask(f.channel_mask));
}

}  // namespace mediabatch::flac
