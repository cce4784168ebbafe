#pragma once
// The cue split: a whole-disc WAV image cut at its cue sheet's INDEX 01 points into one FLAC
// file per track, sample-exact, the tracks written in parallel when the job has threads.
// Throws mediabatch::Error and Cancelled.
#include <filesystem>
#include <string>
#include <vector>

#include "album.hpp"
#include "cue_sheet.hpp"
#include "flac_writer.hpp"
#include "mediabatch/encoder.hpp"

namespace mediabatch::flac {

// The file name of a split track ("track07.flac"): the one naming rule for cue tracks.
std::string track_file_name(unsigned number);
// Every track file a split of `cue` writes into `folder`, in the cue sheet's order.
std::vector<std::filesystem::path> track_paths(const std::filesystem::path& folder, const CueSheet& cue);

// The cue sheet given as an input, which must name a single whole-disc image (a parse error
// is this file's Error here, not a usage error: the other inputs still run).
CueSheet read_image_cue_sheet(const std::filesystem::path& cue_file);

// Writes each track of `cue` from `image` into the job's folder as track_file_name(): the one
// named ctx.output() to ctx.temp_output(), the others as added outputs. Each track gets its
// album tags with `overrides` (the --tag arguments) applied.
void split_image(EncodeContext& ctx, const std::filesystem::path& image, const CueSheet& cue, const Tags& overrides,
                 const WriterSettings& settings);

}  // namespace mediabatch::flac
