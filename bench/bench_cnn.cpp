// The CNN kernels on the shapes of the MNIST CNN (batch 128), forward + backward through trident's ops and
// autograd, wall-clock time (UseRealTime: the work runs on an OpenMP team). Run with OMP_NUM_THREADS=2 to compare
// with bench/torch_cnn.py (same shapes and steps; OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_cnn.py).
//
//   BM_Conv1/<layout>      conv 1 -> 32, 3x3 on [128, 1, 28, 28]: forward, backward-weights (+ bias); no input
//                          gradient (the first layer's input is data), as in training
//   BM_Conv2/<layout>      conv 32 -> 64, 3x3 on [128, 32, 26, 26]: forward, backward-data, backward-weights
//                          <layout>: Plain (oneDNN on NCHW / OIHW directly) or Preferred (format_tag::any and
//                          reorders): Note [Convolution layouts] in backends/cpu/conv.cpp
//   BM_ConvCall/Hit        a tiny conv forward ([1, 1, 4, 4] * [1, 1, 1, 1]) whose primitives are cached: the
//                          per-call cost of the op, the cache lookup and oneDNN's execute
//   BM_ConvCall/Create     the same call after clearing the cache: + creating the forward primitive
//   BM_ConvCallMnist2/...  conv2's shapes at N = 1, forward + both backwards through the kernels, cached or created
//   BM_BatchNorm/<impl>/.. batch_norm training forward + backward on [128, 32, 26, 26] and [128, 128]:
//                          Loops (own) or OneDnn (Note [Batch norm implementations] in backends/cpu/norm.cpp)
//   BM_MaxPool             max_pool2d 2x2 on [128, 64, 24, 24], forward + backward
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "trident/backends/cpu/conv.h"
#include "trident/backends/cpu/norm.h"
#include "trident/backends/kernels.h"
#include "trident/ops/conv.h"
#include "trident/ops/norm.h"
#include "trident/ops/pool.h"
#include "trident/trident.h"

namespace {

using namespace trident;

Tensor random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
  for (float& v : values) v = normal(rng);
  return tensor(values, shape);
}

// conv forward + backward through autograd; input_grad: whether x needs a gradient.
void run_conv(benchmark::State& state, cpu::ConvLayout layout, const Shape& xs, const Shape& ws, bool input_grad) {
  const cpu::ConvLayout previous = cpu::conv_layout();
  cpu::set_conv_layout(layout);
  Tensor x = random_tensor(xs, 1).set_requires_grad(input_grad);
  Tensor w = random_tensor(ws, 2).set_requires_grad(true);
  Tensor b = random_tensor({ws[0]}, 3).set_requires_grad(true);
  const Tensor probe = conv2d(x.detach(), w.detach(), b.detach());
  const Tensor g = random_tensor(probe.sizes(), 4);
  for (auto _ : state) {
    Tensor y = conv2d(x, w, b);
    y.backward(g);
    benchmark::DoNotOptimize(w.grad().raw_data());
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    if (input_grad) x.set_grad(Tensor());
  }
  cpu::set_conv_layout(previous);
}

void BM_Conv1(benchmark::State& state, cpu::ConvLayout layout) {
  run_conv(state, layout, {128, 1, 28, 28}, {32, 1, 3, 3}, false);
}
void BM_Conv2(benchmark::State& state, cpu::ConvLayout layout) {
  run_conv(state, layout, {128, 32, 26, 26}, {64, 32, 3, 3}, true);
}
BENCHMARK_CAPTURE(BM_Conv1, Plain, cpu::ConvLayout::Plain)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv1, Preferred, cpu::ConvLayout::Preferred)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv2, Plain, cpu::ConvLayout::Plain)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv2, Preferred, cpu::ConvLayout::Preferred)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ConvCall(benchmark::State& state, bool create) {
  const Tensor x = random_tensor({1, 1, 4, 4}, 1), w = random_tensor({1, 1, 1, 1}, 2);
  Tensor out = empty({1, 1, 4, 4});
  const kernels::Conv2dParams p{};
  for (auto _ : state) {
    if (create) cpu::clear_conv_cache();
    kernels::conv2d_forward(kCPU, x, w, Tensor(), out, p);
    benchmark::DoNotOptimize(out.raw_data());
  }
}
BENCHMARK_CAPTURE(BM_ConvCall, Hit, false)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ConvCall, Create, true)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ConvCallMnist2(benchmark::State& state, bool create) {
  const Tensor x = random_tensor({1, 32, 26, 26}, 1), w = random_tensor({64, 32, 3, 3}, 2), b = random_tensor({64}, 3);
  Tensor out = empty({1, 64, 24, 24}), gx = empty(x.sizes()), gw = empty(w.sizes()), gb = empty({64});
  const kernels::Conv2dParams p{};
  for (auto _ : state) {
    if (create) cpu::clear_conv_cache();
    kernels::conv2d_forward(kCPU, x, w, b, out, p);
    kernels::conv2d_backward_data(kCPU, out, w, gx, p);
    kernels::conv2d_backward_weight(kCPU, out, x, gw, gb, p);
    benchmark::DoNotOptimize(gw.raw_data());
  }
}
BENCHMARK_CAPTURE(BM_ConvCallMnist2, Hit, false)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ConvCallMnist2, Create, true)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_BatchNorm(benchmark::State& state, cpu::BatchNormImpl impl, Shape shape) {
  const cpu::BatchNormImpl previous = cpu::batch_norm_impl();
  cpu::set_batch_norm_impl(impl);
  const std::int64_t C = shape[1];
  Tensor x = random_tensor(shape, 1).set_requires_grad(true);
  Tensor w = ones({C}).set_requires_grad(true), b = zeros({C}).set_requires_grad(true);
  Tensor rm = zeros({C}), rv = ones({C});
  const Tensor g = random_tensor(shape, 2);
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, true);
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    b.set_grad(Tensor());
  }
  cpu::set_batch_norm_impl(previous);
}
BENCHMARK_CAPTURE(BM_BatchNorm, Loops_128x32x26x26, cpu::BatchNormImpl::Loops, Shape{128, 32, 26, 26})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BatchNorm, OneDnn_128x32x26x26, cpu::BatchNormImpl::OneDnn, Shape{128, 32, 26, 26})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BatchNorm, Loops_128x128, cpu::BatchNormImpl::Loops, Shape{128, 128})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_BatchNorm, OneDnn_128x128, cpu::BatchNormImpl::OneDnn, Shape{128, 128})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_MaxPool(benchmark::State& state) {
  Tensor x = random_tensor({128, 64, 24, 24}, 1).set_requires_grad(true);
  const Tensor g = random_tensor({128, 64, 12, 12}, 2);
  for (auto _ : state) {
    Tensor y = max_pool2d(x, {.kernel = {2, 2}});
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.set_grad(Tensor());
  }
}
BENCHMARK(BM_MaxPool)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
