// CUDA softmax / log_softmax, forward and backward (launch.h; contract: backends/kernels.h, softmax family).
//
// kernels.cpp hands over contiguous tensors seen as [outer, D, inner] around the softmax dim. Two kernels, as on the
// CPU (backends/cpu/softmax.cpp):
//   rows    (inner == 1): one block per row (32 to 512 threads, by D; a grid-stride loop over rows); the threads
//           stride through the row, then combine their max / sum with warp shuffles and a shared-memory step;
//   columns (inner > 1): one thread per (outer, inner) column, looping over the D elements of its column; neighbouring
//           threads read neighbouring columns, so every load of a warp is coalesced.
// The forward is stable (the slice's max is subtracted before exp). NaN semantics match the CPU's: the max skips NaNs
// (a > b ? a : b), and a NaN entry, a +inf entry (inf - inf) or an all -inf slice (-inf - -inf) makes some x - m NaN,
// hence the sum and the whole slice NaN. Sums accumulate in the input type, as on the CPU.
#include <cstdint>
#include <limits>

#include "trident/backends/cuda/loops.cuh"

namespace trident::cuda {
namespace {

__device__ __forceinline__ float dev_exp(float x) { return expf(x); }
__device__ __forceinline__ double dev_exp(double x) { return exp(x); }
__device__ __forceinline__ float dev_log(float x) { return logf(x); }
__device__ __forceinline__ double dev_log(double x) { return log(x); }

struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return b > a ? b : a;
  }
};
struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

constexpr int kWarp = 32;
constexpr int kMaxRowThreads = 512;

// Combines v over the block (blockDim.x a multiple of 32); every thread gets the result. `shared` holds one value
// per warp; the leading __syncthreads lets a block call this several times in a row with the same buffer.
template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T identity, T* shared) {
#pragma unroll
  for (int off = kWarp / 2; off > 0; off /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
  const int warp = static_cast<int>(threadIdx.x) / kWarp, lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warps = static_cast<int>(blockDim.x) / kWarp;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T r = lane < warps ? shared[lane] : identity;
#pragma unroll
  for (int off = kWarp / 2; off > 0; off /= 2) r = op(r, __shfl_xor_sync(0xffffffffu, r, off));
  return r;
}

template <bool kLog, typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t rows, std::int64_t D) {
  __shared__ T shared[kMaxRowThreads / kWarp];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * D;
    T* yr = y + row * D;
    T m = -std::numeric_limits<T>::infinity();
    for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x) m = MaxOp{}(m, xr[i]);
    m = block_reduce(m, MaxOp{}, -std::numeric_limits<T>::infinity(), shared);
    T s = 0;
    for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x) s += dev_exp(xr[i] - m);
    s = block_reduce(s, SumOp{}, T(0), shared);
    if constexpr (kLog) {
      const T c = m + dev_log(s);
      for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x) yr[i] = xr[i] - c;
    } else {
      const T inv = T(1) / s;
      for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x) yr[i] = dev_exp(xr[i] - m) * inv;
    }
  }
}

template <bool kLog, typename T>
__global__ void __launch_bounds__(kBlockSize)
    softmax_columns_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t columns, std::int64_t D,
                           std::int64_t inner) {
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < columns;
       c += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t o = c / inner, k = c % inner;
    const T* xc = x + o * D * inner + k;
    T* yc = y + o * D * inner + k;
    T m = -std::numeric_limits<T>::infinity();
    for (std::int64_t d = 0; d < D; ++d) m = MaxOp{}(m, xc[d * inner]);
    T s = 0;
    for (std::int64_t d = 0; d < D; ++d) s += dev_exp(xc[d * inner] - m);
    if constexpr (kLog) {
      const T lse = m + dev_log(s);
      for (std::int64_t d = 0; d < D; ++d) yc[d * inner] = xc[d * inner] - lse;
    } else {
      const T inv = T(1) / s;
      for (std::int64_t d = 0; d < D; ++d) yc[d * inner] = dev_exp(xc[d * inner] - m) * inv;
    }
  }
}

// Note [Softmax gradient] (ops/softmax.cpp): softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g).
template <bool kLog, typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    softmax_backward_rows_kernel(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ gx,
                                 std::int64_t rows, std::int64_t D) {
  __shared__ T shared[kMaxRowThreads / kWarp];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* gr = g + row * D;
    const T* yr = y + row * D;
    T* out = gx + row * D;
    T s = 0;
    for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x) s += kLog ? gr[i] : gr[i] * yr[i];
    s = block_reduce(s, SumOp{}, T(0), shared);
    for (std::int64_t i = threadIdx.x; i < D; i += blockDim.x)
      out[i] = kLog ? gr[i] - dev_exp(yr[i]) * s : yr[i] * (gr[i] - s);
  }
}

template <bool kLog, typename T>
__global__ void __launch_bounds__(kBlockSize)
    softmax_backward_columns_kernel(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ gx,
                                    std::int64_t columns, std::int64_t D, std::int64_t inner) {
  for (std::int64_t c = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; c < columns;
       c += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t base = (c / inner) * D * inner + c % inner;
    T s = 0;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t i = base + d * inner;
      s += kLog ? g[i] : g[i] * y[i];
    }
    for (std::int64_t d = 0; d < D; ++d) {
      const std::int64_t i = base + d * inner;
      gx[i] = kLog ? g[i] - dev_exp(y[i]) * s : y[i] * (g[i] - s);
    }
  }
}

// Threads per row: the smallest power of two >= D between 32 and 512.
int row_threads(std::int64_t D) {
  int t = kWarp;
  while (t < kMaxRowThreads && t < D) t *= 2;
  return t;
}

unsigned row_grid(const SoftmaxArgs& a) {
  const std::int64_t cap = static_cast<std::int64_t>(a.multiprocessors) * 64;
  return static_cast<unsigned>(a.outer < cap ? a.outer : cap);
}

unsigned column_grid(const SoftmaxArgs& a) {
  const std::int64_t columns = a.outer * a.inner;
  const std::int64_t blocks = (columns + kBlockSize - 1) / kBlockSize;
  const std::int64_t cap = static_cast<std::int64_t>(a.multiprocessors) * 32;
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

template <bool kLog, typename T>
void run_forward(const SoftmaxArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.out);
  if (a.inner == 1) {
    softmax_rows_kernel<kLog, T><<<row_grid(a), row_threads(a.D), 0, a.stream>>>(x, y, a.outer, a.D);
  } else {
    softmax_columns_kernel<kLog, T><<<column_grid(a), kBlockSize, 0, a.stream>>>(x, y, a.outer * a.inner, a.D, a.inner);
  }
}

template <bool kLog, typename T>
void run_backward(const SoftmaxArgs& a) {
  const T* g = static_cast<const T*>(a.g);
  const T* y = static_cast<const T*>(a.y);
  T* gx = static_cast<T*>(a.out);
  if (a.inner == 1) {
    softmax_backward_rows_kernel<kLog, T><<<row_grid(a), row_threads(a.D), 0, a.stream>>>(g, y, gx, a.outer, a.D);
  } else {
    softmax_backward_columns_kernel<kLog, T>
        <<<column_grid(a), kBlockSize, 0, a.stream>>>(g, y, gx, a.outer * a.inner, a.D, a.inner);
  }
}

}  // namespace

cudaError_t launch_softmax(const SoftmaxArgs& a) {
  if (a.outer * a.D * a.inner == 0) return cudaSuccess;
  if (a.dtype == ScalarType::Float32) {
    a.log ? run_forward<true, float>(a) : run_forward<false, float>(a);
  } else if (a.dtype == ScalarType::Float64) {
    a.log ? run_forward<true, double>(a) : run_forward<false, double>(a);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t launch_softmax_backward(const SoftmaxArgs& a) {
  if (a.outer * a.D * a.inner == 0) return cudaSuccess;
  if (a.dtype == ScalarType::Float32) {
    a.log ? run_backward<true, float>(a) : run_backward<false, float>(a);
  } else if (a.dtype == ScalarType::Float64) {
    a.log ? run_backward<true, double>(a) : run_backward<false, double>(a);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace trident::cuda
