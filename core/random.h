// Seedable random numbers: a counter-based Philox4x32-10 generator.
//
// Counter-based generation gives the same stream on every run, machine and thread count (each element's numbers
// depend only on (seed, offset)), and carries over to GPUs unchanged. Not std::normal_distribution, whose output
// differs between standard libraries.
//
// A Generator is only a (seed, offset) pair: the offset counts the 128-bit blocks of the Philox stream already handed
// out. Its methods lock a mutex, so one generator (the default one in particular) may be shared between threads;
// each caller then gets its own disjoint range of blocks.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <utility>

namespace trident {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  // Copies take a snapshot of the other generator's state (e.g. to replay a stream later).
  Generator(const Generator& other) {
    std::lock_guard lock(other.mutex_);
    seed_ = other.seed_;
    offset_ = other.offset_;
  }
  Generator& operator=(const Generator& other) {
    if (this == &other) return *this;
    std::uint64_t seed, offset;
    {
      std::lock_guard lock(other.mutex_);
      seed = other.seed_;
      offset = other.offset_;
    }
    std::lock_guard lock(mutex_);
    seed_ = seed;
    offset_ = offset;
    return *this;
  }

  void manual_seed(std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const {
    std::lock_guard lock(mutex_);
    return seed_;
  }
  // Reserve `n` 128-bit blocks of the stream; returns the first block's counter. Kernels then compute block i with
  // philox(seed(), start + i).
  std::uint64_t advance(std::uint64_t n) { return reserve(n).second; }
  // Like advance, but returns the seed together with the first block, read under the same lock (so a concurrent
  // manual_seed cannot pair the old seed with the new offset).
  std::pair<std::uint64_t, std::uint64_t> reserve(std::uint64_t n) {
    std::lock_guard lock(mutex_);
    const std::uint64_t start = offset_;
    offset_ += n;
    return {seed_, start};
  }
  std::uint64_t offset() const {
    std::lock_guard lock(mutex_);
    return offset_;
  }
  void set_offset(std::uint64_t offset) {
    std::lock_guard lock(mutex_);
    offset_ = offset;
  }

 private:
  mutable std::mutex mutex_;
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// Four 32-bit random words for (seed, counter): Philox4x32 with 10 rounds. The key is (low 32 bits of seed, high
// 32 bits of seed); the 128-bit counter is (low 32 bits of counter, high 32 bits of counter, 0, 0).
std::array<std::uint32_t, 4> philox4x32(std::uint64_t seed, std::uint64_t counter);
// The general form, on an explicit 128-bit counter and 64-bit key (as in Random123's philox4x32_R(10, ...)).
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key);

Generator& default_generator();
void manual_seed(std::uint64_t seed);  // seeds the default generator

}  // namespace trident
