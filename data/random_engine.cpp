#include "trident/data/random_engine.h"

#include "trident/core/error.h"

namespace trident::data {

namespace {
// SplitMix64's finaliser: a bijective mixer, so distinct (seed, stream) inputs give well-spread seeds.
std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

RandomEngine::RandomEngine(std::uint64_t seed, std::initializer_list<std::uint64_t> stream) {
  std::uint64_t h = mix64(seed);
  for (std::uint64_t word : stream) h = mix64(h ^ mix64(word));
  bits_.seed(h);
}

std::uint64_t RandomEngine::uniform_int(std::uint64_t n) {
  TRIDENT_CHECK(n >= 1, "RandomEngine::uniform_int: n must be >= 1, got 0");
  // Values below `threshold` = 2^64 mod n are rejected, so that the accepted range is a multiple of n.
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t r = next_u64();
    if (r >= threshold) return r % n;
  }
}

std::int64_t RandomEngine::uniform_int(std::int64_t low, std::int64_t high) {
  TRIDENT_CHECK(low <= high, "RandomEngine::uniform_int: empty range [{}, {}]", low, high);
  const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  if (span == ~std::uint64_t{0}) return static_cast<std::int64_t>(next_u64());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + uniform_int(span + 1));
}

}  // namespace trident::data
