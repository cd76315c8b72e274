// CUDA reduction kernel: sum, max, min, argmax, argmin (launch.h; contract: backends/kernels.h, reduce).
//
// Note [CUDA reduction layout]
// kernels.cpp splits the input's dims into kept dims (one output each) and reduced dims, merging contiguous runs. A
// block of 256 threads serves `outputs_per_block` outputs with `threads_per_output` threads each. Which threads are
// neighbours decides which loads coalesce:
//   reduce_fast: neighbouring threads walk neighbouring reduced elements of one output (the reduced dims are the
//                innermost in memory, e.g. a sum over the last dim or a full reduction);
//   otherwise:   neighbouring threads serve neighbouring outputs (the kept dims are innermost, e.g. a sum over the
//                batch dim of [N, D]) and the threads of one output split the reduced range between them.
// Each thread folds its elements into an accumulator (16-byte vector loads when an output's reduced elements are
// contiguous), then the threads of one output combine in a tree in shared memory. When there are too few outputs to
// fill the GPU, the reduced range is also cut into `splits` pieces (grid.y); each piece writes a partial accumulator
// and a second kernel combines the pieces of each output. Accumulators: sum of float32/float64 in float64 (float32
// input therefore loses nothing to the summation order), of int64/bool in int64; max/min in the input type, NaN
// winning; argmax/argmin carry (value, index) and prefer NaN, then the better value, then the smaller index -- so the
// tree's order cannot change which tied index wins.
#include <cstdint>
#include <limits>
#include <type_traits>

#include "trident/backends/cuda/loops.cuh"

namespace trident::cuda {
namespace {

struct ReduceIndexer {
  int ndim;
  std::int64_t sizes[kMaxDims];
  std::int64_t strides[kMaxDims];

  __device__ __forceinline__ std::int64_t offset(std::int64_t linear) const {
    std::int64_t off = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == ndim) break;
      off += (linear % sizes[d]) * strides[d];
      linear /= sizes[d];
    }
    return off;
  }
};

struct ReduceParams {
  std::int64_t n_out, n_red;
  ReduceIndexer kept, red;
  bool reduce_fast;
  int outputs_per_block, threads_per_output;
  std::int64_t splits, per_split;
};

template <typename T>
struct SumOp {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc load(T v, std::int64_t) const { return static_cast<Acc>(v); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  template <typename O>
  __device__ O project(Acc a) const {
    return static_cast<O>(a);
  }
};

template <typename T, bool kMax>
struct MinMaxOp {
  using Acc = T;
  __device__ Acc identity() const {
    if constexpr (std::is_floating_point_v<T>) {
      return kMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    } else {
      return kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    }
  }
  __device__ Acc load(T v, std::int64_t) const { return v; }
  // NaN propagates: once a is NaN it stays; a NaN b is taken because no comparison with it is true.
  __device__ Acc combine(Acc a, Acc b) const {
    if constexpr (kMax) {
      return (a != a || a > b) ? a : b;
    } else {
      return (a != a || a < b) ? a : b;
    }
  }
  template <typename O>
  __device__ O project(Acc a) const {
    return static_cast<O>(a);
  }
};

template <typename T>
struct ArgAcc {
  T value;
  std::int64_t index;  // -1: no element yet
};

template <typename T, bool kMax>
struct ArgOp {
  using Acc = ArgAcc<T>;
  __device__ Acc identity() const { return Acc{T(), -1}; }
  __device__ Acc load(T v, std::int64_t r) const { return Acc{v, r}; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.index < b.index ? a : b;
      return a_nan ? a : b;  // the first NaN is the arg
    }
    if (kMax ? a.value > b.value : a.value < b.value) return a;
    if (kMax ? b.value > a.value : b.value < a.value) return b;
    return a.index < b.index ? a : b;  // ties: the first index
  }
  template <typename O>
  __device__ O project(Acc a) const {
    return static_cast<O>(a.index);
  }
};

template <typename Op, typename T, typename O>
__global__ void __launch_bounds__(kBlockSize)
    reduce_kernel(const T* in, O* out, typename Op::Acc* partial, ReduceParams p, Op op) {
  using Acc = typename Op::Acc;
  __shared__ Acc smem[kBlockSize];
  const int t = static_cast<int>(threadIdx.x);
  const int tpo = p.threads_per_output;
  const int t_red = p.reduce_fast ? t % tpo : t / p.outputs_per_block;
  const int t_out = p.reduce_fast ? t / tpo : t % p.outputs_per_block;
  const std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * p.outputs_per_block + t_out;
  const std::int64_t r_begin = static_cast<std::int64_t>(blockIdx.y) * p.per_split;
  const std::int64_t r_end = r_begin + p.per_split < p.n_red ? r_begin + p.per_split : p.n_red;

  Acc acc = op.identity();
  if (o < p.n_out) {
    const T* base = in + p.kept.offset(o);
    if (p.reduce_fast && p.red.ndim == 1 && p.red.strides[0] == 1) {
      // Each output's reduced elements are one contiguous run: 16-byte vector loads (four float4 in flight per
      // thread), with the few elements before the first aligned address and after the last vector done singly.
      constexpr int V = 16 / sizeof(T) > 0 ? static_cast<int>(16 / sizeof(T)) : 1;
      const T* seg = base + r_begin;
      const std::int64_t len = r_end - r_begin;
      const auto misalign = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(seg) % 16);
      std::int64_t head = misalign == 0 ? 0 : (16 - misalign) / static_cast<std::int64_t>(sizeof(T));
      if (head > len) head = len;
      for (std::int64_t i = t_red; i < head; i += tpo) acc = op.combine(acc, op.load(seg[i], r_begin + i));
      const std::int64_t n_vec = (len - head) / V;
      const Vec<T, V>* vp = reinterpret_cast<const Vec<T, V>*>(seg + head);
      const std::int64_t r_vec = r_begin + head;  // reduced index of vp[0].v[0]
      auto fold = [&](const Vec<T, V>& x, std::int64_t v) {
#pragma unroll
        for (int j = 0; j < V; ++j) acc = op.combine(acc, op.load(x.v[j], r_vec + v * V + j));
      };
      std::int64_t v = t_red;
      for (; v + 3 * tpo < n_vec; v += 4 * tpo) {
        const Vec<T, V> x0 = vp[v], x1 = vp[v + tpo], x2 = vp[v + 2 * tpo], x3 = vp[v + 3 * tpo];
        fold(x0, v);
        fold(x1, v + tpo);
        fold(x2, v + 2 * tpo);
        fold(x3, v + 3 * tpo);
      }
      for (; v < n_vec; v += tpo) fold(vp[v], v);
      const std::int64_t tail = head + n_vec * V;
      for (std::int64_t i = tail + t_red; i < len; i += tpo) acc = op.combine(acc, op.load(seg[i], r_begin + i));
    } else if (p.red.ndim <= 1) {
      const std::int64_t st = p.red.ndim == 1 ? p.red.strides[0] : 0;
      std::int64_t r = r_begin + t_red;
      // Eight loads in flight before folding them in (in order).
      for (; r + 7 * tpo < r_end; r += 8 * tpo) {
        T x[8];
#pragma unroll
        for (int k = 0; k < 8; ++k) x[k] = base[(r + k * tpo) * st];
#pragma unroll
        for (int k = 0; k < 8; ++k) acc = op.combine(acc, op.load(x[k], r + k * tpo));
      }
      for (; r < r_end; r += tpo) acc = op.combine(acc, op.load(base[r * st], r));
    } else {
      for (std::int64_t r = r_begin + t_red; r < r_end; r += tpo)
        acc = op.combine(acc, op.load(base[p.red.offset(r)], r));
    }
  }
  const int slot = t_out * tpo + t_red;
  smem[slot] = acc;
  __syncthreads();
  for (int s = tpo / 2; s > 0; s >>= 1) {
    if (t_red < s) smem[slot] = op.combine(smem[slot], smem[slot + s]);
    __syncthreads();
  }
  if (t_red == 0 && o < p.n_out) {
    if (p.splits == 1) {
      out[o] = op.template project<O>(smem[slot]);
    } else {
      partial[o * p.splits + blockIdx.y] = smem[slot];
    }
  }
}

// One block per output: combine its `splits` partial accumulators.
template <typename Op, typename O>
__global__ void __launch_bounds__(kBlockSize)
    combine_partials_kernel(const typename Op::Acc* partial, O* out, std::int64_t splits, Op op) {
  using Acc = typename Op::Acc;
  __shared__ Acc smem[kBlockSize];
  const std::int64_t o = blockIdx.x;
  const int t = static_cast<int>(threadIdx.x);
  Acc acc = op.identity();
  for (std::int64_t s = t; s < splits; s += kBlockSize) acc = op.combine(acc, partial[o * splits + s]);
  smem[t] = acc;
  __syncthreads();
  for (int s = kBlockSize / 2; s > 0; s >>= 1) {
    if (t < s) smem[t] = op.combine(smem[t], smem[t + s]);
    __syncthreads();
  }
  if (t == 0) out[o] = op.template project<O>(smem[0]);
}

std::int64_t next_pow2(std::int64_t n) {
  std::int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

ReducePlan make_plan(const ReduceArgs& a, std::size_t acc_bytes) {
  ReducePlan plan;
  plan.valid = true;
  const std::int64_t inf = std::numeric_limits<std::int64_t>::max();
  const std::int64_t red_inner = a.red_ndim > 0 ? a.red_strides[0] : inf;
  const std::int64_t kept_inner = a.kept_ndim > 0 ? a.kept_strides[0] : inf;
  plan.reduce_fast = a.n_red > 1 && red_inner < kept_inner;
  if (plan.reduce_fast) {
    plan.threads_per_output = static_cast<int>(next_pow2(a.n_red < kBlockSize ? a.n_red : kBlockSize));
    plan.outputs_per_block = kBlockSize / plan.threads_per_output;
  } else {
    plan.outputs_per_block = static_cast<int>(next_pow2(a.n_out < kBlockSize ? a.n_out : kBlockSize));
    plan.threads_per_output = kBlockSize / plan.outputs_per_block;
  }
  const std::int64_t blocks = (a.n_out + plan.outputs_per_block - 1) / plan.outputs_per_block;
  const std::int64_t target_blocks = static_cast<std::int64_t>(a.multiprocessors) * 8;  // two full waves
  const std::int64_t min_per_thread = 16;
  const std::int64_t max_splits =
      (a.n_red + plan.threads_per_output * min_per_thread - 1) / (plan.threads_per_output * min_per_thread);
  std::int64_t splits = 1;
  if (blocks < target_blocks) splits = (target_blocks + blocks - 1) / blocks;
  if (splits > max_splits) splits = max_splits;
  if (splits > 65535) splits = 65535;
  if (splits < 1) splits = 1;
  plan.per_split = (a.n_red + splits - 1) / splits;
  plan.splits = (a.n_red + plan.per_split - 1) / plan.per_split;
  plan.workspace_bytes = plan.splits > 1 ? static_cast<std::size_t>(a.n_out * plan.splits) * acc_bytes : 0;
  return plan;
}

template <typename Op, typename T, typename O>
cudaError_t run(const ReduceArgs& a, const ReducePlan& plan, void* workspace) {
  ReduceParams p;
  p.n_out = a.n_out;
  p.n_red = a.n_red;
  p.kept.ndim = a.kept_ndim;
  p.red.ndim = a.red_ndim;
  for (int d = 0; d < kMaxDims; ++d) {
    p.kept.sizes[d] = a.kept_sizes[d];
    p.kept.strides[d] = a.kept_strides[d];
    p.red.sizes[d] = a.red_sizes[d];
    p.red.strides[d] = a.red_strides[d];
  }
  p.reduce_fast = plan.reduce_fast;
  p.outputs_per_block = plan.outputs_per_block;
  p.threads_per_output = plan.threads_per_output;
  p.splits = plan.splits;
  p.per_split = plan.per_split;
  using Acc = typename Op::Acc;
  Acc* partial = static_cast<Acc*>(workspace);
  const dim3 grid(static_cast<unsigned>((a.n_out + plan.outputs_per_block - 1) / plan.outputs_per_block),
                  static_cast<unsigned>(plan.splits));
  reduce_kernel<Op, T, O>
      <<<grid, kBlockSize, 0, a.stream>>>(static_cast<const T*>(a.in), static_cast<O*>(a.out), partial, p, Op{});
  if (plan.splits > 1) {
    combine_partials_kernel<Op, O><<<static_cast<unsigned>(a.n_out), kBlockSize, 0, a.stream>>>(
        partial, static_cast<O*>(a.out), plan.splits, Op{});
  }
  return cudaGetLastError();
}

template <bool kMax, typename F>
bool dispatch_min_max(ScalarType in, F& f) {
  switch (in) {
    case ScalarType::Float32:
      f.template operator()<MinMaxOp<float, kMax>, float, float>();
      return true;
    case ScalarType::Float64:
      f.template operator()<MinMaxOp<double, kMax>, double, double>();
      return true;
    case ScalarType::Int64:
      f.template operator()<MinMaxOp<std::int64_t, kMax>, std::int64_t, std::int64_t>();
      return true;
    case ScalarType::Bool:
      break;
  }
  return false;
}

template <bool kMax, typename F>
bool dispatch_arg(ScalarType in, F& f) {
  using I = std::int64_t;
  switch (in) {
    case ScalarType::Float32:
      f.template operator()<ArgOp<float, kMax>, float, I>();
      return true;
    case ScalarType::Float64:
      f.template operator()<ArgOp<double, kMax>, double, I>();
      return true;
    case ScalarType::Int64:
      f.template operator()<ArgOp<I, kMax>, I, I>();
      return true;
    case ScalarType::Bool:
      f.template operator()<ArgOp<bool, kMax>, bool, I>();
      return true;
  }
  return false;
}

// Calls f.template operator()<Op, T, O>() for the supported combinations of op, input and output dtype: sum, max
// and min keep the dtype (sum of bool gives int64), argmax/argmin give int64. Returns false for any other.
template <typename F>
bool dispatch_reduce(ReduceKind op, ScalarType in, ScalarType out, F&& f) {
  using I = std::int64_t;
  switch (op) {
    case ReduceKind::Sum:
      switch (in) {
        case ScalarType::Float32:
          if (out != in) return false;
          f.template operator()<SumOp<float>, float, float>();
          return true;
        case ScalarType::Float64:
          if (out != in) return false;
          f.template operator()<SumOp<double>, double, double>();
          return true;
        case ScalarType::Int64:
          if (out != in) return false;
          f.template operator()<SumOp<I>, I, I>();
          return true;
        case ScalarType::Bool:
          if (out != ScalarType::Int64) return false;
          f.template operator()<SumOp<bool>, bool, I>();
          return true;
      }
      return false;
    case ReduceKind::Max:
      return out == in && dispatch_min_max<true>(in, f);
    case ReduceKind::Min:
      return out == in && dispatch_min_max<false>(in, f);
    case ReduceKind::ArgMax:
      return out == ScalarType::Int64 && dispatch_arg<true>(in, f);
    case ReduceKind::ArgMin:
      return out == ScalarType::Int64 && dispatch_arg<false>(in, f);
  }
  return false;
}

}  // namespace

ReducePlan plan_reduce(ReduceKind op, const ReduceArgs& a) {
  ReducePlan plan;
  dispatch_reduce(op, a.in_dtype, a.out_dtype,
                  [&]<typename Op, typename T, typename O>() { plan = make_plan(a, sizeof(typename Op::Acc)); });
  return plan;
}

cudaError_t launch_reduce(ReduceKind op, const ReduceArgs& a, const ReducePlan& plan, void* workspace) {
  cudaError_t status = cudaErrorInvalidValue;
  dispatch_reduce(op, a.in_dtype, a.out_dtype,
                  [&]<typename Op, typename T, typename O>() { status = run<Op, T, O>(a, plan, workspace); });
  return status;
}

}  // namespace trident::cuda
