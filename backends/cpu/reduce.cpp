// CPU reduction kernel (sum, max, min, argmax, argmin). Contract: backends/kernels.h.
//
// The reduced and kept dimensions are each coalesced, then one of three loops runs:
//   inner: the reduced elements of each output are one contiguous run (e.g. sum over the last dim) -- parallel over
//          outputs, a vectorised reduction per run;
//   outer: the kept elements are one contiguous run (e.g. sum over the batch dim) -- parallel over chunks of the
//          output, each accumulating whole input rows into a local buffer;
//   general: any strides -- parallel over outputs, a strided walk over the reduced elements.
#include <cmath>
#include <limits>
#include <type_traits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

using kernels::ReduceOp;

struct Dim {
  std::int64_t size, in_stride, out_stride;
};

// Merge adjacent dims (outermost first) that are contiguous with respect to each other in the input (and output).
std::vector<Dim> coalesce_dims(std::vector<Dim> dims) {
  std::vector<Dim> out;
  for (const Dim& d : dims) {
    if (!out.empty() && out.back().in_stride == d.in_stride * d.size && out.back().out_stride == d.out_stride * d.size) {
      out.back().size *= d.size;
      out.back().in_stride = d.in_stride;
      out.back().out_stride = d.out_stride;
    } else {
      out.push_back(d);
    }
  }
  return out;
}

// Offset (in elements) of linear index i over dims, using the chosen stride.
template <bool kIn>
inline std::int64_t offset_of(std::int64_t i, const std::vector<Dim>& dims) {
  std::int64_t off = 0;
  for (std::size_t d = dims.size(); d-- > 0;) {
    const std::int64_t q = i % dims[d].size;
    i /= dims[d].size;
    off += q * (kIn ? dims[d].in_stride : dims[d].out_stride);
  }
  return off;
}

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

template <typename T, typename O>
void reduce_typed(ReduceOp op, const Tensor& in, const Tensor& out) {
  const std::int64_t nd = in.dim();
  std::vector<Dim> kept, red;
  for (std::int64_t d = 0; d < nd; ++d) {
    if (in.size(d) == 1) continue;
    Dim dim{in.size(d), in.stride(d), out.stride(d)};
    (out.size(d) == 1 ? red : kept).push_back(dim);
  }
  kept = coalesce_dims(kept);
  red = coalesce_dims(red);
  const std::int64_t n_out = out.numel();
  std::int64_t n_red = 1;
  for (auto& d : red) n_red *= d.size;
  const T* x = in.data_ptr<T>();
  O* y = out.data_ptr<O>();
  const bool parallel = n_out * n_red >= kParallelGrain;

  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    const bool is_max = op == ReduceOp::ArgMax;
    const std::int64_t st = red.empty() ? 0 : red[0].in_stride;
#pragma omp parallel for if (parallel)
    for (std::int64_t o = 0; o < n_out; ++o) {
      const T* p = x + offset_of<true>(o, kept);
      std::int64_t best_i = 0;
      T best = p[0];
      for (std::int64_t r = 1; r < n_red; ++r) {
        const T v = p[r * st];
        if constexpr (std::is_floating_point_v<T>) {
          if (best != best) break;  // NaN wins: the first NaN is the arg
          if (v != v) { best = v; best_i = r; break; }
        }
        if (is_max ? v > best : v < best) { best = v; best_i = r; }
      }
      y[offset_of<false>(o, kept)] = static_cast<O>(best_i);
    }
    return;
  }

  if constexpr (!std::is_same_v<T, bool>) {
    // Identity and combine for the accumulator type A.
    using A = std::conditional_t<std::is_same_v<T, float>, float, T>;
    auto combine_max = [](A a, A b) { return (a != a || a > b) ? a : b; };
    auto combine_min = [](A a, A b) { return (a != a || a < b) ? a : b; };

    if (op == ReduceOp::Max || op == ReduceOp::Min) {
      const bool is_max = op == ReduceOp::Max;
#pragma omp parallel for if (parallel)
      for (std::int64_t o = 0; o < n_out; ++o) {
        const T* p = x + offset_of<true>(o, kept);
        A best = static_cast<A>(p[0]);
        if (red.size() == 1) {
          const std::int64_t st = red[0].in_stride;
          for (std::int64_t r = 1; r < n_red; ++r)
            best = is_max ? combine_max(best, static_cast<A>(p[r * st])) : combine_min(best, static_cast<A>(p[r * st]));
        } else {
          for (std::int64_t r = 1; r < n_red; ++r) {
            const A v = static_cast<A>(p[offset_of<true>(r, red)]);
            best = is_max ? combine_max(best, v) : combine_min(best, v);
          }
        }
        y[offset_of<false>(o, kept)] = static_cast<O>(best);
      }
      return;
    }
  }

  // Sum.
  using Acc = acc_t<T>;
  const bool inner_contig = red.size() == 1 && red[0].in_stride == 1;
  const bool outer_contig = kept.size() == 1 && kept[0].in_stride == 1 && kept[0].out_stride == 1;
  if (red.empty()) {  // nothing to reduce: a converting copy
#pragma omp parallel for if (parallel)
    for (std::int64_t o = 0; o < n_out; ++o)
      y[offset_of<false>(o, kept)] = static_cast<O>(x[offset_of<true>(o, kept)]);
    return;
  }
  if (inner_contig) {
#pragma omp parallel for if (parallel && n_out > 1)
    for (std::int64_t o = 0; o < n_out; ++o) {
      const T* p = x + offset_of<true>(o, kept);
      Acc acc = 0;
      if (n_out == 1 && parallel) {
        // One long run: split it between threads.
#pragma omp parallel for reduction(+ : acc)
        for (std::int64_t r = 0; r < n_red; ++r) acc += static_cast<Acc>(p[r]);
      } else {
#pragma omp simd reduction(+ : acc)
        for (std::int64_t r = 0; r < n_red; ++r) acc += static_cast<Acc>(p[r]);
      }
      y[offset_of<false>(o, kept)] = static_cast<O>(acc);
    }
    return;
  }
  if (outer_contig) {
    const std::int64_t chunk = 1024;
    const std::int64_t n_chunks = (n_out + chunk - 1) / chunk;
#pragma omp parallel for if (parallel)
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      const std::int64_t lo = c * chunk, hi = std::min(n_out, lo + chunk);
      Acc acc[1024];
      for (std::int64_t k = lo; k < hi; ++k) acc[k - lo] = 0;
      for (std::int64_t r = 0; r < n_red; ++r) {
        const T* p = x + offset_of<true>(r, red);
#pragma omp simd
        for (std::int64_t k = lo; k < hi; ++k) acc[k - lo] += static_cast<Acc>(p[k]);
      }
      for (std::int64_t k = lo; k < hi; ++k) y[k] = static_cast<O>(acc[k - lo]);
    }
    return;
  }
#pragma omp parallel for if (parallel)
  for (std::int64_t o = 0; o < n_out; ++o) {
    const T* p = x + offset_of<true>(o, kept);
    Acc acc = 0;
    for (std::int64_t r = 0; r < n_red; ++r) acc += static_cast<Acc>(p[offset_of<true>(r, red)]);
    y[offset_of<false>(o, kept)] = static_cast<O>(acc);
  }
}

void cpu_reduce(ReduceOp op, const Tensor& in, const Tensor& out) {
  TRIDENT_ASSERT(out.is_contiguous() && out.dim() == in.dim(), "reduce: out must be contiguous with in's rank");
  dispatch_dtype(in.dtype(), "reduce", [&]<typename T>() {
    dispatch_dtype(out.dtype(), "reduce", [&]<typename O>() {
      if constexpr (std::is_same_v<O, bool>) {
        TRIDENT_ASSERT(false, "reduce: bool output");
      } else {
        reduce_typed<T, O>(op, in, out);
      }
    });
  });
}

TRIDENT_REGISTER_KERNEL(kernels::reduce, DeviceType::CPU, &cpu_reduce);

}  // namespace
}  // namespace trident::cpu
