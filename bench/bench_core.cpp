// Throughput of the core engine: matmul, elementwise arithmetic and a reduction, through trident's public API.
//
// Every benchmark uses wall-clock time (UseRealTime): the work runs on an OpenMP team, so the CPU time of the
// calling thread says little. Run with OMP_NUM_THREADS set to the thread count to compare at;
// bench/compare_core.sh runs this program and PyTorch side by side and prints the table.
//
//   BM_Matmul/F32/n        [n, n] @ [n, n] float32, counter GFLOP/s = 2 n^3 / time
//   BM_Matmul/F64/n        the same in float64 (trident's own blocked loop; oneDNN has no f64 matmul)
//   BM_OneDnnMatmul/F32/n  oneDNN's matmul primitive called directly (created once, executed in the loop): the
//                          ceiling trident's float32 matmul can reach
//   BM_Matmul/F32Tiny/8 and BM_OneDnnMatmul/F32Tiny/8: an 8 x 8 product, where the time is almost all overhead;
//                          their difference is what trident adds per call (op checks, output allocation, the
//                          primitive cache hit, building the memory handles)
//   BM_Add, BM_Mul         two 16M-element float32 tensors, out of place
//   BM_SumLastDim          sum over the last dim of a [4096, 4096] float32 tensor
#include <benchmark/benchmark.h>

#include <dnnl.hpp>
#include <random>
#include <vector>

#include "trident/trident.h"

namespace {

using trident::Tensor;

// A tensor of N(0, 1) values (fixed seed), so that no benchmark times denormals or special values.
Tensor random_tensor(const trident::Shape& shape, unsigned seed, trident::DType dtype = trident::kFloat32) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<std::size_t>(trident::shape_numel(shape)));
  for (float& v : values) v = normal(rng);
  return trident::tensor(values, shape).to(dtype);
}

void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Matmul(benchmark::State& state, trident::DType dtype) {
  const std::int64_t n = state.range(0);
  const Tensor a = random_tensor({n, n}, 1, dtype), b = random_tensor({n, n}, 2, dtype);
  for (auto _ : state) {
    Tensor c = trident::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
}
BENCHMARK_CAPTURE(BM_Matmul, F32, trident::kFloat32)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, F64, trident::kFloat64)->Arg(256)->Arg(1024)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, F32Tiny, trident::kFloat32)->Arg(8)->UseRealTime();

// oneDNN alone: the same float32 product with a primitive built once, outside the timed loop.
void BM_OneDnnMatmul(benchmark::State& state) {
  const dnnl::memory::dim n = state.range(0);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc md({n, n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(md, md, md), engine);
  const dnnl::matmul primitive(pd);
  const Tensor a = random_tensor({n, n}, 1), b = random_tensor({n, n}, 2);
  Tensor c = trident::empty({n, n});
  dnnl::memory a_mem(md, engine, a.raw_data()), b_mem(md, engine, b.raw_data()), c_mem(md, engine, c.raw_data());
  for (auto _ : state) {
    primitive.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n));
  state.SetLabel(pd.impl_info_str());
}
BENCHMARK(BM_OneDnnMatmul)->Name("BM_OneDnnMatmul/F32")->Arg(1024)->UseRealTime();
BENCHMARK(BM_OneDnnMatmul)->Name("BM_OneDnnMatmul/F32Tiny")->Arg(8)->UseRealTime();

constexpr std::int64_t kElementwiseSize = 16 * 1024 * 1024;

template <typename Op>
void elementwise_benchmark(benchmark::State& state, Op op) {
  const Tensor a = random_tensor({kElementwiseSize}, 1), b = random_tensor({kElementwiseSize}, 2);
  for (auto _ : state) {
    Tensor c = op(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  // Two inputs read, one output written.
  state.SetBytesProcessed(state.iterations() * 3 * kElementwiseSize * static_cast<std::int64_t>(sizeof(float)));
}

void BM_Add(benchmark::State& state) {
  elementwise_benchmark(state, [](const Tensor& a, const Tensor& b) { return trident::add(a, b); });
}
void BM_Mul(benchmark::State& state) {
  elementwise_benchmark(state, [](const Tensor& a, const Tensor& b) { return trident::mul(a, b); });
}
BENCHMARK(BM_Add)->Name("BM_Add/F32/16M")->UseRealTime();
BENCHMARK(BM_Mul)->Name("BM_Mul/F32/16M")->UseRealTime();

void BM_SumLastDim(benchmark::State& state) {
  const Tensor x = random_tensor({4096, 4096}, 3);
  for (auto _ : state) {
    Tensor s = trident::sum(x, {-1});
    benchmark::DoNotOptimize(s.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * 4096 * 4096 * static_cast<std::int64_t>(sizeof(float)));
}
BENCHMARK(BM_SumLastDim)->Name("BM_SumLastDim/F32/4096x4096")->UseRealTime();

}  // namespace
