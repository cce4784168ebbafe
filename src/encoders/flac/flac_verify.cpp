#include "flac_verify.hpp"

#include <FLAC++/decoder.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "flac_io.hpp"
#include "mediabatch/errors.hpp"

namespace mediabatch::flac {

namespace {

std::string format_text(unsigned bits, unsigned channels, unsigned sample_rate) {
  return std::to_string(bits) + "-bit " + std::to_string(channels) + "-channel " + std::to_string(sample_rate) + " Hz";
}

std::string block_names(const std::vector<FLAC__MetadataType>& blocks) {
  std::string s;
  for (const auto type : blocks) {
    if (!s.empty()) s += ", ";
    s += type <= FLAC__METADATA_TYPE_PICTURE ? FLAC__MetadataTypeString[type] : "type " + std::to_string(type);
  }
  return s.empty() ? "none" : s;
}

std::string picture_text(const PictureFacts& p) {
  return "type " + std::to_string(p.type) + " " + p.mime + " " + std::to_string(p.width) + "x" +
         std::to_string(p.height) + ", " + std::to_string(p.size) + " bytes, MD5 " + hex(p.md5);
}

const char* error_text(FLAC__StreamDecoderErrorStatus status) {
  switch (status) {
    case FLAC__STREAM_DECODER_ERROR_STATUS_LOST_SYNC: return "lost sync";
    case FLAC__STREAM_DECODER_ERROR_STATUS_BAD_HEADER: return "bad frame header";
    case FLAC__STREAM_DECODER_ERROR_STATUS_FRAME_CRC_MISMATCH: return "frame CRC mismatch";
    case FLAC__STREAM_DECODER_ERROR_STATUS_UNPARSEABLE_STREAM: return "unparseable stream";
    default: return "bad metadata";
  }
}

PictureFacts picture_facts(const FLAC__StreamMetadata_Picture& picture) {
  PictureFacts p;
  p.type = static_cast<std::uint32_t>(picture.type);
  p.mime = picture.mime_type != nullptr ? picture.mime_type : "";
  p.description = picture.description != nullptr ? reinterpret_cast<const char*>(picture.description) : "";
  p.width = picture.width;
  p.height = picture.height;
  p.depth = picture.depth;
  p.colors = picture.colors;
  p.size = picture.data_length;
  Md5 md5;
  md5.update(picture.data, picture.data_length);
  p.md5 = md5.finish();
  return p;
}

// The file read back whole: its metadata blocks as they come, its audio into our own MD5.
// libFLAC's MD5 checking stays off: the point is not to take its word for it.
class ReadBack final : public FLAC::Decoder::Stream {
 public:
  explicit ReadBack(IoFile& file) : file_(file) {}

  FileFacts found;               // what the file holds; samples is STREAMINFO's count
  bool have_streaminfo = false;
  std::uint64_t decoded = 0;     // samples per channel that came out of the decoder
  std::optional<PcmMd5> pcm;     // of the decoded audio, from STREAMINFO on
  std::string stopped;           // why write_callback stopped the decode
  unsigned errors = 0;           // libFLAC's error callbacks
  std::string first_error;       // "frame CRC mismatch at sample 40960 (FLAC__...)"

  // "frame CRC mismatch at sample 40960 (...) and 2 more decoding errors".
  std::string error_summary() const {
    if (errors <= 1) return first_error;
    return first_error + " and " + std::to_string(errors - 1) + " more decoding error" + (errors > 2 ? "s" : "");
  }

 protected:
  FLAC__StreamDecoderReadStatus read_callback(FLAC__byte buffer[], size_t* bytes) override {
    *bytes = file_.read(buffer, 1, *bytes);
    if (*bytes > 0) return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
    return file_.error() != 0 ? FLAC__STREAM_DECODER_READ_STATUS_ABORT : FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
  }
  bool eof_callback() override { return file_.eof(); }

  void metadata_callback(const FLAC__StreamMetadata* m) override {
    add_block(found, *m);
    if (m->type == FLAC__METADATA_TYPE_STREAMINFO) {
      have_streaminfo = true;
      pcm.emplace(m->data.stream_info.bits_per_sample);
    }
  }

  FLAC__StreamDecoderWriteStatus write_callback(const FLAC__Frame* frame, const FLAC__int32* const buffer[]) override {
    const auto& h = frame->header;
    if (!have_streaminfo) {
      stopped = "audio before any STREAMINFO block";
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    if (h.channels != found.channels || h.bits_per_sample != found.bits) {
      stopped = "the frame at sample " + std::to_string(decoded) + " is " +
                format_text(h.bits_per_sample, h.channels, h.sample_rate) + ", STREAMINFO says " +
                format_text(found.bits, found.channels, found.sample_rate);
      return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    pcm->add_planar(buffer, h.channels, h.blocksize);
    decoded += h.blocksize;
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
  }

  void error_callback(FLAC__StreamDecoderErrorStatus status) override {
    if (errors++ == 0)
      first_error = std::string(error_text(status)) + " at sample " + std::to_string(decoded) + " (" +
                    FLAC__StreamDecoderErrorStatusString[status] + ")";
  }

 private:
  IoFile& file_;
};

constexpr std::size_t kQuoted = 60;  // longer comments (lyrics) are not quoted whole in a reason

// A comment as quoted in a reason: a long one cut at a character boundary.
std::string quoted(const std::string& comment) {
  if (comment.size() <= kQuoted) return "'" + comment + "'";
  std::size_t cut = kQuoted;
  while (cut > 0 && (static_cast<unsigned char>(comment[cut]) & 0xC0) == 0x80) --cut;
  return "'" + comment.substr(0, cut) + "...' (" + std::to_string(comment.size()) + " bytes)";
}

// The first difference between two lists of Vorbis comments. Two short entries are quoted;
// for a long one, where they part.
std::string comments_difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    const std::string& g = got[i];
    const std::string& w = want[i];
    if (g == w) continue;
    const std::string tag = "tag " + std::to_string(i + 1);
    if (g.size() <= kQuoted && w.size() <= kQuoted)
      return tag + " read back is " + quoted(g) + ", " + quoted(w) + " was written";
    std::size_t at = 0;
    while (at < g.size() && at < w.size() && g[at] == w[at]) ++at;
    return tag + " (" + w.substr(0, w.find('=')) + ") read back differs from the one written from byte " +
           std::to_string(at) + " on (" + std::to_string(g.size()) + " bytes read back, " + std::to_string(w.size()) +
           " written)";
  }
  if (got.size() > want.size()) return "tag " + quoted(got[want.size()]) + " read back was not written";
  return "tag " + quoted(want[got.size()]) + " was written but not read back";
}

// The file's audio as decoded against the audio as encoded: count, MD5, libFLAC's complaints.
void compare_audio(const ReadBack& dec, Md5Digest decoded_md5, const FileFacts& want) {
  const std::string errors = dec.errors > 0 ? "; libFLAC: " + dec.error_summary() : "";
  if (dec.decoded != want.samples)
    throw Error("decoded " + std::to_string(dec.decoded) + " samples, " + std::to_string(want.samples) +
                " were encoded" + errors);
  if (want.md5 && decoded_md5 != *want.md5)
    throw Error("MD5 of the decoded audio is " + hex(decoded_md5) + ", the audio encoded has MD5 " + hex(*want.md5) +
                errors);
  if (dec.errors > 0) throw Error("libFLAC: " + dec.error_summary());
}

void compare_metadata(const FileFacts& got, const FileFacts& want) {
  if (got.blocks != want.blocks)
    throw Error("metadata blocks read back: " + block_names(got.blocks) + "; written: " + block_names(want.blocks));
  if (got.comments != want.comments) throw Error(comments_difference(got.comments, want.comments));
  for (std::size_t i = 0; i < got.pictures.size() && i < want.pictures.size(); ++i)
    if (got.pictures[i] != want.pictures[i])
      throw Error("PICTURE block read back (" + picture_text(got.pictures[i]) + ") is not the one written (" +
                  picture_text(want.pictures[i]) + ")");
}

}  // namespace

bool PictureFacts::operator==(const PictureFacts& o) const {
  return type == o.type && mime == o.mime && description == o.description && width == o.width &&
         height == o.height && depth == o.depth && colors == o.colors && size == o.size && md5 == o.md5;
}

PictureFacts cover_facts(const Cover& cover) {
  PictureFacts p;
  p.type = FLAC__STREAM_METADATA_PICTURE_TYPE_FRONT_COVER;
  p.mime = cover.mime;
  p.width = cover.width;
  p.height = cover.height;
  p.depth = cover.depth;
  p.colors = cover.colors;
  p.size = cover.data.size();
  Md5 md5;
  md5.update(cover.data.data(), cover.data.size());
  p.md5 = md5.finish();
  return p;
}

void add_block(FileFacts& facts, const FLAC__StreamMetadata& block) {
  facts.blocks.push_back(block.type);
  if (block.type == FLAC__METADATA_TYPE_STREAMINFO) {
    const auto& si = block.data.stream_info;
    facts.channels = si.channels;
    facts.bits = si.bits_per_sample;
    facts.sample_rate = si.sample_rate;
    facts.samples = si.total_samples;
    const Md5Digest md5 = streaminfo_md5(si);
    if (md5 != Md5Digest{}) facts.md5 = md5;  // all zero: the encoder did not know it
  } else if (block.type == FLAC__METADATA_TYPE_VORBIS_COMMENT) {
    const auto& vc = block.data.vorbis_comment;
    for (FLAC__uint32 i = 0; i < vc.num_comments; ++i)
      facts.comments.emplace_back(reinterpret_cast<const char*>(vc.comments[i].entry), vc.comments[i].length);
  } else if (block.type == FLAC__METADATA_TYPE_PICTURE) {
    facts.pictures.push_back(picture_facts(block.data.picture));
  }
}

Md5Digest streaminfo_md5(const FLAC__StreamMetadata_StreamInfo& info) {
  Md5Digest md5;
  std::copy(std::begin(info.md5sum), std::end(info.md5sum), md5.begin());
  return md5;
}

void check_flac(const std::filesystem::path& file, const FileFacts& want) {
  IoFile in = IoFile::open(file, "rb", "opening");
  ReadBack dec(in);
  if (!dec.set_md5_checking(false) || !dec.set_metadata_respond_all())
    throw Error(std::string("setting up libFLAC's decoder: ") + dec.get_state().as_cstring());
  const auto init = dec.init();
  if (init != FLAC__STREAM_DECODER_INIT_STATUS_OK)
    throw Error(std::string("starting libFLAC's decoder: ") + FLAC__StreamDecoderInitStatusString[init]);
  const bool ran = dec.process_until_end_of_stream();
  if (in.error() != 0) throw_system_error("reading", in.error());
  if (!dec.stopped.empty()) throw Error(dec.stopped);
  if (!dec.have_streaminfo)
    throw Error("no STREAMINFO block read back; libFLAC: " +
                (dec.errors > 0 ? dec.error_summary() : std::string(dec.get_state().as_cstring())));
  if (!ran) throw Error(std::string("decoding stopped: ") + dec.get_state().as_cstring());

  const FileFacts& got = dec.found;
  if (got.bits != want.bits || got.channels != want.channels || got.sample_rate != want.sample_rate)
    throw Error("STREAMINFO says " + format_text(got.bits, got.channels, got.sample_rate) + ", " +
                format_text(want.bits, want.channels, want.sample_rate) + " was encoded");
  if (got.samples != want.samples)
    throw Error("STREAMINFO says " + std::to_string(got.samples) + " samples, " + std::to_string(want.samples) +
                " were encoded");
  if (want.md5 && got.md5 != want.md5)
    throw Error("STREAMINFO's MD5 is " + (got.md5 ? hex(*got.md5) : std::string("unset")) +
                ", the audio encoded has MD5 " + hex(*want.md5));
  compare_audio(dec, dec.pcm->finish(), want);
  compare_metadata(got, want);
}

void check_when_verifying(EncodeContext& ctx, const std::filesystem::path& temp, FileFacts expected) {
  if (!ctx.verify()) return;
  ctx.check_output(temp, [expected = std::move(expected)](const std::filesystem::path& file) {
    check_flac(file, expected);
  });
}

}  // namespace mediabatch::flac
