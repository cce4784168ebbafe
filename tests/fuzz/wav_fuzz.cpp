// The WAV/RF64 reader (src/encoders/flac/wav_reader.*): the chunk walk, fmt, ds64 and data
// sizes of the header, then every sample read back in blocks, as the FLAC writer reads them.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "flac/wav_reader.hpp"
#include "mediabatch/errors.hpp"
#include "memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mbfuzz::MemoryFile file;
  file.fill(data, size);
  using mediabatch::flac::WavReader;
  try {
    WavReader wav(file.path());
    const auto& f = wav.format();
    (void)mediabatch::flac::describe(f);
    // An odd block size, so a read ends mid-way through the data as often as not.
    constexpr std::size_t kBlock = 37;
    std::vector<std::int32_t> samples(kBlock * f.channels);
    std::uint64_t frames = 0;
    for (std::size_t n; (n = wav.read(samples.data(), kBlock)) > 0;) frames += n;
    // The header's frame count must be what the data chunk holds: the reader checked it
    // against the file, and a shortfall is its job to report, not to return quietly.
    if (frames != f.frames) __builtin_trap();
    // A cue split seeks to each track's start with the header's numbers.
    wav.seek_frame(f.frames / 2);
    (void)wav.read(samples.data(), kBlock);
    wav.seek_frame(f.frames + 1);
    if (wav.read(samples.data(), kBlock) != 0) __builtin_trap();
  } catch (const mediabatch::Error&) {
  }
  return 0;
}
