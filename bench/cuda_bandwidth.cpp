// Memory bandwidth of trident's CUDA kernels on large tensors (256 MiB of float32 per operand).
//
// Elementwise kernels and reductions are limited by memory traffic, so the figure of merit is the bytes each one must
// move (read + written) divided by its time, in GB/s, to compare with the GPU's peak (about 3350 GB/s on an H100
// SXM). bench/cuda_bandwidth_torch.py measures the same operations with PyTorch, the side-by-side anchor.
// Usage: bench_cuda_bandwidth [elements, default 2^26]
//
// Measured on one H100 80GB HBM3 (driver 580), 2^26 elements, against PyTorch 2.11 on the same machine (GB/s):
//   copy 2976 (PyTorch 2942), fill 3204 (3136), neg/exp/sigmoid 2970-2975 (2926-2935), add 3028 (2978),
//   add scalar 2968 (2928), lt -> bool 3062 (3001), where 3033 (2991), float32 -> float64 2927 (2506),
//   transpose copy 975 (971), broadcast add [8192,8192] + [8192,1] 2106 (2366), sum over dim 1 2941 (2738),
//   sum over dim 0 2463 (2666), argmax over dim 1 2155 (2141), full sum 2628 (2801), full max 2596 (2761).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "trident/backends/kernels.h"
#include "trident/trident.h"

using namespace trident;
using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;

namespace {

// Mean milliseconds per call over `iters` calls, after two warm-up calls.
double time_ms(const std::function<void()>& f, int iters = 20) {
  f();
  f();
  cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) f();
  cuda::synchronize();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count() / iters;
}

void report(const char* name, double bytes, const std::function<void()>& f, int iters = 20) {
  const double ms = time_ms(f, iters);
  std::printf("%-44s %9.3f ms %9.1f GB/s\n", name, ms, bytes / (ms * 1e-3) / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_is_available()) {
    std::printf("no CUDA device (built with TRIDENT_CUDA=%s)\n", cuda_is_built() ? "ON" : "OFF");
    return 0;
  }
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : (std::int64_t{1} << 26);
  const std::int64_t side = 8192;  // n as a square matrix when n == 2^26
  const Device dev = Device::cuda(0);
  const double f4 = 4.0 * static_cast<double>(n);  // bytes of one float32 operand

  Tensor a = full({n}, 1.5, {.device = dev});
  Tensor b = full({n}, 0.25, {.device = dev});
  Tensor out = empty({n}, {.device = dev});
  Tensor out_bool = empty({n}, {.dtype = kBool, .device = dev});
  Tensor out_f64 = empty({n}, {.dtype = kFloat64, .device = dev});
  Tensor scalar = full({}, 3.0, {.device = dev});
  std::printf("trident CUDA bandwidth, %lld float32 elements (%.0f MiB per operand)\n", static_cast<long long>(n),
              f4 / (1 << 20));

  report("copy float32 (cudaMemcpyAsync)", 2 * f4, [&] { kernels::copy(dev, a, out); });
  report("fill float32", f4, [&] { kernels::fill(dev, out, 2.0); });
  report("unary neg float32", 2 * f4, [&] { kernels::unary(dev, UnaryOp::Neg, a, out, 0, 0); });
  report("unary exp float32", 2 * f4, [&] { kernels::unary(dev, UnaryOp::Exp, a, out, 0, 0); });
  report("unary sigmoid float32", 2 * f4, [&] { kernels::unary(dev, UnaryOp::Sigmoid, a, out, 0, 0); });
  report("binary add float32", 3 * f4, [&] { kernels::binary(dev, BinaryOp::Add, a, b, out); });
  report("binary add tensor + scalar float32", 2 * f4,
         [&] { kernels::binary(dev, BinaryOp::Add, a, scalar.expand({n}), out); });
  report("binary lt float32 -> bool", 2 * f4 + f4 / 4, [&] { kernels::binary(dev, BinaryOp::Lt, a, b, out_bool); });
  report("where float32", 3 * f4 + f4 / 4, [&] { kernels::where(dev, out_bool, a, b, out); });
  report("convert float32 -> float64", 3 * f4, [&] { kernels::copy(dev, a, out_f64); });
  report("ops: a + b (allocating the output)", 3 * f4, [&] { (void)(a + b); });
  if (n == side * side) {
    const Tensor m = a.view({side, side});
    const Tensor col = full({side, 1}, 2.0, {.device = dev});
    report("strided copy: transpose 8192x8192", 2 * f4, [&] { kernels::copy(dev, m.t(), out.view({side, side})); });
    report("broadcast add [8192,8192] + [8192,1]", 2 * f4, [&] {
      kernels::binary(dev, BinaryOp::Add, m, col.expand({side, side}), out.view({side, side}));
    });
    Tensor rows = empty({side, 1}, {.device = dev}), cols = empty({1, side}, {.device = dev});
    Tensor rows_i = empty({side, 1}, {.dtype = kInt64, .device = dev});
    report("sum over dim 1 of [8192,8192]", f4, [&] { kernels::reduce(dev, ReduceOp::Sum, m, rows); });
    report("sum over dim 0 of [8192,8192]", f4, [&] { kernels::reduce(dev, ReduceOp::Sum, m, cols); });
    report("argmax over dim 1 of [8192,8192]", f4, [&] { kernels::reduce(dev, ReduceOp::ArgMax, m, rows_i); });
  }
  Tensor total = empty({1}, {.device = dev});
  report("sum of everything float32", f4, [&] { kernels::reduce(dev, ReduceOp::Sum, a, total); });
  report("max of everything float32", f4, [&] { kernels::reduce(dev, ReduceOp::Max, a, total); });
  const Tensor host = a.cpu();
  report(
      "to(cuda) from pageable host memory", f4, [&] { (void)host.to(dev); }, 5);
  report(
      "to(cpu) into pageable host memory", f4, [&] { (void)a.cpu(); }, 5);
  const cuda::MemoryStats s = cuda::memory_stats();
  std::printf("allocator: %lld cudaMalloc calls, %lld cache hits, peak %.0f MiB held by tensors\n",
              static_cast<long long>(s.num_device_mallocs), static_cast<long long>(s.num_cache_hits),
              static_cast<double>(s.peak_allocated_bytes) / (1 << 20));
  return 0;
}
