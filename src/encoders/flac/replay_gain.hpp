#pragma once
// ReplayGain 2.0 for FLAC files already written: loudness by EBU R128 (libebur128), reference
// -18 LUFS, sample peak. Files in one folder form one album. Each file is read, never written:
// its tags go into the padding of a hidden copy, which is then renamed over it, so the audio is
// not re-encoded and no file under its final name is ever part-rewritten. Throws
// mediabatch::Error (with the system's reason for a failed read or write) and Cancelled.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

namespace mediabatch::flac {

struct Loudness {
  double track_gain = 0, track_peak = 0;  // dB, linear sample peak (1.0 = full scale)
  double album_gain = 0, album_peak = 0;
  bool silent = false;  // no gated loudness: no tags are written
};

// Measures every file (in parallel, on the calling arena) and returns one result per file.
// Throws Cancelled("interrupted") once `stop` is set.
std::vector<Loudness> measure_replay_gain(const std::vector<std::filesystem::path>& files,
                                          const std::atomic<bool>& stop);
// Writes REPLAYGAIN_TRACK_GAIN/PEAK and REPLAYGAIN_ALBUM_GAIN/PEAK into each file, the album
// values over all of `files` in its folder. Checks `stop` after measuring and before each
// file, and throws Cancelled("interrupted"): the files before it are tagged, the others as
// they were. On a failure the file it was writing is left as it was and the files after it
// untagged. With `verify` (--verify), each tagged copy is decoded whole before it replaces its
// file: the same sample count and MD5 as the file's STREAMINFO, and the metadata blocks and
// tags written (flac_verify.hpp); a difference is a failure ("track01.flac: ReplayGain:
// verify: decoded 52224 samples, 88200 were encoded").
void apply_replay_gain(const std::vector<std::filesystem::path>& files, const std::atomic<bool>& stop,
                       bool verify = false);

}  // namespace mediabatch::flac
