// Fixed-width SIMD vectors for the hot loops of CPU kernels, through the GCC/Clang vector extension.
//
// The compiler vectorises most of trident's loops on its own; these types are for the few reductions where it
// would keep accumulators in memory or where the order of operations matters (float sums widened to float64).
// Vec<T, N> holds N elements of T, maps onto the target's registers (two AVX2 or one AVX-512 register for 64
// bytes), and supports + - * / and comparisons elementwise; `mask ? a : b` selects elementwise.
#pragma once

#include <cstdint>
#include <cstring>

namespace trident::cpu::simd {

template <typename T, int N>
struct VecType {
  typedef T type __attribute__((vector_size(sizeof(T) * N)));
};
template <typename T, int N>
using Vec = typename VecType<T, N>::type;

// Unaligned load and store.
template <int N, typename T>
inline Vec<T, N> load(const T* p) {
  Vec<T, N> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <int N, typename T>
inline void store(T* p, Vec<T, N> v) {
  std::memcpy(p, &v, sizeof(v));
}

template <typename T, int N>
inline Vec<T, N> broadcast(T x) {
  Vec<T, N> v;
  for (int i = 0; i < N; ++i) v[i] = x;
  return v;
}

}  // namespace trident::cpu::simd
