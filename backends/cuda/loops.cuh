// Elementwise loops for the CUDA kernels: out[i] = f(in0[i], in1[i], ...) over operands of one geometry.
//
// map<Out, In...>(args, f) runs one of two kernels, as kernels.cpp prepared in `args` (launch.h):
//   contiguous: each thread handles VEC consecutive elements with one 16-byte access for the widest operand (float4
//               for float32, double2 for float64) when every pointer is aligned to it, else VEC = 1; a broadcast
//               scalar input is loaded once per thread;
//   strided:    any strides (views, stride-0 broadcasts); the merged sizes/strides travel by value in a small struct
//               and each linear index becomes per-operand offsets, with 32-bit multiply-shift division (FastDivider)
//               when the index space fits in 31 bits.
// f is a functor with a __device__ call operator (In... -> Out).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <utility>

#include "trident/backends/cuda/launch.h"

namespace trident::cuda {

inline constexpr int kBlockSize = 256;

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// The C++ type of a ScalarType, for the dispatch helpers of the .cu files.
template <ScalarType S>
struct CppType;
template <>
struct CppType<ScalarType::Float32> {
  using type = float;
};
template <>
struct CppType<ScalarType::Float64> {
  using type = double;
};
template <>
struct CppType<ScalarType::Int64> {
  using type = std::int64_t;
};
template <>
struct CppType<ScalarType::Bool> {
  using type = bool;
};

// dispatch_type(t, [&]<typename T>() { ... }) calls the lambda with T = the C++ type of t.
template <typename F>
cudaError_t dispatch_type(ScalarType t, F&& f) {
  switch (t) {
    case ScalarType::Float32:
      return f.template operator()<float>();
    case ScalarType::Float64:
      return f.template operator()<double>();
    case ScalarType::Int64:
      return f.template operator()<std::int64_t>();
    case ScalarType::Bool:
      return f.template operator()<bool>();
  }
  return cudaErrorInvalidValue;
}

// Division of 32-bit indices below 2^31 by a fixed divisor with a multiply-high and a shift instead of a division
// instruction sequence (the round-up method of Granlund and Montgomery, "Division by invariant integers using
// multiplication", 1994): q = (umulhi(n, magic) + n) >> shift, with 2^shift >= d > 2^(shift-1) and
// magic = floor(2^32 (2^shift - d) / d) + 1, which fits in 32 bits. Exact for n, d < 2^31.
struct FastDivider {
  std::uint32_t divisor = 1, magic = 1, shift = 0;

  FastDivider() = default;
  explicit FastDivider(std::uint32_t d) : divisor(d) {
    while ((std::uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) * ((std::uint64_t{1} << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ std::uint32_t div(std::uint32_t n) const { return (__umulhi(n, magic) + n) >> shift; }
};

// Sizes and element strides of K operands, innermost dim first.
template <int K>
struct StridedIndexer {
  int ndim;
  std::int64_t sizes[kMaxDims];
  FastDivider dividers[kMaxDims];  // set when the index space fits in 31 bits (the 32-bit path)
  std::int64_t strides[K][kMaxDims];

  template <typename IndexT>
  __device__ __forceinline__ void offsets(IndexT linear, std::int64_t (&off)[K]) const {
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == ndim) break;
      IndexT i;
      if constexpr (sizeof(IndexT) == 4) {
        const IndexT q = dividers[d].div(linear);
        i = linear - q * dividers[d].divisor;
        linear = q;
      } else {
        i = linear % sizes[d];
        linear /= sizes[d];
      }
#pragma unroll
      for (int k = 0; k < K; ++k) off[k] += static_cast<std::int64_t>(i) * strides[k][d];
    }
  }
};

// An input of the contiguous kernel: a contiguous array or one broadcast value.
template <typename T>
struct ContigArg {
  const T* p;
  bool scalar;

  template <int N>
  __device__ __forceinline__ Vec<T, N> load(std::int64_t i) const {
    if (scalar) {
      Vec<T, N> v;
      const T s = *p;
#pragma unroll
      for (int j = 0; j < N; ++j) v.v[j] = s;
      return v;
    }
    return *reinterpret_cast<const Vec<T, N>*>(p + i);
  }
  __device__ __forceinline__ T load1(std::int64_t i) const { return scalar ? *p : p[i]; }
};

template <int N, typename Out, typename F, typename... V>
__device__ __forceinline__ void apply_vec(Vec<Out, N>& o, const F& f, const V&... vs) {
#pragma unroll
  for (int j = 0; j < N; ++j) o.v[j] = f(vs.v[j]...);
}

template <int VEC, typename Out, typename F, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    map_contiguous_kernel(std::int64_t n, Out* out, F f, ContigArg<In>... in) {
  const std::int64_t base = (static_cast<std::int64_t>(blockIdx.x) * kBlockSize + threadIdx.x) * VEC;
  if (base + VEC <= n) {
    Vec<Out, VEC> o;
    apply_vec<VEC>(o, f, in.template load<VEC>(base)...);
    *reinterpret_cast<Vec<Out, VEC>*>(out + base) = o;
  } else {
    for (std::int64_t i = base; i < n; ++i) out[i] = f(in.load1(i)...);
  }
}

template <typename Out, typename F, typename... In, std::size_t... Is>
__device__ __forceinline__ void strided_apply(Out* out, const F& f, const std::int64_t* off, std::index_sequence<Is...>,
                                              const In*... in) {
  out[off[0]] = f(in[off[Is + 1]]...);
}

template <typename IndexT, typename Out, typename F, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    map_strided_kernel(IndexT n, StridedIndexer<1 + sizeof...(In)> ix, Out* out, F f, const In*... in) {
  const IndexT i = static_cast<IndexT>(blockIdx.x) * kBlockSize + static_cast<IndexT>(threadIdx.x);
  if (i >= n) return;
  std::int64_t off[1 + sizeof...(In)];
  ix.offsets(i, off);
  strided_apply(out, f, off, std::index_sequence_for<In...>{}, in...);
}

namespace detail {

// Elements per thread in the contiguous kernel: one 16-byte access for the widest operand.
template <typename Out, typename... In>
constexpr int vec_width() {
  std::size_t widest = sizeof(Out);
  ((widest = sizeof(In) > widest ? sizeof(In) : widest), ...);
  return static_cast<int>(16 / widest);
}

inline bool aligned_to(const void* p, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

inline unsigned grid_for(std::int64_t threads) {
  return static_cast<unsigned>((threads + kBlockSize - 1) / kBlockSize);
}

template <int VEC, typename Out, typename... In, typename F, std::size_t... Is>
void launch_contiguous(const ElementwiseArgs& a, const F& f, std::index_sequence<Is...>) {
  map_contiguous_kernel<VEC, Out, F, In...><<<grid_for((a.numel + VEC - 1) / VEC), kBlockSize, 0, a.stream>>>(
      a.numel, static_cast<Out*>(a.data[0]), f,
      ContigArg<In>{static_cast<const In*>(a.data[Is + 1]), a.scalar[Is + 1]}...);
}

template <typename IndexT, typename Out, typename... In, typename F, std::size_t... Is>
void launch_strided(const ElementwiseArgs& a, const F& f, std::index_sequence<Is...>) {
  constexpr int K = 1 + sizeof...(In);
  StridedIndexer<K> ix;
  ix.ndim = a.ndim;
  for (int d = 0; d < kMaxDims; ++d) {
    ix.sizes[d] = a.sizes[d];
    if (sizeof(IndexT) == 4 && d < a.ndim) ix.dividers[d] = FastDivider(static_cast<std::uint32_t>(a.sizes[d]));
    for (int k = 0; k < K; ++k) ix.strides[k][d] = a.strides[k][d];
  }
  map_strided_kernel<IndexT, Out, F, In...><<<grid_for(a.numel), kBlockSize, 0, a.stream>>>(
      static_cast<IndexT>(a.numel), ix, static_cast<Out*>(a.data[0]), f, static_cast<const In*>(a.data[Is + 1])...);
}

}  // namespace detail

// Requires args.num_operands == 1 + sizeof...(In) and Out/In matching the operands' dtypes.
template <typename Out, typename... In, typename F>
cudaError_t map(const ElementwiseArgs& a, const F& f) {
  if (a.numel == 0) return cudaSuccess;
  using Seq = std::index_sequence_for<In...>;
  if (a.contiguous) {
    constexpr int VEC = detail::vec_width<Out, In...>();
    constexpr std::size_t sizes[] = {sizeof(Out), sizeof(In)...};
    bool aligned = true;
    for (int k = 0; k < a.num_operands; ++k)
      if (k == 0 || !a.scalar[k]) aligned = aligned && detail::aligned_to(a.data[k], sizes[k] * VEC);
    if (aligned) {
      detail::launch_contiguous<VEC, Out, In...>(a, f, Seq{});
    } else {
      detail::launch_contiguous<1, Out, In...>(a, f, Seq{});
    }
  } else if (a.numel <= std::numeric_limits<std::int32_t>::max()) {
    detail::launch_strided<std::uint32_t, Out, In...>(a, f, Seq{});
  } else {
    detail::launch_strided<std::int64_t, Out, In...>(a, f, Seq{});
  }
  return cudaGetLastError();
}

}  // namespace trident::cuda
