// Philox4x32-10 and the maps from its 32-bit words to samples, shared by every backend.
//
// Header-only and free of library calls other than <cmath>, so the CPU kernels inline it and a CUDA kernel can
// compile the same code (TRIDENT_HOST_DEVICE) and produce the same numbers. See Note [Philox4x32-10] in
// core/random.cpp and Note [Random streams] in backends/kernels.h.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TRIDENT_HOST_DEVICE __host__ __device__
#else
#define TRIDENT_HOST_DEVICE
#endif

namespace trident::philox {

inline constexpr std::uint32_t kM0 = 0xD2511F53u;
inline constexpr std::uint32_t kM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kW0 = 0x9E3779B9u;
inline constexpr std::uint32_t kW1 = 0xBB67AE85u;
inline constexpr int kRounds = 10;

struct Block {
  std::uint32_t w[4];
};

// One Philox4x32 block for an explicit 128-bit counter (c0..c3) and 64-bit key (k0, k1).
TRIDENT_HOST_DEVICE inline Block philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                                               std::uint32_t k0, std::uint32_t k1) {
  for (int r = 0; r < kRounds; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  return {{c0, c1, c2, c3}};
}

// Block `counter` of the stream of `seed`: key = (seed low, seed high), counter = (counter low, counter high, 0, 0).
TRIDENT_HOST_DEVICE inline Block block(std::uint64_t seed, std::uint64_t counter) {
  return philox4x32_10(static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u,
                       static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// ---- words -> samples
// ------------------------------------------------------------------------------------------------ U[0, 1) with 24
// random bits (every float32 in the result is exact): k * 2^-24, k < 2^24.
TRIDENT_HOST_DEVICE inline float uniform_float(std::uint32_t w) { return static_cast<float>(w >> 8) * 0x1p-24f; }
// U[0, 1) with 53 random bits from two words: k * 2^-53, k < 2^53.
TRIDENT_HOST_DEVICE inline double uniform_double(std::uint32_t lo, std::uint32_t hi) {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return static_cast<double>(x >> 11) * 0x1p-53;
}
// U(0, 1] (never 0, so its log is finite): the same grids shifted up by one step.
TRIDENT_HOST_DEVICE inline double uniform_open0_float_grid(std::uint32_t w) {
  return static_cast<double>((w >> 8) + 1) * 0x1p-24;
}
TRIDENT_HOST_DEVICE inline double uniform_open0_double_grid(std::uint32_t lo, std::uint32_t hi) {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return static_cast<double>((x >> 11) + 1) * 0x1p-53;
}
// U[0, 1) with 32 random bits: w * 2^-32 (for Bernoulli: P(u < p) = p up to 2^-32).
TRIDENT_HOST_DEVICE inline double uniform_word(std::uint32_t w) { return static_cast<double>(w) * 0x1p-32; }

// Box-Muller: two uniforms (u1 in (0, 1], u2 in [0, 1)) -> two independent N(0, 1) samples, computed in double.
struct NormalPair {
  double z0, z1;
};
TRIDENT_HOST_DEVICE inline NormalPair box_muller(double u1, double u2) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double r = ::sqrt(-2.0 * ::log(u1));
  const double theta = kTwoPi * u2;
  return {r * ::cos(theta), r * ::sin(theta)};
}

// An integer uniform in [0, span) from 64 random bits, by the multiply-high map floor(x * span / 2^64). Its bias is
// below span / 2^64 (no rejection loop, so every element uses a fixed number of words).
TRIDENT_HOST_DEVICE inline std::uint64_t below(std::uint32_t lo, std::uint32_t hi, std::uint64_t span) {
  const std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32) | lo;
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(x) * span) >> 64);
}

}  // namespace trident::philox
