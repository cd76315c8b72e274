// Seedable random numbers: a counter-based Philox4x32-10 generator.
//
// Counter-based generation gives the same stream on every run, machine and thread count (each element's numbers
// depend only on (seed, offset)), and carries over to GPUs unchanged. Not std::normal_distribution, whose output
// differs between standard libraries.
#pragma once

#include <array>
#include <cstdint>

namespace trident {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  // Reserve `n` 128-bit blocks of the stream; returns the first block's counter. Kernels then compute block i with
  // philox(seed(), start + i).
  std::uint64_t advance(std::uint64_t n) {
    const std::uint64_t start = offset_;
    offset_ += n;
    return start;
  }
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// Four 32-bit random words for (seed, counter): Philox4x32 with 10 rounds.
std::array<std::uint32_t, 4> philox4x32(std::uint64_t seed, std::uint64_t counter);

Generator& default_generator();
void manual_seed(std::uint64_t seed);  // seeds the default generator

}  // namespace trident
