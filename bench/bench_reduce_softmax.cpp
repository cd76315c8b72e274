// Benchmarks of the reduction and softmax kernels, to compare side by side with PyTorch (compare_reduce_softmax.py
// times the same operations with torch.set_num_threads(2)).
//
//   ./bench_reduce_softmax --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "trident/trident.h"

namespace {

using namespace trident;

// N(0, 1) float32 values (built here so that the benchmark needs only the ops it measures).
Tensor randn(const Shape& shape, bool requires_grad = false) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& e : v) e = normal(rng);
  Tensor t = tensor(v, shape);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

void BM_SumLastDim(benchmark::State& state) {
  const Tensor x = randn({4096, 4096});
  for (auto _ : state) benchmark::DoNotOptimize(x.sum({1}).raw_data());
  state.SetBytesProcessed(state.iterations() * x.numel() * 4);
}
BENCHMARK(BM_SumLastDim)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SumFirstDim(benchmark::State& state) {
  const Tensor x = randn({4096, 4096});
  for (auto _ : state) benchmark::DoNotOptimize(x.sum({0}).raw_data());
  state.SetBytesProcessed(state.iterations() * x.numel() * 4);
}
BENCHMARK(BM_SumFirstDim)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SumAll(benchmark::State& state) {
  const Tensor x = randn({4096, 4096});
  for (auto _ : state) benchmark::DoNotOptimize(x.sum().raw_data());
  state.SetBytesProcessed(state.iterations() * x.numel() * 4);
}
BENCHMARK(BM_SumAll)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MaxLastDim(benchmark::State& state) {
  const Tensor x = randn({4096, 4096});
  for (auto _ : state) benchmark::DoNotOptimize(x.max({1}).raw_data());
  state.SetBytesProcessed(state.iterations() * x.numel() * 4);
}
BENCHMARK(BM_MaxLastDim)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ArgmaxLastDim(benchmark::State& state) {
  const Tensor x = randn({4096, 1000});
  for (auto _ : state) benchmark::DoNotOptimize(x.argmax(1).raw_data());
}
BENCHMARK(BM_ArgmaxLastDim)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Softmax(benchmark::State& state) {
  const Tensor x = randn({4096, 1000});
  for (auto _ : state) benchmark::DoNotOptimize(x.softmax(1).raw_data());
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LogSoftmax(benchmark::State& state) {
  const Tensor x = randn({4096, 1000});
  for (auto _ : state) benchmark::DoNotOptimize(x.log_softmax(1).raw_data());
}
BENCHMARK(BM_LogSoftmax)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SoftmaxDim0(benchmark::State& state) {
  const Tensor x = randn({4096, 1000});
  for (auto _ : state) benchmark::DoNotOptimize(x.softmax(0).raw_data());
}
BENCHMARK(BM_SoftmaxDim0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SoftmaxBackward(benchmark::State& state) {
  const Tensor x = randn({4096, 1000}, true);
  const Tensor g = randn({4096, 1000});
  for (auto _ : state) {
    state.PauseTiming();
    Tensor y = x.softmax(1);
    state.ResumeTiming();
    y.backward(g);
  }
}
BENCHMARK(BM_SoftmaxBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  trident::set_num_threads(2);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
