#pragma once
// --verify for FLAC: a file read back with libFLAC's stream decoder (not the encoder's own
// verify mode) and compared with what was meant to be in it: the format, the sample count and
// the MD5 of the PCM, both STREAMINFO's and that of the decoded audio, and every metadata block
// (the Vorbis comments entry by entry, the pictures by their fields and the MD5 of their data).
// FileFacts are plain values; check_flac() throws mediabatch::Error with a one-line reason
// ("decoded 52224 samples, 88200 were encoded") and is thread-safe (no shared state).
#include <FLAC/format.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cover.hpp"
#include "flac_md5.hpp"
#include "mediabatch/encoder.hpp"

namespace mediabatch::flac {

struct PictureFacts {
  std::uint32_t type = 0;  // FLAC__StreamMetadata_Picture_Type
  std::string mime, description;
  std::uint32_t width = 0, height = 0, depth = 0, colors = 0;
  std::uint64_t size = 0;  // bytes of picture data
  Md5Digest md5{};         // of the picture data

  bool operator==(const PictureFacts& o) const;
  bool operator!=(const PictureFacts& o) const { return !(*this == o); }
};

// What one FLAC file holds (or is to hold).
struct FileFacts {
  unsigned channels = 0, bits = 0, sample_rate = 0;
  std::uint64_t samples = 0;       // per channel
  std::optional<Md5Digest> md5;    // of the PCM as FLAC defines it; none: not known
  std::vector<FLAC__MetadataType> blocks;  // every metadata block, in order, STREAMINFO first
  std::vector<std::string> comments;       // the VORBIS_COMMENT entries, "KEY=value", in order
  std::vector<PictureFacts> pictures;      // the PICTURE blocks, in order
};

// The facts of the cover picture the writer embeds.
PictureFacts cover_facts(const Cover& cover);
// Adds what one metadata block (as libFLAC gives it) says to `facts`: its type, and STREAMINFO's
// fields, the VORBIS_COMMENT entries or the PICTURE.
void add_block(FileFacts& facts, const FLAC__StreamMetadata& block);

// STREAMINFO's MD5 field as it stands (all zero when the encoder did not compute one).
Md5Digest streaminfo_md5(const FLAC__StreamMetadata_StreamInfo& info);

// Decodes `file` whole and throws Error saying what differs from `expected` (the first thing
// of: the file cannot be read, STREAMINFO's format, sample count or MD5, libFLAC's decoding
// errors, the number of samples decoded or their MD5, the metadata blocks, the comments, the
// pictures). An Error from reading names no path: the caller knows which file it checks.
void check_flac(const std::filesystem::path& file, const FileFacts& expected);

// Under --verify (ctx.verify()), has the engine run check_flac(temp, expected) on the job's
// output `temp` before it is renamed; otherwise does nothing. Call on the job's thread.
void check_when_verifying(EncodeContext& ctx, const std::filesystem::path& temp, FileFacts expected);

}  // namespace mediabatch::flac
