#include "flac_md5.hpp"

#include <cstring>

namespace mediabatch::flac {

namespace {

constexpr std::uint32_t rotl(std::uint32_t x, unsigned n) noexcept { return x << n | x >> (32 - n); }

std::uint32_t load_le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// RFC 1321's tables: the shift of each step, and the integer parts of 2^32 * |sin(i + 1)|.
constexpr unsigned kShift[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
constexpr std::uint32_t kSine[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

}  // namespace

std::string hex(const Md5Digest& digest) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char b : digest) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

// The four rounds of 16 steps each, one loop per round so the compiler can unroll them.
void Md5::block(const unsigned char* p) noexcept {
  std::uint32_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = load_le32(p + 4 * i);
  std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  auto step = [&](unsigned i, std::uint32_t f, unsigned g) {
    const std::uint32_t next = b + rotl(a + f + kSine[i] + m[g], kShift[i]);
    a = d;
    d = c;
    c = b;
    b = next;
  };
  for (unsigned i = 0; i < 16; ++i) step(i, (b & c) | (~b & d), i);
  for (unsigned i = 16; i < 32; ++i) step(i, (d & b) | (~d & c), (5 * i + 1) % 16);
  for (unsigned i = 32; i < 48; ++i) step(i, b ^ c ^ d, (3 * i + 5) % 16);
  for (unsigned i = 48; i < 64; ++i) step(i, c ^ (b | ~d), (7 * i) % 16);
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

void Md5::update(const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t have = static_cast<std::size_t>(bytes_ % 64);
  bytes_ += size;
  if (have > 0) {
    const std::size_t take = size < 64 - have ? size : 64 - have;
    std::memcpy(pending_ + have, p, take);
    p += take;
    size -= take;
    have += take;
    if (have < 64) return;
    block(pending_);
  }
  for (; size >= 64; p += 64, size -= 64) block(p);
  std::memcpy(pending_, p, size);
}

Md5Digest Md5::finish() noexcept {
  const std::uint64_t bits = bytes_ * 8;
  static const unsigned char kPad[64] = {0x80};
  const std::size_t have = static_cast<std::size_t>(bytes_ % 64);
  update(kPad, have < 56 ? 56 - have : 120 - have);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(bits >> (8 * i));
  update(length, 8);
  Md5Digest out;
  for (std::size_t i = 0; i < 16; ++i) out[i] = static_cast<unsigned char>(state_[i / 4] >> (8 * (i % 4)));
  return out;
}

namespace {

// One sample in two's complement, low byte first, in `Bytes` bytes.
template <unsigned Bytes>
unsigned char* put(unsigned char* out, std::int32_t sample) noexcept {
  const auto u = static_cast<std::uint32_t>(sample);
  for (unsigned k = 0; k < Bytes; ++k) *out++ = static_cast<unsigned char>(u >> (8 * k));
  return out;
}

template <unsigned Bytes>
void pack_planar(unsigned char* out, const std::int32_t* const channel[], unsigned channels,
                 std::size_t frames) noexcept {
  for (std::size_t i = 0; i < frames; ++i)
    for (unsigned c = 0; c < channels; ++c) out = put<Bytes>(out, channel[c][i]);
}

}  // namespace

// The byte width is fixed per stream: one loop per width, so each is unrolled.
void PcmMd5::add_planar(const std::int32_t* const channel[], unsigned channels, std::size_t frames) {
  bytes_.resize(frames * channels * bytes_per_sample_);
  switch (bytes_per_sample_) {
    case 1: pack_planar<1>(bytes_.data(), channel, channels, frames); break;
    case 2: pack_planar<2>(bytes_.data(), channel, channels, frames); break;
    case 3: pack_planar<3>(bytes_.data(), channel, channels, frames); break;
    default: pack_planar<4>(bytes_.data(), channel, channels, frames); break;
  }
  md5_.update(bytes_.data(), bytes_.size());
}

}  // namespace mediabatch::flac
