#include "cue_split.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <utility>
#include <vector>

#include "mediabatch/errors.hpp"
#include "mediabatch/parallel.hpp"

namespace mediabatch::flac {

namespace {

// Where each track starts in the image, in samples. CD frames are 1/75 s: 588 samples at
// 44.1 kHz, so the split is sample-exact.
std::vector<std::uint64_t> track_starts(EncodeContext& ctx, const WavFormat& f, const CueSheet& cue,
                                        const fs::path& image) {
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
  return starts;
}

std::vector<Piece> track_pieces(EncodeContext& ctx, const WavFormat& f, const CueSheet& cue,
                                const std::vector<std::uint64_t>& starts, const Tags& overrides) {
  const std::vector<fs::path> finals = track_paths(ctx.output().parent_path(), cue);
  std::vector<Piece> pieces(cue.tracks.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    Piece& p = pieces[i];
    p.first_frame = starts[i];
    p.frames = (i + 1 < starts.size() ? starts[i + 1] : f.frames) - starts[i];
    p.path = finals[i] == ctx.output() ? ctx.temp_output() : ctx.add_output(finals[i]);
    p.tags = cue.album.tags_for(cue.tracks[i].number);
    override_tags(p.tags, overrides);
    add_channel_mask(ctx, f, p.tags);
  }
  return pieces;
}

// Longest first from a shared queue, so a long closing track does not end up last on one
// thread; each worker has its own reader of the image. ctx.threads() is this job's share of
// the batch's slots; a failure stops the other workers at their next track. facts[i] is what
// write_piece() said of pieces[i] (each written by the one worker that wrote the piece).
void write_in_parallel(const EncodeContext& ctx, const fs::path& image, const std::vector<Piece>& pieces,
                       const WriterSettings& settings, std::vector<FileFacts>& facts) {
  std::vector<std::size_t> order(pieces.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return pieces[a].frames > pieces[b].frames; });
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  run_workers(std::min(ctx.threads(), static_cast<int>(pieces.size())), [&] {
    try {
      WavReader own(image, settings.strict);
      for (std::size_t k; !failed.load() && (k = next.fetch_add(1)) < order.size();)
        facts[order[k]] = write_piece(ctx, own, pieces[order[k]], settings);
    } catch (...) {
      failed = true;
      throw;
    }
  });
}

}  // namespace

std::string track_file_name(unsigned number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "track%02u.flac", number);
  return buf;
}

std::vector<fs::path> track_paths(const fs::path& folder, const CueSheet& cue) {
  std::vector<fs::path> paths;
  for (const auto& t : cue.tracks) paths.push_back(folder / track_file_name(t.number));
  return paths;
}

CueSheet read_image_cue_sheet(const fs::path& cue_file) {
  CueSheet cue;
  try {
    cue = read_cue_sheet(cue_file);
  } catch (const UsageError& e) {
    throw Error(e.what());
  }
  if (cue.files.size() != 1)
    throw Error("cue sheet names " + std::to_string(cue.files.size()) +
                " files: only a single whole-disc image can be split (give the track files as inputs with --cue)");
  if (cue.image_path().empty())
    throw Error("cue sheet has no FILE line: name the image with it (mediabatch flac --cue SHEET IMAGE)");
  return cue;
}

void split_image(EncodeContext& ctx, const fs::path& image, const CueSheet& cue, const Tags& overrides,
                 const WriterSettings& settings) {
  WavReader wav(image, settings.strict);
  for (const auto& note : wav.notes()) ctx.warn(note);
  const WavFormat& f = wav.format();
  const std::vector<Piece> pieces = track_pieces(ctx, f, cue, track_starts(ctx, f, cue, image), overrides);
  std::vector<FileFacts> facts(pieces.size());
  if (ctx.threads() <= 1 || pieces.size() < 2) {
    for (std::size_t i = 0; i < pieces.size(); ++i) facts[i] = write_piece(ctx, wav, pieces[i], settings);
  } else {
    write_in_parallel(ctx, image, pieces, settings, facts);
  }
  // Here, on the job's thread, once every track is written: the checks are the engine's.
  for (std::size_t i = 0; i < pieces.size(); ++i) check_when_verifying(ctx, pieces[i].path, std::move(facts[i]));
}

}  // namespace mediabatch::flac
