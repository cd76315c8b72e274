// CPU softmax / log_softmax, forward and backward. Contract: backends/kernels.h.
//
// A tensor is seen around the softmax dim as [outer, D, inner] (D = size(dim), inner = the product of the sizes after
// it). Two loops, both parallel over independent slices with OpenMP:
//   rows    (inner == 1, the softmax dim is the last one): each slice is a contiguous row of D elements, processed in
//           three vectorised passes (max, sum of exp, normalise) while it is hot in L1;
//   columns (inner > 1): for one outer index, a chunk of up to kWidth neighbouring inner positions is processed
//           together: every pass walks the D rows of the chunk, accumulating max and sum lane-wise.
// Both need the dims from `dim` on to form one dense block (the outer dims may have any strides); an input that is
// not laid out so (e.g. a transposed matrix) is first copied into a contiguous tensor.
// The forward is stable: the max of each slice is subtracted before exp (Note [Vectorised exp]).
//
// Why not oneDNN: its softmax_v2 forward/backward primitives (jit:avx512_core in oneDNN 2.6) were timed against these
// loops on [4096, 1000] float32 along dim 1 (bench/time_dnnl_softmax.cpp vs bench/time_reduce_softmax.cpp). On one
// thread (thread CPU time): softmax forward 2.5 ms vs 1.6 ms here, log_softmax 2.5 vs 1.5, softmax backward
// 1.2-1.4 vs 1.1, log_softmax backward 2.9 vs 1.1. These loops are faster in every case, so no oneDNN path exists.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/cpu/vec_math.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

// Columns processed together by the columns loop.
constexpr std::int64_t kWidth = 128;

struct Geometry {
  std::int64_t outer = 1, D = 1, inner = 1;
};

Geometry geometry_of(const Tensor& t, std::int64_t dim) {
  Geometry g;
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    if (d < dim) g.outer *= t.size(d);
    if (d > dim) g.inner *= t.size(d);
  }
  g.D = t.size(dim);
  return g;
}

// True when the dims [dim, ndim) of t are one dense C-order block (size-1 dims may have any stride).
bool block_contiguous(const Tensor& t, std::int64_t dim) {
  std::int64_t expected = 1;
  for (std::int64_t d = t.dim(); d-- > dim;) {
    if (t.size(d) == 1) continue;
    if (t.stride(d) != expected) return false;
    expected *= t.size(d);
  }
  return true;
}

// t itself when the softmax loops can read it directly, else a contiguous copy.
Tensor readable(const Tensor& t, std::int64_t dim) {
  if (block_contiguous(t, dim)) return t;
  Tensor c = empty(t.sizes(), {.dtype = t.dtype(), .device = t.device()});
  kernels::copy(t.device(), t, c);
  return c;
}

// Element offset in t of outer index o (a C-order index over the dims before `dim`).
std::int64_t outer_offset(const Tensor& t, std::int64_t dim, std::int64_t o) {
  std::int64_t off = 0;
  for (std::int64_t d = dim; d-- > 0;) {
    off += (o % t.size(d)) * t.stride(d);
    o /= t.size(d);
  }
  return off;
}

// Software prefetch (see Note [Software prefetch in streaming reductions] in reduce.cpp): the first pass over a row
// prefetches kPrefetchBytes ahead; the first pass over a chunk of columns prefetches the row kRowsAhead ahead.
constexpr std::int64_t kPrefetchBytes = 8192;
constexpr std::int64_t kRowsAhead = 16;

template <typename T>
inline void prefetch_ahead(const T* p, std::int64_t count) {
  const char* q = reinterpret_cast<const char*>(p) + kPrefetchBytes;
  for (std::int64_t b = 0; b < count * static_cast<std::int64_t>(sizeof(T)); b += 64) __builtin_prefetch(q + b);
}
template <typename T>
inline void prefetch_row(const T* p, std::int64_t count) {
  const char* q = reinterpret_cast<const char*>(p);
  for (std::int64_t b = 0; b < count * static_cast<std::int64_t>(sizeof(T)); b += 64) __builtin_prefetch(q + b);
}

// Lanes for the row loops: two AVX-512 registers.
template <typename T>
constexpr int kLanes = 128 / static_cast<int>(sizeof(T));

template <typename T>
T row_max(const T* x, std::int64_t n) {
  constexpr int L = kLanes<T>;
  T lanes[L];
  for (int l = 0; l < L; ++l) lanes[l] = -std::numeric_limits<T>::infinity();
  std::int64_t i = 0;
  // (written as x > a ? x : a, which is exactly the vector max instruction; NaNs are skipped here and caught by
  // the exp pass, where x - m is NaN)
  for (; i + L <= n; i += L) {
    prefetch_ahead(x + i, L);
#pragma omp simd
    for (int l = 0; l < L; ++l) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
  }
  T m = -std::numeric_limits<T>::infinity();
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int l = 0; l < L; ++l) m = lanes[l] > m ? lanes[l] : m;
  return m;
}

// Returns sum_i exp(x_i - m); when kStore, also writes the exps to y.
template <bool kStore, typename T>
T row_sum_exp(const T* x, T* y, T m, std::int64_t n) {
  constexpr int L = kLanes<T>;
  T lanes[L] = {};
  std::int64_t i = 0;
  for (; i + L <= n; i += L) {
    // (omp simd: without it GCC vectorises this loop only when AVX-512 code generation is on)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const T e = vec_exp(x[i + l] - m);
      if constexpr (kStore) y[i + l] = e;
      lanes[l] += e;
    }
  }
  T s = 0;
  for (; i < n; ++i) {
    const T e = vec_exp(x[i] - m);
    if constexpr (kStore) y[i] = e;
    s += e;
  }
  for (int w = L / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) lanes[l] += lanes[l + w];
  return s + lanes[0];
}

// A NaN anywhere in the row, or an all -inf row, makes x - m NaN and so the whole row NaN (see kernels.h).
template <bool kLog, typename T>
void softmax_row(const T* x, T* y, std::int64_t n) {
  const T m = row_max(x, n);
  if constexpr (kLog) {
    const T c = m + std::log(row_sum_exp<false>(x, y, m, n));
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] - c;
  } else {
    const T inv = T(1) / row_sum_exp<true>(x, y, m, n);
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] *= inv;
  }
}

// Columns: x, y point at [D, stride] blocks; w <= kWidth neighbouring columns starting at the pointers.
template <bool kLog, typename T>
void softmax_columns(const T* x, T* y, std::int64_t D, std::int64_t stride, std::int64_t w) {
  T m[kWidth], s[kWidth];
  for (std::int64_t k = 0; k < w; ++k) {
    m[k] = -std::numeric_limits<T>::infinity();
    s[k] = 0;
  }
  for (std::int64_t d = 0; d < D; ++d) {
    const T* xr = x + d * stride;
    prefetch_row(xr + kRowsAhead * stride, w);
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) m[k] = xr[k] > m[k] ? xr[k] : m[k];
  }
  for (std::int64_t d = 0; d < D; ++d) {
    const T* xr = x + d * stride;
    T* yr = y + d * stride;
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) {
      const T e = vec_exp(xr[k] - m[k]);
      if constexpr (!kLog) yr[k] = e;
      s[k] += e;
    }
  }
  for (std::int64_t k = 0; k < w; ++k) s[k] = kLog ? m[k] + std::log(s[k]) : T(1) / s[k];
  for (std::int64_t d = 0; d < D; ++d) {
    const T* xr = x + d * stride;
    T* yr = y + d * stride;
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) yr[k] = kLog ? xr[k] - s[k] : yr[k] * s[k];
  }
}

// Note [Softmax gradient] (ops/softmax.cpp): softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g).
template <bool kLog, typename T>
void softmax_backward_row(const T* g, const T* y, T* gx, std::int64_t n) {
  constexpr int L = kLanes<T>;
  T lanes[L] = {};
  std::int64_t i = 0;
  for (; i + L <= n; i += L) {
    prefetch_ahead(g + i, L);
    prefetch_ahead(y + i, L);
#pragma omp simd
    for (int l = 0; l < L; ++l) lanes[l] += kLog ? g[i + l] : g[i + l] * y[i + l];
  }
  T s = 0;
  for (; i < n; ++i) s += kLog ? g[i] : g[i] * y[i];
  for (int w = L / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) lanes[l] += lanes[l + w];
  s += lanes[0];
  if constexpr (kLog) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) gx[j] = g[j] - vec_exp(y[j]) * s;
  } else {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) gx[j] = y[j] * (g[j] - s);
  }
}

template <bool kLog, typename T>
void softmax_backward_columns(const T* g, const T* y, T* gx, std::int64_t D, std::int64_t stride, std::int64_t w) {
  T s[kWidth];
  for (std::int64_t k = 0; k < w; ++k) s[k] = 0;
  for (std::int64_t d = 0; d < D; ++d) {
    const T* gr = g + d * stride;
    const T* yr = y + d * stride;
    prefetch_row(gr + kRowsAhead * stride, w);
    prefetch_row(yr + kRowsAhead * stride, w);
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) s[k] += kLog ? gr[k] : gr[k] * yr[k];
  }
  for (std::int64_t d = 0; d < D; ++d) {
    const T* gr = g + d * stride;
    const T* yr = y + d * stride;
    T* out = gx + d * stride;
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) out[k] = kLog ? gr[k] - vec_exp(yr[k]) * s[k] : yr[k] * (gr[k] - s[k]);
  }
}

// Runs body(outer index, first inner column, width) over every slice, in parallel when the tensor is large.
// (A width adapted to keep the [D, width] chunk in L2 between the passes was measured slower: for large D the rows
// of the chunk become single cache lines, which the prefetchers serve worse than a wide chunk re-read from L3.)
template <typename Body>
void for_each_slice(const Geometry& geo, Body&& body) {
  const std::int64_t chunks = geo.inner == 1 ? 1 : (geo.inner + kWidth - 1) / kWidth;
  const std::int64_t items = geo.outer * chunks;
  const bool parallel = geo.outer * geo.D * geo.inner >= kParallelGrain && items > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t item = 0; item < items; ++item) {
    const std::int64_t o = item / chunks, k0 = (item % chunks) * kWidth;
    body(o, k0, std::min(kWidth, geo.inner - k0));
  }
}

template <bool kLog, typename T>
void softmax_typed(const Tensor& in, const Tensor& out, std::int64_t dim) {
  const Geometry geo = geometry_of(in, dim);
  const Tensor src = readable(in, dim);
  const T* x = src.data_ptr<T>();
  T* y = out.data_ptr<T>();
  const std::int64_t block = geo.D * geo.inner;  // out is contiguous
  for_each_slice(geo, [&](std::int64_t o, std::int64_t k0, std::int64_t w) {
    const T* xs = x + outer_offset(src, dim, o) + k0;
    T* ys = y + o * block + k0;
    if (geo.inner == 1) {
      softmax_row<kLog>(xs, ys, geo.D);
    } else {
      softmax_columns<kLog>(xs, ys, geo.D, geo.inner, w);
    }
  });
}

template <bool kLog, typename T>
void softmax_backward_typed(const Tensor& grad_out, const Tensor& y_in, const Tensor& grad_in, std::int64_t dim) {
  const Geometry geo = geometry_of(y_in, dim);
  const Tensor gsrc = readable(grad_out, dim), ysrc = readable(y_in, dim);
  const T* g = gsrc.data_ptr<T>();
  const T* y = ysrc.data_ptr<T>();
  T* gx = grad_in.data_ptr<T>();
  const std::int64_t block = geo.D * geo.inner;
  for_each_slice(geo, [&](std::int64_t o, std::int64_t k0, std::int64_t w) {
    const T* gs = g + outer_offset(gsrc, dim, o) + k0;
    const T* ys = y + outer_offset(ysrc, dim, o) + k0;
    T* gxs = gx + o * block + k0;
    if (geo.inner == 1) {
      softmax_backward_row<kLog>(gs, ys, gxs, geo.D);
    } else {
      softmax_backward_columns<kLog>(gs, ys, gxs, geo.D, geo.inner, w);
    }
  });
}

void cpu_softmax(const Tensor& in, const Tensor& out, std::int64_t dim, bool log) {
  TRIDENT_ASSERT(out.is_contiguous() && out.sizes() == in.sizes() && out.dtype() == in.dtype(),
                 "softmax: out must be contiguous, of in's sizes and dtype");
  if (in.numel() == 0) return;
  dispatch_floating(in.dtype(), "softmax", [&]<typename T>() {
    if (log) {
      softmax_typed<true, T>(in, out, dim);
    } else {
      softmax_typed<false, T>(in, out, dim);
    }
  });
}

void cpu_softmax_backward(const Tensor& grad_out, const Tensor& out, const Tensor& grad_in, std::int64_t dim,
                          bool log) {
  TRIDENT_ASSERT(grad_in.is_contiguous() && grad_out.sizes() == out.sizes() && grad_in.sizes() == out.sizes(),
                 "softmax_backward: grad_in must be contiguous, all of out's sizes");
  if (out.numel() == 0) return;
  dispatch_floating(out.dtype(), "softmax_backward", [&]<typename T>() {
    if (log) {
      softmax_backward_typed<true, T>(grad_out, out, grad_in, dim);
    } else {
      softmax_backward_typed<false, T>(grad_out, out, grad_in, dim);
    }
  });
}

TRIDENT_REGISTER_KERNEL(kernels::softmax, DeviceType::CPU, &cpu_softmax);
TRIDENT_REGISTER_KERNEL(kernels::softmax_backward, DeviceType::CPU, &cpu_softmax_backward);

}  // namespace
}  // namespace trident::cpu
