// CPU reduction kernel (sum, max, min, argmax, argmin). Contract: backends/kernels.h.
//
// The kept and the reduced dimensions are each sorted by input stride (largest first) and coalesced, so that any
// view (transposed, sliced, permuted) is walked in the best memory order it allows. Then one of two layouts runs:
//   rows:    the reduced elements of each output are walked as runs along the innermost reduced dim (e.g. a sum over
//            the last dim: one contiguous run per output, reduced with vector lanes). Parallel over outputs, or,
//            when there are fewer outputs than threads (a full reduction), over chunks of the reduced elements
//            whose partial results are merged in order.
//   columns: the innermost kept dim is contiguous in the input (e.g. a sum over the batch dim): each reduced
//            element brings a contiguous row of outputs, accumulated lane-wise into a buffer. Parallel over chunks of
//            the outputs, or over chunks of the reduced elements when the outputs are too few.
// Each operation is a small policy (SumOp, ExtremumOp, ArgExtremumOp) that says how to start, step, merge and
// finish an accumulator; the loops are shared.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/cpu/simd.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

using kernels::ReduceOp;

struct Dim {
  std::int64_t size, in_stride, out_stride;  // strides in elements
};

// Sort dims by input stride, largest first (stable: ties keep the tensor's order), then merge neighbours that are
// contiguous with respect to each other in the input and in the output.
std::vector<Dim> sort_and_coalesce(std::vector<Dim> dims) {
  std::stable_sort(dims.begin(), dims.end(), [](const Dim& a, const Dim& b) { return a.in_stride > b.in_stride; });
  std::vector<Dim> out;
  for (const Dim& d : dims) {
    if (!out.empty() && out.back().in_stride == d.in_stride * d.size &&
        out.back().out_stride == d.out_stride * d.size) {
      out.back().size *= d.size;
      out.back().in_stride = d.in_stride;
      out.back().out_stride = d.out_stride;
    } else {
      out.push_back(d);
    }
  }
  return out;
}

// Walks dims [0, nd) in C order, keeping the input and output element offsets of the current position.
class Odometer {
 public:
  Odometer(const Dim* dims, std::size_t nd, std::int64_t start) : dims_(dims), idx_(nd) {
    for (std::size_t d = nd; d-- > 0;) {
      idx_[d] = start % dims[d].size;
      start /= dims[d].size;
      in += idx_[d] * dims[d].in_stride;
      out += idx_[d] * dims[d].out_stride;
    }
  }
  void next() {
    for (std::size_t d = idx_.size(); d-- > 0;) {
      in += dims_[d].in_stride;
      out += dims_[d].out_stride;
      if (++idx_[d] < dims_[d].size) return;
      in -= dims_[d].size * dims_[d].in_stride;
      out -= dims_[d].size * dims_[d].out_stride;
      idx_[d] = 0;
    }
  }
  std::int64_t in = 0, out = 0;

 private:
  const Dim* dims_;
  std::vector<std::int64_t> idx_;
};

// Calls run(pointer, n, stride, first) for each run along the innermost reduced dim that covers the reduced
// elements [begin, end) (C-order linear indices over `red`); `first` is the linear index of the run's first element.
template <typename T, typename Run>
void for_each_run(const T* base, const std::vector<Dim>& red, std::int64_t begin, std::int64_t end, Run&& run) {
  if (red.empty()) {  // nothing reduced: one element
    if (begin < end) run(base, 1, 0, 0);
    return;
  }
  const Dim& inner = red.back();
  Odometer outer(red.data(), red.size() - 1, begin / inner.size);
  std::int64_t j = begin % inner.size;
  for (std::int64_t pos = begin; pos < end; j = 0, outer.next()) {
    const std::int64_t n = std::min(inner.size - j, end - pos);
    run(base + outer.in + j * inner.in_stride, n, inner.in_stride, pos);
    pos += n;
  }
}

// ---- accumulator policies ----------------------------------------------------------------------------------------

// Note [Software prefetch in streaming reductions]
// A reduction over a large tensor is bound by memory bandwidth. Measured on the development machine (a 2-core VM),
// the hardware prefetchers alone left a plain streaming sum at ~27 GB/s on one core; prefetching explicitly 8 KiB
// ahead of the loads raised it to ~40 GB/s (prefetches past the end of the buffer are harmless: they never fault).
constexpr std::int64_t kPrefetchBytes = 8192;

// Prefetch the cache lines that the `count` elements at p + kPrefetchBytes will occupy.
template <typename T>
inline void prefetch_ahead(const T* p, std::int64_t count) {
  const char* q = reinterpret_cast<const char*>(p) + kPrefetchBytes;
  for (std::int64_t b = 0; b < count * static_cast<std::int64_t>(sizeof(T)); b += 64) __builtin_prefetch(q + b);
}

// Elements tested together when argmax/argmin search a run for its extremum.
constexpr int kSearchBlock = 32;

// Note [float sums in float64]
// A float32 sum accumulates in float64, so its error does not grow with the number of elements. The contiguous path
// first adds blocks of 64 floats in float32 -- eight 8-lane vectors in a tree of depth 3, so each lane adds 8 values
// with at most 3 roundings -- and widens each block's 8 lane sums to float64. The error is then at most about
// 3 * 2^-24 * sum|x_i| (plus the final rounding), independent of n, where PyTorch's float32 cascade grows with log n.
// Widening every element instead would give the float64 sum rounded once, but the conversions (one per 4 floats) are
// the bottleneck of the loop: measured on the 64 MB [4096, 4096] last-dim sum with 2 threads, 1.06 ms against
// 0.79 ms for the blocks (bench/bench_core SumLastDim; PyTorch 1.13: 0.80-0.83 ms). The strided and column paths
// still widen every element. The CUDA kernel widens every element too, so the two devices agree to the bound above,
// not bit for bit (tests/test_cuda.cpp checks exactly that bound).
template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  static Acc identity(std::int64_t) { return 0; }
  static void step(Acc& a, T x, std::int64_t) { a += static_cast<Acc>(x); }
  static Acc merge(Acc a, Acc b) { return a + b; }
  template <typename O>
  static O finish(Acc a) {
    return static_cast<O>(a);
  }

  static Acc contiguous(const T* p, std::int64_t n, std::int64_t) {
    using simd::load;
    std::int64_t i = 0;
    Acc acc = 0;
    if constexpr (std::is_same_v<T, float>) {
      // Note [float sums in float64]: blocks of 64 floats added in float32, each block's 8 lanes widened.
      using F8 = simd::Vec<float, 8>;
      using D4 = simd::Vec<double, 4>;
      D4 a0 = {}, a1 = {}, a2 = {}, a3 = {};
      for (; i + 64 <= n; i += 64) {
        prefetch_ahead(p + i, 64);
        const F8 s0 = load<8>(p + i) + load<8>(p + i + 8), s1 = load<8>(p + i + 16) + load<8>(p + i + 24);
        const F8 s2 = load<8>(p + i + 32) + load<8>(p + i + 40), s3 = load<8>(p + i + 48) + load<8>(p + i + 56);
        const F8 t0 = s0 + s1, t1 = s2 + s3;
        a0 += __builtin_convertvector(__builtin_shufflevector(t0, t0, 0, 1, 2, 3), D4);
        a1 += __builtin_convertvector(__builtin_shufflevector(t0, t0, 4, 5, 6, 7), D4);
        a2 += __builtin_convertvector(__builtin_shufflevector(t1, t1, 0, 1, 2, 3), D4);
        a3 += __builtin_convertvector(__builtin_shufflevector(t1, t1, 4, 5, 6, 7), D4);
      }
      const D4 s = (a0 + a1) + (a2 + a3);
      for (int l = 0; l < 4; ++l) acc += s[l];
    } else if constexpr (!std::is_same_v<T, bool>) {
      // double, int64: four independent vector accumulators
      constexpr int W = 64 / sizeof(T);
      simd::Vec<Acc, W> a0 = {}, a1 = {}, a2 = {}, a3 = {};
      for (; i + 4 * W <= n; i += 4 * W) {
        prefetch_ahead(p + i, 4 * W);
        a0 += load<W>(p + i);
        a1 += load<W>(p + i + W);
        a2 += load<W>(p + i + 2 * W);
        a3 += load<W>(p + i + 3 * W);
      }
      a0 = (a0 + a1) + (a2 + a3);
      for (int l = 0; l < W; ++l) acc += a0[l];
    }
    for (; i < n; ++i) acc += static_cast<Acc>(p[i]);
    return acc;
  }
  // columns layout: acc[k] += row[k]
  static void step_row(Acc* acc, const T* row, std::int64_t w, std::int64_t) {
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) acc[k] += static_cast<Acc>(row[k]);
  }
};

// Max (kMax) or min; NaN propagates: once a NaN is seen it is the result.
template <typename T, bool kMax>
struct ExtremumOp {
  using Acc = T;
  static constexpr T kIdentity = std::is_floating_point_v<T>
                                     ? (kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity())
                                     : (kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max());
  static Acc identity(std::int64_t) { return kIdentity; }
  // x wins when it is beyond a, or when it is NaN; a NaN in a stays (both comparisons are false).
  static T better(T a, T x) { return ((kMax ? x > a : x < a) || x != x) ? x : a; }
  static void step(Acc& a, T x, std::int64_t) { a = better(a, x); }
  static Acc merge(Acc a, Acc b) { return better(a, b); }
  template <typename O>
  static O finish(Acc a) {
    return static_cast<O>(a);
  }

  static Acc contiguous(const T* p, std::int64_t n, std::int64_t) {
    T acc = kIdentity;
    std::int64_t i = 0;
    if constexpr (!std::is_same_v<T, bool>) {
      constexpr int W = 64 / sizeof(T);
      using V = simd::Vec<T, W>;
      V a0 = simd::broadcast<T, W>(kIdentity), a1 = a0;
      auto better_v = [](V a, V x) { return ((kMax ? x > a : x < a) | (x != x)) ? x : a; };
      for (; i + 2 * W <= n; i += 2 * W) {
        prefetch_ahead(p + i, 2 * W);
        a0 = better_v(a0, simd::load<W>(p + i));
        a1 = better_v(a1, simd::load<W>(p + i + W));
      }
      a0 = better_v(a0, a1);
      for (int l = 0; l < W; ++l) acc = better(acc, a0[l]);
    }
    for (; i < n; ++i) acc = better(acc, p[i]);
    return acc;
  }
  static void step_row(Acc* acc, const T* row, std::int64_t w, std::int64_t) {
#pragma omp simd
    for (std::int64_t k = 0; k < w; ++k) acc[k] = better(acc[k], row[k]);
  }
};

// Index of the first maximum (kMax) or minimum; a NaN counts as the extremum (the first NaN wins), like PyTorch.
template <typename T, bool kMax>
struct ArgExtremumOp {
  struct Acc {
    T value;
    std::int64_t index;
  };
  using Extremum = ExtremumOp<T, kMax>;
  static Acc identity(std::int64_t first) { return {Extremum::kIdentity, first}; }
  // Strictly better only: an equal value later on keeps the earlier index. NaN beats everything but NaN.
  static bool beats(T x, T a) { return (kMax ? x > a : x < a) || (x != x && a == a); }
  static void step(Acc& a, T x, std::int64_t i) {
    if (beats(x, a.value)) a = {x, i};
  }
  static Acc merge(Acc a, Acc b) { return beats(b.value, a.value) ? b : a; }  // a covers the earlier indices
  template <typename O>
  static O finish(Acc a) {
    return static_cast<O>(a.index);
  }

  // Two passes over a run that is hot in cache: the vectorised extremum, then the first element equal to it (or
  // the first NaN), found a vector block at a time.
  static Acc contiguous(const T* p, std::int64_t n, std::int64_t first) {
    const T m = Extremum::contiguous(p, n, first);
    const bool nan = m != m;
    std::int64_t i = 0;
    if (nan) {
      for (; i < n; ++i)
        if (p[i] != p[i]) break;
      return {m, first + i};
    }
    for (; i + kSearchBlock <= n; i += kSearchBlock) {
      bool hit = false;
      for (int l = 0; l < kSearchBlock; ++l) hit |= p[i + l] == m;
      if (hit) break;
    }
    for (; i < n; ++i)
      if (p[i] == m) break;
    return {m, first + i};
  }
  static void step_row(Acc* acc, const T* row, std::int64_t w, std::int64_t r) {
    for (std::int64_t k = 0; k < w; ++k) step(acc[k], row[k], r);
  }
};

// Reduce one run: the contiguous fast path or a strided loop.
template <typename Op, typename T>
typename Op::Acc reduce_run(const T* p, std::int64_t n, std::int64_t stride, std::int64_t first) {
  if (stride == 1) return Op::contiguous(p, n, first);
  typename Op::Acc a = Op::identity(first);
  for (std::int64_t i = 0; i < n; ++i) Op::step(a, p[i * stride], first + i);
  return a;
}

template <typename Op, typename T>
typename Op::Acc reduce_range(const T* base, const std::vector<Dim>& red, std::int64_t begin, std::int64_t end) {
  typename Op::Acc acc = Op::identity(begin);
  for_each_run(base, red, begin, end, [&](const T* p, std::int64_t n, std::int64_t st, std::int64_t first) {
    acc = Op::merge(acc, reduce_run<Op>(p, n, st, first));
  });
  return acc;
}

// Split [0, n) into `parts` nearly equal chunks; chunk t is [lo, hi).
inline std::pair<std::int64_t, std::int64_t> chunk_of(std::int64_t n, std::int64_t parts, std::int64_t t) {
  const std::int64_t q = n / parts, r = n % parts;
  const std::int64_t lo = t * q + std::min(t, r);
  return {lo, lo + q + (t < r ? 1 : 0)};
}

// ---- layouts -------------------------------------------------------------------------------------------------------

template <typename Op, typename T, typename O>
void reduce_rows(const T* x, O* y, const std::vector<Dim>& kept, const std::vector<Dim>& red, std::int64_t n_out,
                 std::int64_t n_red) {
  const std::int64_t threads = omp_get_max_threads();
  const bool parallel = n_out * n_red >= kParallelGrain && threads > 1;
  if (parallel && n_out < threads) {
    // Few outputs, many elements each: every thread reduces a chunk of each output; partials merge in order.
    std::vector<typename Op::Acc> partial(static_cast<std::size_t>(threads));
    Odometer out(kept.data(), kept.size(), 0);
    for (std::int64_t o = 0; o < n_out; ++o, out.next()) {
      const T* base = x + out.in;
      std::int64_t team = 1;
#pragma omp parallel num_threads(threads)
      {
        const std::int64_t t = omp_get_thread_num();
        if (t == 0) team = omp_get_num_threads();
        const auto [lo, hi] = chunk_of(n_red, omp_get_num_threads(), t);
        partial[t] = reduce_range<Op>(base, red, lo, hi);
      }
      typename Op::Acc acc = partial[0];
      for (std::int64_t t = 1; t < team; ++t) acc = Op::merge(acc, partial[t]);
      y[out.out] = Op::template finish<O>(acc);
    }
    return;
  }
  auto run = [&](std::int64_t lo, std::int64_t hi) {
    Odometer out(kept.data(), kept.size(), lo);
    for (std::int64_t o = lo; o < hi; ++o, out.next())
      y[out.out] = Op::template finish<O>(reduce_range<Op>(x + out.in, red, 0, n_red));
  };
  if (!parallel) {
    run(0, n_out);
    return;
  }
#pragma omp parallel
  {
    const auto [lo, hi] = chunk_of(n_out, omp_get_num_threads(), omp_get_thread_num());
    run(lo, hi);
  }
}

// kept.back() has in_stride 1: accumulate rows of up to kWidth contiguous outputs.
template <typename Op, typename T, typename O>
void reduce_columns(const T* x, O* y, const std::vector<Dim>& kept, const std::vector<Dim>& red, std::int64_t n_out,
                    std::int64_t n_red) {
  constexpr std::int64_t kWidth = 256;
  using Acc = typename Op::Acc;
  const Dim inner = kept.back();  // the contiguous kept dim
  const std::size_t n_outer_dims = kept.size() - 1;
  const std::int64_t n_outer = n_out / inner.size;
  const std::int64_t n_chunks = (inner.size + kWidth - 1) / kWidth;
  const std::int64_t items = n_outer * n_chunks;
  const std::int64_t threads = omp_get_max_threads();
  const bool parallel = n_out * n_red >= kParallelGrain && threads > 1;

  // acc[0, w) = the reduction of reduced elements [begin, end) for outputs starting at x + in_offset.
  // The rows are far apart in memory, so the hardware prefetchers do not see a stream: prefetch the row
  // kRowsAhead ahead explicitly (Note [Software prefetch in streaming reductions]).
  constexpr std::int64_t kRowsAhead = 16;
  auto accumulate = [&](Acc* acc, std::int64_t in_offset, std::int64_t w, std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = 0; k < w; ++k) acc[k] = Op::identity(begin);
    Odometer r(red.data(), red.size(), begin), ahead(red.data(), red.size(), begin + kRowsAhead);
    for (std::int64_t i = begin; i < end; ++i, r.next(), ahead.next()) {
      const char* next_row = reinterpret_cast<const char*>(x + in_offset + ahead.in);
      for (std::int64_t b = 0; b < w * static_cast<std::int64_t>(sizeof(T)); b += 64) __builtin_prefetch(next_row + b);
      Op::step_row(acc, x + in_offset + r.in, w, i);
    }
  };
  auto write = [&](const Acc* acc, std::int64_t out_offset, std::int64_t w) {
    for (std::int64_t k = 0; k < w; ++k) y[out_offset + k * inner.out_stride] = Op::template finish<O>(acc[k]);
  };

  if (parallel && items < threads) {
    // Few outputs: split the reduced elements between threads, then merge the partial rows in order.
    const std::int64_t width = std::min(inner.size, kWidth);
    std::vector<Acc> partial(static_cast<std::size_t>(threads * width));
    Odometer outer(kept.data(), n_outer_dims, 0);
    for (std::int64_t o = 0; o < n_outer; ++o, outer.next()) {
      for (std::int64_t c = 0; c < n_chunks; ++c) {
        const std::int64_t k0 = c * kWidth, w = std::min(kWidth, inner.size - k0);
        const std::int64_t in_offset = outer.in + k0 * inner.in_stride;
        std::int64_t team = 1;
#pragma omp parallel num_threads(threads)
        {
          const std::int64_t t = omp_get_thread_num();
          if (t == 0) team = omp_get_num_threads();
          const auto [lo, hi] = chunk_of(n_red, omp_get_num_threads(), t);
          accumulate(partial.data() + t * width, in_offset, w, lo, hi);
        }
        for (std::int64_t t = 1; t < team; ++t)
          for (std::int64_t k = 0; k < w; ++k) partial[k] = Op::merge(partial[k], partial[t * width + k]);
        write(partial.data(), outer.out + k0 * inner.out_stride, w);
      }
    }
    return;
  }
  auto run = [&](std::int64_t lo, std::int64_t hi) {
    Acc acc[kWidth];
    if (lo >= hi) return;
    Odometer outer(kept.data(), n_outer_dims, lo / n_chunks);
    for (std::int64_t item = lo; item < hi; ++item) {
      const std::int64_t c = item % n_chunks;
      if (item != lo && c == 0) outer.next();
      const std::int64_t k0 = c * kWidth, w = std::min(kWidth, inner.size - k0);
      accumulate(acc, outer.in + k0 * inner.in_stride, w, 0, n_red);
      write(acc, outer.out + k0 * inner.out_stride, w);
    }
  };
  if (!parallel) {
    run(0, items);
    return;
  }
#pragma omp parallel
  {
    const auto [lo, hi] = chunk_of(items, omp_get_num_threads(), omp_get_thread_num());
    run(lo, hi);
  }
}

template <typename Op, typename T, typename O>
void reduce_with(const Tensor& in, const Tensor& out) {
  std::vector<Dim> kept, red;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    if (in.size(d) == 1) continue;
    (out.size(d) == 1 ? red : kept).push_back(Dim{in.size(d), in.stride(d), out.stride(d)});
  }
  kept = sort_and_coalesce(std::move(kept));
  red = sort_and_coalesce(std::move(red));
  std::int64_t n_red = 1;
  for (const Dim& d : red) n_red *= d.size;
  const T* x = in.data_ptr<T>();
  O* y = out.data_ptr<O>();
  if (n_red == 0) {  // an empty sum (cpu_reduce refuses the others)
    for (std::int64_t o = 0; o < out.numel(); ++o) y[o] = Op::template finish<O>(Op::identity(0));
    return;
  }
  const bool columns = !kept.empty() && kept.back().in_stride == 1 && !red.empty() && red.back().in_stride != 1;
  if (columns) {
    reduce_columns<Op>(x, y, kept, red, out.numel(), n_red);
  } else {
    reduce_rows<Op>(x, y, kept, red, out.numel(), n_red);
  }
}

void cpu_reduce(ReduceOp op, const Tensor& in, const Tensor& out) {
  TRIDENT_ASSERT(out.is_contiguous() && out.dim() == in.dim(), "reduce: out must be contiguous with in's rank");
  TRIDENT_CHECK(in.dtype() != kBool || (op != ReduceOp::Max && op != ReduceOp::Min),
                "reduce: max/min are not defined for bool tensors (convert with .to(kInt64))");
  if (out.numel() == 0) return;
  TRIDENT_ASSERT(in.numel() > 0 || op == ReduceOp::Sum, "reduce: empty input for max/min/argmax/argmin");
  dispatch_dtype(in.dtype(), "reduce", [&]<typename T>() {
    dispatch_numeric(out.dtype(), "reduce", [&]<typename O>() {
      switch (op) {
        case ReduceOp::Sum:
          return reduce_with<SumOp<T>, T, O>(in, out);
        case ReduceOp::ArgMax:
          return reduce_with<ArgExtremumOp<T, true>, T, O>(in, out);
        case ReduceOp::ArgMin:
          return reduce_with<ArgExtremumOp<T, false>, T, O>(in, out);
        case ReduceOp::Max:
        case ReduceOp::Min:
          if constexpr (std::is_same_v<T, bool>) {
            TRIDENT_ASSERT(false, "reduce: bool max/min passed the check above");
          } else {
            if (op == ReduceOp::Max) return reduce_with<ExtremumOp<T, true>, T, O>(in, out);
            return reduce_with<ExtremumOp<T, false>, T, O>(in, out);
          }
      }
    });
  });
}

TRIDENT_REGISTER_KERNEL(kernels::reduce, DeviceType::CPU, &cpu_reduce);

}  // namespace
}  // namespace trident::cpu
