#include "wav_reader.hpp"

#include <FLAC/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

namespace mediabatch::flac {

namespace {

std::uint16_t le16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const unsigned char* p) {
  return static_cast<std::uint64_t>(le32(p)) | static_cast<std::uint64_t>(le32(p + 4)) << 32;
}

constexpr std::uint16_t kPcm = 0x0001;
constexpr std::uint16_t kFloat = 0x0003;
constexpr std::uint16_t kExtensible = 0xFFFE;
// The 14 bytes after the format tag in a KSDATAFORMAT_SUBTYPE_* GUID.
constexpr unsigned char kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

std::string format_name(std::uint16_t tag) {
  switch (tag) {
    case 0x0002: return "MS ADPCM";
    case 0x0006: return "A-law";
    case 0x0007: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0031: return "GSM 6.10";
    case 0x0050: return "MPEG";
    case 0x0055: return "MP3";
    default: break;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04X", tag);
  return buf;
}

// What the chunk walk knows of the file besides the format.
struct Container {
  std::uint64_t file_size = 0;
  bool rf64 = false;
  bool have_ds64 = false;
  std::uint64_t ds64_data = 0;  // the data size that RF64 keeps in its ds64 chunk
};

// The fmt chunk (its first 40 bytes, zero-filled past `size`): what the samples are, and
// whether FLAC can hold them.
void parse_fmt(const unsigned char* fmt, std::uint32_t size, WavFormat& f) {
  std::uint16_t tag = le16(fmt);
  f.channels = le16(fmt + 2);
  f.sample_rate = le32(fmt + 4);
  f.block_align = le16(fmt + 12);
  const unsigned bits = le16(fmt + 14);
  if (tag == kExtensible) {
    if (size < 40) throw Error("WAVE_FORMAT_EXTENSIBLE fmt chunk is too short");
    f.extensible = true;
    f.channel_mask = le32(fmt + 20);
    tag = le16(fmt + 24);
    if (std::memcmp(fmt + 26, kGuidTail, sizeof kGuidTail) != 0)
      throw Error("WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID: not integer PCM");
  }
  if (tag == kFloat) throw Error("IEEE float WAV: FLAC holds integer PCM only (convert to 16 or 24-bit first)");
  if (tag != kPcm) throw Error("compressed WAV (" + format_name(tag) + "): FLAC needs integer PCM");
  if (f.channels < 1 || f.channels > 8)
    throw Error("WAV has " + std::to_string(f.channels) + " channels: FLAC holds 1 to 8");
  // Said here with the number: libFLAC refuses it only once set up, after the seek table has
  // been spaced by sample_rate * 10, which wraps around past 429 MHz.
  if (f.sample_rate == 0 || f.sample_rate > FLAC__MAX_SAMPLE_RATE)
    throw Error("WAV sample rate " + std::to_string(f.sample_rate) + " Hz: FLAC holds 1 to " +
                std::to_string(FLAC__MAX_SAMPLE_RATE) + " Hz");
  // The container size decides the sample layout; a smaller valid size (20 bits in 24)
  // only means the low bits are zero, which FLAC's wasted-bits detection makes free.
  f.bits = f.block_align / f.channels * 8;
  if (f.block_align % f.channels != 0 || (f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32) ||
      bits > f.bits || bits == 0)
    throw Error("unsupported WAV sample size: " + std::to_string(bits) + " bits in " +
                std::to_string(f.block_align) + "-byte frames of " + std::to_string(f.channels) +
                " channels (8, 16, 24 or 32-bit PCM only)");
}

// The data chunk whose body starts at `body`: where the samples are and how many frames.
// A data chunk that claims more than the file holds (an interrupted rip or copy) is read as
// far as it goes, with a note, as the flac CLI does; `strict` fails it instead.
void take_data(const Container& c, std::uint32_t size, std::uint64_t body, WavFormat& f,
               std::vector<std::string>& notes, bool strict) {
  std::uint64_t data_size = size;
  const std::uint64_t available = c.file_size > body ? c.file_size - body : 0;
  if (c.rf64 && size == 0xFFFFFFFFu) {
    if (!c.have_ds64) throw Error("RF64 file without a ds64 chunk");
    data_size = c.ds64_data;
  } else if (size == 0xFFFFFFFFu || (size == 0 && available > 0)) {
    // A WAV written to a pipe never got its sizes filled in: the data runs to the end.
    data_size = available;
    notes.push_back("data chunk size unset; read to the end of the file");
  }
  if (available < data_size) {
    const std::string cut = "truncated WAV data: expected " + std::to_string(data_size) + " bytes, found " +
                            std::to_string(available);
    if (strict) throw Error(cut);
    notes.push_back(cut + "; encoded what is there");
    data_size = available;
  }
  f.data_offset = body;
  f.frames = data_size / f.block_align;
  if (f.frames == 0) throw Error("no audio data (the WAV data chunk is empty)");
  if (data_size % f.block_align != 0)
    notes.push_back("data ends with a partial frame of " + std::to_string(data_size % f.block_align) +
                    " bytes, ignored");
}

}  // namespace

std::string describe(const WavFormat& f) {
  std::string ch = f.channels == 1 ? "mono" : f.channels == 2 ? "stereo" : std::to_string(f.channels) + " channels";
  return std::to_string(f.bits) + "-bit " + ch + " " + std::to_string(f.sample_rate) + " Hz";
}

WavReader::WavReader(const std::filesystem::path& path, bool strict) : path_(path) {
  file_ = open_file(path.string(), "rb");
  if (!file_) throw Error("opening WAV: " + errno_text(errno));
  std::error_code ec;
  Container c;
  c.file_size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("opening WAV: " + ec.message());

  unsigned char head[12];
  if (std::fread(head, 1, 12, file_.get()) != 12) throw Error("not a WAV file: shorter than a RIFF header");
  c.rf64 = std::memcmp(head, "RF64", 4) == 0 || std::memcmp(head, "BW64", 4) == 0;
  if ((std::memcmp(head, "RIFF", 4) != 0 && !c.rf64) || std::memcmp(head + 8, "WAVE", 4) != 0)
    throw Error("not a WAV file: no RIFF/RF64 WAVE header");

  bool have_fmt = false;
  for (std::uint64_t offset = 12;;) {
    unsigned char ch[8];
    if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(ch, 1, 8, file_.get()) != 8)
      throw Error(have_fmt ? "WAV has no data chunk" : "WAV has no fmt chunk");
    const std::uint32_t size = le32(ch + 4);
    const std::uint64_t body = offset + 8;
    if (std::memcmp(ch, "ds64", 4) == 0) {
      unsigned char ds[24];
      if (size < 24 || std::fread(ds, 1, 24, file_.get()) != 24) throw Error("RF64 ds64 chunk is too short");
      c.ds64_data = le64(ds + 8);
      c.have_ds64 = true;
    } else if (std::memcmp(ch, "fmt ", 4) == 0) {
      unsigned char fmt[40] = {};
      if (size < 16) throw Error("WAV fmt chunk is too short (" + std::to_string(size) + " bytes)");
      const std::size_t want = size < 40 ? size : 40;
      if (std::fread(fmt, 1, want, file_.get()) != want) throw Error("WAV fmt chunk is truncated");
      parse_fmt(fmt, size, format_);
      have_fmt = true;
    } else if (std::memcmp(ch, "data", 4) == 0) {
      if (!have_fmt) throw Error("WAV data chunk comes before its fmt chunk");
      take_data(c, size, body, format_, notes_, strict);
      break;
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by a pad byte.
    offset = body + size + (size & 1u);
  }
  seek_frame(0);
}

void WavReader::seek_frame(std::uint64_t frame) {
  if (frame > format_.frames) frame = format_.frames;
  const std::uint64_t at = format_.data_offset + frame * format_.block_align;
  if (fseeko(file_.get(), static_cast<off_t>(at), SEEK_SET) != 0) throw Error("seeking in WAV: " + errno_text(errno));
  position_ = frame;
}

std::size_t WavReader::read(std::int32_t* out, std::size_t frames) {
  const std::uint64_t left = format_.frames - position_;
  if (frames > left) frames = static_cast<std::size_t>(left);
  if (frames == 0) return 0;
  const std::size_t nbytes = frames * format_.block_align;
  if (bytes_.size() < nbytes) bytes_.resize(nbytes);
  const std::size_t got = std::fread(bytes_.data(), 1, nbytes, file_.get());
  if (got != nbytes) {
    if (std::ferror(file_.get())) throw Error("reading WAV: " + errno_text(errno));
    // The file shrank after it was opened.
    throw Error("truncated WAV data: expected " + std::to_string(format_.frames * format_.block_align) +
                " bytes, found " + std::to_string(position_ * format_.block_align + got));
  }
  position_ += frames;
  const std::size_t n = frames * format_.channels;
  const unsigned char* p = bytes_.data();
  switch (format_.bits) {
    case 8:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(p[i]) - 128;
      break;
    case 16:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
      break;
    case 24:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t u = static_cast<std::uint32_t>(p[3 * i]) << 8 | static_cast<std::uint32_t>(p[3 * i + 1]) << 16 |
                                static_cast<std::uint32_t>(p[3 * i + 2]) << 24;
        out[i] = static_cast<std::int32_t>(u) >> 8;
      }
      break;
    default:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(le32(p + 4 * i));
      break;
  }
  return frames;
}

}  // namespace mediabatch::flac
