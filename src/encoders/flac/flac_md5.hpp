#pragma once
// MD5 (RFC 1321) of PCM as FLAC defines it for STREAMINFO: samples interleaved, each signed,
// little-endian, in the fewest whole bytes its bit depth needs. Our own, so that --verify hashes
// the decoded audio apart from libFLAC, whose encoder's MD5 of the input it is held against
// (libFLAC's MD5 routines are not public anyway). Plain values; one per stream, one thread at
// a time; nothing throws but PcmMd5 running out of memory.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mediabatch::flac {

using Md5Digest = std::array<unsigned char, 16>;

// "d41d8cd98f00b204e9800998ecf8427e".
std::string hex(const Md5Digest& digest);

class Md5 {
 public:
  void update(const void* data, std::size_t size) noexcept;
  // The digest of everything given so far; the object is not to be updated afterwards.
  Md5Digest finish() noexcept;

 private:
  void block(const unsigned char* p) noexcept;

  std::uint32_t state_[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  std::uint64_t bytes_ = 0;
  unsigned char pending_[64] = {};
};

// An Md5 of PCM samples of one bit depth (1-32), fed interleaved (as the encoder gets them) or
// one array per channel (as the decoder gives them).
class PcmMd5 {
 public:
  explicit PcmMd5(unsigned bits_per_sample) : bytes_per_sample_((bits_per_sample + 7) / 8) {}

  // `frames` samples of each of `channels` channels.
  void add_planar(const std::int32_t* const channel[], unsigned channels, std::size_t frames);
  Md5Digest finish() noexcept { return md5_.finish(); }

 private:
  unsigned bytes_per_sample_;
  Md5 md5_;
  std::vector<unsigned char> bytes_;
};

}  // namespace mediabatch::flac
