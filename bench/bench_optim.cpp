// Optimizer updates: the fused one-pass kernels (kernels::sgd_step / adam_step) against the same update composed
// from in-place tensor ops (SGDOptions/AdamOptions .fused = false), on a 4M-element float32 parameter (a mid-sized
// layer; 16 MB per tensor, so every pass goes to memory). Bytes processed count the fused kernel's traffic: SGD with
// momentum reads p, g, buf and writes p, buf (5 x 4 bytes per element); Adam reads p, g, m, v and writes p, m, v (7).
//
//   ./bench_optim --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// PyTorch's side (its single-tensor path, the 1.13 default on CPU): OMP_NUM_THREADS=2 /usr/bin/python3 -c
//   "import torch,time; p=torch.randn(4<<20,requires_grad=True); p.grad=torch.randn(4<<20);
//    o=torch.optim.Adam([p]); o.step(); t=time.time(); [o.step() for _ in range(50)]; print((time.time()-t)/50)"
#include <benchmark/benchmark.h>

#include "trident/optim/adam.h"
#include "trident/optim/sgd.h"
#include "trident/trident.h"

namespace {

using namespace trident;

constexpr std::int64_t kNumel = std::int64_t{4} << 20;

Tensor parameter_with_grad() {
  Tensor p = randn({kNumel}).set_requires_grad(true);
  p.set_grad(randn({kNumel}));
  return p;
}

void BM_SGDMomentum(benchmark::State& state) {
  Tensor p = parameter_with_grad();
  optim::SGD opt({p}, {.lr = 1e-3, .momentum = 0.9, .weight_decay = 1e-4, .fused = state.range(0) == 1});
  opt.step();  // creates the momentum buffer
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(state.iterations() * kNumel * 4 * 5);
  state.SetLabel(state.range(0) == 1 ? "fused" : "composed");
}
BENCHMARK(BM_SGDMomentum)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Adam(benchmark::State& state) {
  Tensor p = parameter_with_grad();
  optim::Adam opt({p}, {.lr = 1e-3, .fused = state.range(0) == 1});
  opt.step();
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(state.iterations() * kNumel * 4 * 7);
  state.SetLabel(state.range(0) == 1 ? "fused" : "composed");
}
BENCHMARK(BM_Adam)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AdamW(benchmark::State& state) {
  Tensor p = parameter_with_grad();
  optim::AdamW opt({p}, {.lr = 1e-3, .fused = state.range(0) == 1});
  opt.step();
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(state.iterations() * kNumel * 4 * 7);
  state.SetLabel(state.range(0) == 1 ? "fused" : "composed");
}
BENCHMARK(BM_AdamW)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
