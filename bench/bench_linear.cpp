// The fully connected layer's forward, float32: how trident::linear (one matmul into the output, then an in-place
// broadcast add of the bias) compares with the unfused composition and with oneDNN's own fused primitives.
//   BM_Linear            trident::linear(x, W, b): the op nn::Linear runs
//   BM_MatmulAdd         matmul(x, W.t()) + b: two ops, two outputs (what linear replaces)
//   BM_OneDnnMatmulBias  oneDNN's matmul primitive with its bias argument (W read transposed in place), created once
//   BM_OneDnnInnerProduct oneDNN's inner_product forward with bias, plain nc / oi layouts, created once
//   BM_LinearBackward    forward + backward of trident::linear (dL/dx, dL/dW, dL/db)
// Shapes {N, in, out}: the MNIST MLP's layers at batch 128 (784 -> 256, 256 -> 10), a CNN head (1600 -> 128) and a
// larger square layer.
#include <benchmark/benchmark.h>

#include <dnnl.hpp>
#include <random>
#include <vector>

#include "trident/trident.h"

namespace {

using trident::Tensor;

Tensor random_tensor(const trident::Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<std::size_t>(trident::shape_numel(shape)));
  for (float& v : values) v = normal(rng);
  return trident::tensor(values, shape);
}

struct Layer {
  Tensor x, w, b;
  explicit Layer(const benchmark::State& state)
      : x(random_tensor({state.range(0), state.range(1)}, 1)),
        w(random_tensor({state.range(2), state.range(1)}, 2)),
        b(random_tensor({state.range(2)}, 3)) {}
};

void set_flops(benchmark::State& state, double factor = 1.0) {
  const double flops = 2.0 * static_cast<double>(state.range(0)) * static_cast<double>(state.range(1)) *
                       static_cast<double>(state.range(2)) * factor;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Linear(benchmark::State& state) {
  const Layer l(state);
  for (auto _ : state) {
    Tensor y = trident::linear(l.x, l.w, l.b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state);
}

void BM_MatmulAdd(benchmark::State& state) {
  const Layer l(state);
  for (auto _ : state) {
    Tensor y = trident::matmul(l.x, l.w.t()) + l.b;
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state);
}

void BM_OneDnnMatmulBias(benchmark::State& state) {
  using dnnl::memory;
  const Layer l(state);
  const memory::dim n = state.range(0), k = state.range(1), m = state.range(2);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc src({n, k}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc weights({k, m}, memory::data_type::f32, memory::format_tag::ba);  // W [m, k] read transposed
  const memory::desc bias({1, m}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc dst({n, m}, memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, bias, dst), engine);
  const dnnl::matmul primitive(pd);
  Tensor y = trident::empty({n, m});
  memory x_mem(src, engine, l.x.raw_data()), w_mem(weights, engine, l.w.raw_data()),
      b_mem(bias, engine, l.b.raw_data()), y_mem(dst, engine, y.raw_data());
  for (auto _ : state) {
    primitive.execute(
        stream, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}});
    stream.wait();
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state);
  state.SetLabel(pd.impl_info_str());
}

void BM_OneDnnInnerProduct(benchmark::State& state) {
  using dnnl::memory;
  const Layer l(state);
  const memory::dim n = state.range(0), k = state.range(1), m = state.range(2);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc src({n, k}, memory::data_type::f32, memory::format_tag::nc);
  const memory::desc weights({m, k}, memory::data_type::f32, memory::format_tag::oi);
  const memory::desc bias({m}, memory::data_type::f32, memory::format_tag::x);
  const memory::desc dst({n, m}, memory::data_type::f32, memory::format_tag::nc);
  const dnnl::inner_product_forward::primitive_desc pd(
      dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src, weights, bias, dst), engine);
  const dnnl::inner_product_forward primitive(pd);
  Tensor y = trident::empty({n, m});
  memory x_mem(src, engine, l.x.raw_data()), w_mem(weights, engine, l.w.raw_data()),
      b_mem(bias, engine, l.b.raw_data()), y_mem(dst, engine, y.raw_data());
  for (auto _ : state) {
    primitive.execute(
        stream, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}});
    stream.wait();
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_flops(state);
  state.SetLabel(pd.impl_info_str());
}

void BM_LinearBackward(benchmark::State& state) {
  const Layer l(state);
  Tensor x = l.x.detach(), w = l.w.detach(), b = l.b.detach();
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  const Tensor g = random_tensor({state.range(0), state.range(2)}, 4);
  for (auto _ : state) {
    trident::linear(x, w, b).backward(g);
    benchmark::DoNotOptimize(w.grad().raw_data());
  }
  set_flops(state, 3.0);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({128, 784, 256})->Args({128, 256, 10})->Args({128, 1600, 128})->Args({512, 1024, 1024});
  b->ArgNames({"N", "in", "out"})->UseRealTime();
}

BENCHMARK(BM_Linear)->Apply(shapes);
BENCHMARK(BM_MatmulAdd)->Apply(shapes);
BENCHMARK(BM_OneDnnMatmulBias)->Apply(shapes);
BENCHMARK(BM_OneDnnInnerProduct)->Apply(shapes);
BENCHMARK(BM_LinearBackward)->Apply(shapes);

}  // namespace
