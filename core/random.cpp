// The Philox entry points and the default generator.
//
// Note [Philox4x32-10]
// Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) is a counter-based generator: the
// output block is a keyed bijection of a 128-bit counter, so block i of a stream can be computed directly, by any
// thread, in any order. One round maps the counter (c0, c1, c2, c3) with key (k0, k1) to
//   hi0:lo0 = M0 * c0 (64-bit product),  hi1:lo1 = M1 * c2
//   (c0, c1, c2, c3) <- (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
// and between rounds the key is bumped by the Weyl constants (k0, k1) += (W0, W1). Ten rounds pass BigCrush with a
// wide safety margin. The code lives in core/philox.h (shared with the kernels); tests/test_random.cpp checks it
// against the known-answer vectors of the reference implementation (Random123).
#include "trident/core/random.h"

#include "trident/core/philox.h"

namespace trident {

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> c, std::array<std::uint32_t, 2> k) {
  const philox::Block b = philox::philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1]);
  return {b.w[0], b.w[1], b.w[2], b.w[3]};
}

std::array<std::uint32_t, 4> philox4x32(std::uint64_t seed, std::uint64_t counter) {
  const philox::Block b = philox::block(seed, counter);
  return {b.w[0], b.w[1], b.w[2], b.w[3]};
}

Generator& default_generator() {
  // Constructed on first use (thread-safe since C++11); its methods lock, so threads may share it.
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace trident
