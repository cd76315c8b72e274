// RandomEngine: the one source of randomness of the data pipeline (shuffling, augmentation).
//
// Note [Reproducible data randomness]
// The same seed must give the same batches and the same augmentations on every machine, standard library and thread
// count. So:
//  * the bits come from std::mt19937_64, whose output sequence the C++ standard fixes exactly;
//  * integers and reals are mapped from those bits here (uniform_int, uniform), never through
//    std::uniform_int_distribution / std::uniform_real_distribution, whose algorithms differ between libstdc++,
//    libc++ and MSVC;
//  * every consumer derives its own engine from (seed, stream words) -- e.g. (seed, {kShuffle, epoch}) or
//    (seed, {kAugment, epoch, batch}) -- instead of sharing one engine, so the numbers a batch sees do not depend on
//    which thread made it or on how many batches were made before.
// The engine lives behind this small class so that it can later be backed by trident::Generator (Philox) without
// touching its users.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>

namespace trident::data {

class RandomEngine {
 public:
  explicit RandomEngine(std::uint64_t seed) : bits_(seed) {}
  // An engine for one purpose: its seed mixes `seed` with the stream words (order matters), so different streams of
  // the same seed are unrelated.
  RandomEngine(std::uint64_t seed, std::initializer_list<std::uint64_t> stream);

  std::uint64_t next_u64() { return bits_(); }
  // Uniform integer in [0, n), n >= 1, without modulo bias (rejection of the short last interval).
  std::uint64_t uniform_int(std::uint64_t n);
  // Uniform integer in [low, high] (both included), low <= high.
  std::int64_t uniform_int(std::int64_t low, std::int64_t high);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform double in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  // Fisher-Yates shuffle of [first, first + n).
  template <typename T>
  void shuffle(T* first, std::int64_t n) {
    for (std::int64_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<std::int64_t>(uniform_int(static_cast<std::uint64_t>(i) + 1));
      std::swap(first[i], first[j]);
    }
  }

 private:
  std::mt19937_64 bits_;
};

// Stream tags, so that shuffling and augmentation never draw from the same stream.
inline constexpr std::uint64_t kShuffleStream = 0x53485546464c45ULL;  // "SHUFFLE"
inline constexpr std::uint64_t kAugmentStream = 0x4155474d454e54ULL;  // "AUGMENT"

}  // namespace trident::data
