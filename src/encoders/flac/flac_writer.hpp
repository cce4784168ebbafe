#pragma once
// The FLAC writer: one range of frames of an open WAV into one FLAC file with libFLAC++, laid
// out as the flac CLI lays it out (seek table, tags, cover, padding). Keeps no state: several
// threads may write pieces of one job at once, each with its own WavReader. Throws
// mediabatch::Error (the system's reason for a failed write, "writing PATH: No space left on
// device", else libFLAC's state) and Cancelled.
#include <cstdint>
#include <filesystem>

#include "album.hpp"
#include "cover.hpp"
#include "flac_verify.hpp"
#include "mediabatch/encoder.hpp"
#include "wav_reader.hpp"

namespace mediabatch::flac {

struct WriterSettings {
  int level = 8;                 // libFLAC compression level, 0-8
  const Cover* cover = nullptr;  // the front cover to embed, if any
  bool strict = false;           // --strict: a WAV cut short fails instead of being encoded as far as it goes
};

// One encode of a range of frames of an open WAV into one FLAC file.
struct Piece {
  std::uint64_t first_frame = 0;
  std::uint64_t frames = 0;
  std::filesystem::path path;  // the temporary file to write
  Tags tags;
};

// Writes `piece` of `wav`. Only calls ctx.throw_if_stopped() and ctx.verify(), which any thread
// may call. Under --verify, returns what the file was meant to hold, for check_flac(): its
// format, its metadata blocks and tags, and the MD5 libFLAC's encoder computed of the samples
// handed to it (from its final STREAMINFO in memory); otherwise empty facts.
FileFacts write_piece(const EncodeContext& ctx, WavReader& wav, const Piece& piece, const WriterSettings& settings);

// Keeps a WAVE_FORMAT_EXTENSIBLE channel mask as the flac CLI does, in the tag
// WAVEFORMATEXTENSIBLE_CHANNEL_MASK; warns when it is not an order FLAC knows.
void add_channel_mask(EncodeContext& ctx, const WavFormat& format, Tags& tags);

}  // namespace mediabatch::flac
