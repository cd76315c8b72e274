// Strided iteration for CPU kernels.
//
// for_each_strided walks an N-d index space with several operands, each with its own strides, and calls
//   inner(char* ptrs[K], const std::int64_t byte_strides[K], std::int64_t n)
// for each run along the innermost dimension. Before walking it coalesces dimensions that are contiguous for every
// operand (so a contiguous tensor of any rank is a single run) and drops size-1 dimensions. Work is split between
// OpenMP threads (the same pool oneDNN uses) when the index space is large enough to pay for it.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::cpu {

// Below this many elements a loop runs on the calling thread: a parallel region costs a few microseconds.
inline constexpr std::int64_t kParallelGrain = 32768;

template <std::size_t K>
struct StridedLayout {
  std::vector<std::int64_t> sizes;                          // after coalescing, outermost first
  std::array<std::vector<std::int64_t>, K> byte_strides;    // per operand, per dim
};

template <std::size_t K>
StridedLayout<K> coalesce(const Shape& sizes, const std::array<const Tensor*, K>& ops) {
  StridedLayout<K> L;
  const std::size_t nd = sizes.size();
  for (std::size_t d = 0; d < nd; ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !L.sizes.empty();
    for (std::size_t k = 0; k < K && merge; ++k) {
      const std::int64_t inner = static_cast<std::int64_t>(ops[k]->stride(static_cast<std::int64_t>(d)) *
                                                           ops[k]->itemsize());
      merge = L.byte_strides[k].back() == inner * sizes[d];
    }
    if (merge) {
      L.sizes.back() *= sizes[d];
      for (std::size_t k = 0; k < K; ++k)
        L.byte_strides[k].back() = ops[k]->stride(static_cast<std::int64_t>(d)) * ops[k]->itemsize();
    } else {
      L.sizes.push_back(sizes[d]);
      for (std::size_t k = 0; k < K; ++k)
        L.byte_strides[k].push_back(ops[k]->stride(static_cast<std::int64_t>(d)) * ops[k]->itemsize());
    }
  }
  if (L.sizes.empty()) {  // a single element
    L.sizes.push_back(1);
    for (std::size_t k = 0; k < K; ++k) L.byte_strides[k].push_back(0);
  }
  return L;
}

// ops[0] is usually the output; all operands have the geometry `sizes` (broadcast inputs are stride-0 views).
template <std::size_t K, typename Inner>
void for_each_strided(const Shape& sizes, const std::array<const Tensor*, K>& ops, Inner&& inner) {
  const std::int64_t total = shape_numel(sizes);
  if (total == 0) return;
  const StridedLayout<K> L = coalesce<K>(sizes, ops);
  std::array<char*, K> base;
  for (std::size_t k = 0; k < K; ++k) base[k] = static_cast<char*>(ops[k]->raw_data());
  const std::size_t nd = L.sizes.size();
  const std::int64_t n_inner = L.sizes[nd - 1];
  std::array<std::int64_t, K> inner_strides;
  for (std::size_t k = 0; k < K; ++k) inner_strides[k] = L.byte_strides[k][nd - 1];
  const std::int64_t n_outer = total / n_inner;
  const bool parallel = total >= kParallelGrain && omp_get_max_threads() > 1;

  if (n_outer == 1) {
    // One long run: split it between threads.
    if (!parallel) {
      inner(base.data(), inner_strides.data(), n_inner);
      return;
    }
#pragma omp parallel
    {
      const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const std::int64_t chunk = (n_inner + nt - 1) / nt;
      const std::int64_t lo = t * chunk, hi = std::min(n_inner, lo + chunk);
      if (lo < hi) {
        std::array<char*, K> p;
        for (std::size_t k = 0; k < K; ++k) p[k] = base[k] + lo * inner_strides[k];
        inner(p.data(), inner_strides.data(), hi - lo);
      }
    }
    return;
  }

  auto run_rows = [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t row = row_begin; row < row_end; ++row) {
      std::array<char*, K> p = base;
      std::int64_t rem = row;
      for (std::size_t d = nd - 1; d-- > 0;) {
        const std::int64_t i = rem % L.sizes[d];
        rem /= L.sizes[d];
        for (std::size_t k = 0; k < K; ++k) p[k] += i * L.byte_strides[k][d];
      }
      inner(p.data(), inner_strides.data(), n_inner);
    }
  };
  if (!parallel) {
    run_rows(0, n_outer);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const std::int64_t chunk = (n_outer + nt - 1) / nt;
    const std::int64_t lo = t * chunk, hi = std::min(n_outer, lo + chunk);
    if (lo < hi) run_rows(lo, hi);
  }
}

}  // namespace trident::cpu
