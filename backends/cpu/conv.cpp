// CPU 2-d convolution: float32 on oneDNN convolution primitives, float64 on the reference loops (gradient checks).
// Contract: backends/kernels.h, section "convolution".
//
// Note [Convolution primitive cache]
// Creating a oneDNN convolution means creating a primitive descriptor (oneDNN walks its implementation list and
// picks one for the shapes and this CPU's ISA) and then the primitive (which may JIT-compile code). Both depend only
// on the shape signature -- every size, stride, padding, dilation, groups, whether there is a bias, the layout
// policy, and the OpenMP thread count, since oneDNN fixes a primitive's work split for the thread count it was
// created under -- so they are built once per signature and kept in a process-wide cache; backward-data and
// backward-weights descriptors (which take the forward descriptor as their hint) are built on first use, once, in
// the same entry. Lookups take a mutex (creation happens under it, so two threads never build the same entry);
// primitives are immutable and run concurrently. The cache is cleared whole when it reaches kMaxEntries
// signatures, which a training program with a few fixed shapes never does.
// Measured (bench/bench_cnn.cpp, BM_ConvCall*, 1 thread, AMD EPYC with AVX-512, oneDNN 2.6.3): a whole cached call
// of a tiny convolution (lookup + memory handles + execute) takes 2-3 us; clearing the cache first adds 3 us while
// oneDNN's own primitive cache still holds the primitive, and 30 us with DNNL_PRIMITIVE_CACHE_CAPACITY=0 (the
// descriptor walk + primitive creation). For MNIST conv2's shapes (32 -> 64, 3x3, 26x26) forward + both backwards at
// N = 1 take 0.9-1.2 ms cached and 0.1-0.3 ms more when the three primitive descriptors are created anew.
//
// Note [Convolution layouts]
// trident tensors are plain NCHW; oneDNN's fastest kernels often want blocked layouts (nChw16c, OIhw16i16o). With
// ConvLayout::Preferred the primitives are created with format_tag::any and each call reorders x and weight in and
// the result out (and grad_out in / grads out on the backward); with ConvLayout::Plain the primitives work on the
// NCHW / OIHW buffers directly. Preferred is the default: with plain layouts oneDNN 2.6 falls back to its
// im2col + GEMM implementation (gemm:jit), with format_tag::any it picks the direct AVX-512 kernels
// (jit:avx512_core on nChw16c, 1-channel input read as plain nchw), and the reorders cost less than they save.
// Measured forward + backward through the op at N = 128 (bench/bench_cnn.cpp, BM_Conv1 / BM_Conv2; conv1 computes
// no input gradient, as the first layer of a network): 2 threads, the best median of ~15 runs on a shared 2-core
// AMD EPYC with AVX-512 (under load single runs vary up to 10x; Preferred was faster in 12 of 16 runs for conv1,
// 15 of 16 for conv2):
//                          plain      preferred    PyTorch 1.13 (bench/torch_cnn.py, same steps, best of ~15)
//   conv1 (1->32, 28x28)   2.77 ms    1.28 ms      1.95 ms
//   conv2 (32->64, 26x26)  42.2 ms    35.2 ms      54.8 ms
// (1 thread: conv1 10.6 vs 11.3 ms, conv2 162 vs 127 ms, plain vs preferred.)
#include "trident/backends/cpu/conv.h"

#include <omp.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "trident/backends/cpu/onednn.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/conv.h"

namespace trident::cpu {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

// See Note [Convolution layouts].
constexpr ConvLayout kDefaultLayout = ConvLayout::Preferred;
std::atomic<ConvLayout> g_layout{kDefaultLayout};

constexpr std::size_t kMaxEntries = 512;

// Every number that determines the primitives (Note [Convolution primitive cache]).
struct ConvKey {
  std::array<std::int64_t, 20> v{};
  bool operator==(const ConvKey& o) const { return v == o.v; }
};
struct ConvKeyHash {
  std::size_t operator()(const ConvKey& k) const {
    std::size_t h = 0xcbf29ce484222325ull;
    for (std::int64_t x : k.v) h = (h ^ static_cast<std::size_t>(x)) * 0x100000001b3ull;
    return h;
  }
};

ConvKey make_key(const Shape& x, const Shape& w, const Shape& out, const kernels::Conv2dParams& p, bool bias,
                 ConvLayout layout) {
  return ConvKey{{x[0],
                  x[1],
                  x[2],
                  x[3],
                  w[0],
                  w[2],
                  w[3],
                  out[2],
                  out[3],
                  p.stride[0],
                  p.stride[1],
                  p.padding[0],
                  p.padding[1],
                  p.dilation[0],
                  p.dilation[1],
                  p.groups,
                  bias ? 1 : 0,
                  static_cast<int>(layout),
                  omp_get_max_threads(),
                  0}};
}

// The primitives of one shape signature; the plain descriptors describe trident's own buffers.
struct ConvPrimitives {
  memory::desc src_plain, weights_plain, bias_plain, dst_plain;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;

  std::once_flag bwd_data_once;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;

  std::once_flag bwd_weights_once;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_backward_weights bwd_weights;

  // Operation descriptors' common arguments.
  memory::dims strides, dilates, padding_l, padding_r;
  memory::desc src_any, weights_any, bias_any, dst_any;  // what the descriptors are created with
  bool has_bias = false;
};

std::shared_ptr<ConvPrimitives> create_primitives(const Shape& x, const Shape& w, const Shape& out,
                                                  const kernels::Conv2dParams& p, bool bias, ConvLayout layout) {
  auto P = std::make_shared<ConvPrimitives>();
  const auto f32 = memory::data_type::f32;
  P->src_plain = memory::desc(to_dnnl_dims(x), f32, tag::nchw);
  P->dst_plain = memory::desc(to_dnnl_dims(out), f32, tag::nchw);
  if (p.groups == 1) {
    P->weights_plain = memory::desc(to_dnnl_dims(w), f32, tag::oihw);
  } else {  // [C_out, C_in/G, kH, kW] is [G, C_out/G, C_in/G, kH, kW] in C order: goihw
    P->weights_plain = memory::desc({p.groups, w[0] / p.groups, w[1], w[2], w[3]}, f32, tag::goihw);
  }
  P->bias_plain = memory::desc({w[0]}, f32, tag::x);
  P->has_bias = bias;
  P->strides = {p.stride[0], p.stride[1]};
  P->dilates = {p.dilation[0] - 1, p.dilation[1] - 1};  // oneDNN counts the gaps: 0 = dense
  P->padding_l = {p.padding[0], p.padding[1]};
  P->padding_r = {p.padding[0], p.padding[1]};
  if (layout == ConvLayout::Plain) {
    P->src_any = P->src_plain;
    P->weights_any = P->weights_plain;
    P->dst_any = P->dst_plain;
  } else {
    P->src_any = memory::desc(P->src_plain.dims(), f32, tag::any);
    P->weights_any = memory::desc(P->weights_plain.dims(), f32, tag::any);
    P->dst_any = memory::desc(P->dst_plain.dims(), f32, tag::any);
  }
  P->bias_any = P->bias_plain;
  const auto fwd_desc =
      bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             P->src_any, P->weights_any, P->bias_any, P->dst_any, P->strides,
                                             P->dilates, P->padding_l, P->padding_r)
           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             P->src_any, P->weights_any, P->dst_any, P->strides, P->dilates,
                                             P->padding_l, P->padding_r);
  P->fwd_pd = dnnl::convolution_forward::primitive_desc(fwd_desc, dnnl_engine());
  P->fwd = dnnl::convolution_forward(P->fwd_pd);
  return P;
}

void ensure_backward_data(ConvPrimitives& P) {
  std::call_once(P.bwd_data_once, [&] {
    const dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, P.src_any, P.weights_any,
                                                  P.dst_any, P.strides, P.dilates, P.padding_l, P.padding_r);
    P.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(d, dnnl_engine(), P.fwd_pd);
    P.bwd_data = dnnl::convolution_backward_data(P.bwd_data_pd);
  });
}

void ensure_backward_weights(ConvPrimitives& P) {
  std::call_once(P.bwd_weights_once, [&] {
    const auto d = P.has_bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, P.src_any,
                                                                         P.weights_any, P.bias_any, P.dst_any,
                                                                         P.strides, P.dilates, P.padding_l, P.padding_r)
                              : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, P.src_any,
                                                                         P.weights_any, P.dst_any, P.strides, P.dilates,
                                                                         P.padding_l, P.padding_r);
    P.bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(d, dnnl_engine(), P.fwd_pd);
    P.bwd_weights = dnnl::convolution_backward_weights(P.bwd_weights_pd);
  });
}

struct ConvCache {
  std::mutex mutex;
  std::unordered_map<ConvKey, std::shared_ptr<ConvPrimitives>, ConvKeyHash> entries;
  std::size_t hits = 0, misses = 0;
};
ConvCache& cache() {
  static ConvCache c;
  return c;
}

std::shared_ptr<ConvPrimitives> primitives_for(const Shape& x, const Shape& w, const Shape& out,
                                               const kernels::Conv2dParams& p, bool bias) {
  const ConvLayout layout = g_layout.load(std::memory_order_relaxed);
  const ConvKey key = make_key(x, w, out, p, bias, layout);
  ConvCache& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.entries.find(key); it != c.entries.end()) {
    ++c.hits;
    return it->second;
  }
  ++c.misses;
  if (c.entries.size() >= kMaxEntries) c.entries.clear();  // entries in use live on through their shared_ptr
  auto P = onednn_call("conv2d", [&] { return create_primitives(x, w, out, p, bias, layout); });
  c.entries.emplace(key, P);
  return P;
}

// Input `user` (trident's buffer) in the layout `want`: itself when the layouts agree, else a reordered copy.
memory input_as(memory user, const memory::desc& want) {
  if (user.get_desc() == want) return user;
  memory m(want, dnnl_engine());
  dnnl::reorder(user, m).execute(dnnl_stream(), user, m);
  return m;
}

// A buffer in the layout `produced` for an output whose final home is `user`: `user` itself when they agree.
memory output_as(const memory& user, const memory::desc& produced) {
  if (user.get_desc() == produced) return user;
  return memory(produced, dnnl_engine());
}

// Copies an output written in another layout back into trident's buffer.
void finish_output(memory produced, memory user) {
  if (produced.get(true) == user.get(true)) return;
  dnnl::reorder(produced, user).execute(dnnl_stream(), produced, user);
}

// x: [N, C_in, H, W], weight, bias: [C_out] or undefined -> out: [N, C_out, H_out, W_out]
void cpu_conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                        const kernels::Conv2dParams& params) {
  if (x.dtype() == kFloat64) return reference::conv2d_forward(x, weight, bias, out, params);
  if (out.numel() == 0) return;
  const auto P = primitives_for(x.sizes(), weight.sizes(), out.sizes(), params, bias.defined());
  const memory src = input_as(wrap(P->src_plain, x), P->fwd_pd.src_desc());
  const memory wts = input_as(wrap(P->weights_plain, weight), P->fwd_pd.weights_desc());
  const memory dst_user = wrap(P->dst_plain, out);
  const memory dst = output_as(dst_user, P->fwd_pd.dst_desc());
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DST, dst}};
  if (bias.defined()) args.emplace(DNNL_ARG_BIAS, wrap(P->bias_plain, bias));
  P->fwd.execute(dnnl_stream(), args);
  finish_output(dst, dst_user);
  dnnl_stream().wait();
}

// grad_out: [N, C_out, H_out, W_out], weight -> grad_x: [N, C_in, H, W]
void cpu_conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                              const kernels::Conv2dParams& params) {
  if (grad_out.dtype() == kFloat64) return reference::conv2d_backward_data(grad_out, weight, grad_x, params);
  if (grad_x.numel() == 0) return;
  if (grad_out.numel() == 0) {
    std::memset(grad_x.raw_data(), 0, static_cast<std::size_t>(grad_x.numel()) * sizeof(float));
    return;
  }
  // The forward's bias does not change backward-data: look up the bias-free signature.
  const auto P = primitives_for(grad_x.sizes(), weight.sizes(), grad_out.sizes(), params, false);
  onednn_call("conv2d_backward_data", [&] { ensure_backward_data(*P); });
  const auto& pd = P->bwd_data_pd;
  const memory diff_dst = input_as(wrap(P->dst_plain, grad_out), pd.diff_dst_desc());
  const memory wts = input_as(wrap(P->weights_plain, weight), pd.weights_desc());
  const memory diff_src_user = wrap(P->src_plain, grad_x);
  const memory diff_src = output_as(diff_src_user, pd.diff_src_desc());
  P->bwd_data.execute(dnnl_stream(),
                      {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_DIFF_SRC, diff_src}});
  finish_output(diff_src, diff_src_user);
  dnnl_stream().wait();
}

// grad_out, x -> grad_weight: [C_out, C_in / G, kH, kW], grad_bias: [C_out] or undefined
void cpu_conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight,
                                const Tensor& grad_bias, const kernels::Conv2dParams& params) {
  if (grad_out.dtype() == kFloat64)
    return reference::conv2d_backward_weight(grad_out, x, grad_weight, grad_bias, params);
  if (grad_out.numel() == 0) {  // an empty batch: no term reaches the weights
    std::memset(grad_weight.raw_data(), 0, static_cast<std::size_t>(grad_weight.numel()) * sizeof(float));
    if (grad_bias.defined())
      std::memset(grad_bias.raw_data(), 0, static_cast<std::size_t>(grad_bias.numel()) * sizeof(float));
    return;
  }
  const auto P = primitives_for(x.sizes(), grad_weight.sizes(), grad_out.sizes(), params, grad_bias.defined());
  onednn_call("conv2d_backward_weight", [&] { ensure_backward_weights(*P); });
  const auto& pd = P->bwd_weights_pd;
  const memory src = input_as(wrap(P->src_plain, x), pd.src_desc());
  const memory diff_dst = input_as(wrap(P->dst_plain, grad_out), pd.diff_dst_desc());
  const memory diff_wts_user = wrap(P->weights_plain, grad_weight);
  const memory diff_wts = output_as(diff_wts_user, pd.diff_weights_desc());
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_wts}};
  if (grad_bias.defined()) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(P->bias_plain, grad_bias));
  P->bwd_weights.execute(dnnl_stream(), args);
  finish_output(diff_wts, diff_wts_user);
  dnnl_stream().wait();
}

TRIDENT_REGISTER_KERNEL(kernels::conv2d_forward, DeviceType::CPU, &cpu_conv2d_forward);
TRIDENT_REGISTER_KERNEL(kernels::conv2d_backward_data, DeviceType::CPU, &cpu_conv2d_backward_data);
TRIDENT_REGISTER_KERNEL(kernels::conv2d_backward_weight, DeviceType::CPU, &cpu_conv2d_backward_weight);

}  // namespace

void set_conv_layout(ConvLayout layout) { g_layout.store(layout, std::memory_order_relaxed); }
ConvLayout conv_layout() { return g_layout.load(std::memory_order_relaxed); }

ConvCacheStats conv_cache_stats() {
  ConvCache& c = cache();
  std::lock_guard lock(c.mutex);
  return {c.entries.size(), c.hits, c.misses};
}

void clear_conv_cache() {
  ConvCache& c = cache();
  std::lock_guard lock(c.mutex);
  c.entries.clear();
  c.hits = c.misses = 0;
}

}  // namespace trident::cpu
