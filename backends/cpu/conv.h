// CPU convolution on oneDNN: knobs and counters of the primitive cache, for tests and benchmarks. The kernels
// themselves are reached through kernels::conv2d_* (backends/kernels.h); float64 runs on the reference loops.
#pragma once

#include <cstddef>

namespace trident::cpu {

// Memory layouts the oneDNN convolution primitives are created for.
//   Plain:     the primitives read and write trident's own NCHW / (G)OIHW buffers directly;
//   Preferred: oneDNN picks its layouts (format_tag::any, e.g. nChw16c / OIhw16i16o) and every call reorders the
//              inputs into them and the outputs back.
// Note [Convolution layouts] in conv.cpp has the measurements behind the default.
enum class ConvLayout { Plain, Preferred };
void set_conv_layout(ConvLayout layout);
ConvLayout conv_layout();

// The primitive cache (Note [Convolution primitive cache] in conv.cpp).
struct ConvCacheStats {
  std::size_t entries = 0;  // shape signatures held
  std::size_t hits = 0;     // lookups that found their primitives
  std::size_t misses = 0;   // lookups that created them
};
ConvCacheStats conv_cache_stats();
void clear_conv_cache();

}  // namespace trident::cpu
