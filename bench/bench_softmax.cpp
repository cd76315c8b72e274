// Softmax throughput: softmax over the rows of a [4096, 1000] float32 tensor (a batch of classifier logits).
// Built only with -DTRIDENT_BENCH_SOFTMAX=ON, once the softmax op family (ops/softmax.cpp) is part of trident;
// bench/compare_core.sh adds its row to the table when this program exists in the build dir.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "trident/trident.h"

namespace {

void BM_Softmax(benchmark::State& state) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(4096 * 1000);
  for (float& v : values) v = normal(rng);
  const trident::Tensor x = trident::tensor(values, {4096, 1000});
  for (auto _ : state) {
    trident::Tensor y = trident::softmax(x, -1);
    benchmark::DoNotOptimize(y.raw_data());
  }
  // One read of the input, one write of the output.
  state.SetBytesProcessed(state.iterations() * 2 * 4096 * 1000 * static_cast<std::int64_t>(sizeof(float)));
}
BENCHMARK(BM_Softmax)->Name("BM_Softmax/F32/4096x1000")->UseRealTime();

}  // namespace
