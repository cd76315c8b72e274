// Introspection of the CPU matmul kernel (backends/cpu/matmul.cpp), for tests and benchmarks.
#pragma once

#include <cstdint>
#include <string>

#include "trident/core/tensor.h"

namespace trident::cpu {

// Counters of the float32 primitive cache (Note [The matmul primitive cache]).
struct MatmulCacheStats {
  std::uint64_t hits = 0;    // calls that found their primitive
  std::uint64_t misses = 0;  // calls that had to create one
  std::size_t entries = 0;   // primitives held now
};
MatmulCacheStats matmul_cache_stats();
void clear_matmul_cache();

// How the float32 kernel runs a: [B, M, K] @ b: [B, K, N] -> out: [B, M, N] (the arguments of kernels::matmul):
// the oneDNN implementation it picked (e.g. "brg:avx512_core", "gemm:jit") and whether an operand is first copied
// to a contiguous buffer (only when oneDNN has no fast kernel for its strides, e.g. a row stride of 2 elements).
// Looks the plan up in (or adds it to) the cache like a real call, without computing anything.
struct MatmulPlanInfo {
  std::string implementation;
  bool copies_a = false;
  bool copies_b = false;
  std::size_t scratchpad_bytes = 0;  // the temporary buffer the primitive asks for
};
MatmulPlanInfo matmul_plan_info(const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace trident::cpu
