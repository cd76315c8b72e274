// CPU 2-d pooling. Contract: backends/kernels.h, section "pooling".
//   max / avg, float32: oneDNN pooling primitives on the NCHW buffers, built once per shape signature and cached
//     (as the convolutions are: Note [Convolution primitive cache] in conv.cpp). Max pooling's forward returns
//     oneDNN's workspace (which element of each window won) in an int64 tensor sized to hold it; the backward hands
//     it back to oneDNN. oneDNN keeps the first maximum of a window among ties (tests/test_pool.cpp checks it).
//   adaptive avg, float32: the loops below, parallel over the N * C planes.
//   float64: the reference loops (backends/reference/pool.cpp), for gradient checks.
#include "trident/backends/reference/pool.h"

#include <omp.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/cpu/onednn.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

struct PoolKey {
  std::array<std::int64_t, 14> v{};
  bool operator==(const PoolKey& o) const { return v == o.v; }
};
struct PoolKeyHash {
  std::size_t operator()(const PoolKey& k) const {
    std::size_t h = 0xcbf29ce484222325ull;
    for (std::int64_t x : k.v) h = (h ^ static_cast<std::size_t>(x)) * 0x100000001b3ull;
    return h;
  }
};

struct PoolPrimitives {
  memory::desc src, dst;  // plain nchw
  dnnl::pooling_forward::primitive_desc fwd_pd;
  dnnl::pooling_forward fwd;
  std::once_flag bwd_once;
  dnnl::pooling_backward::primitive_desc bwd_pd;
  dnnl::pooling_backward bwd;
  dnnl::algorithm alg;
  memory::dims strides, kernel, padding_l, padding_r;
};

std::shared_ptr<PoolPrimitives> create_pool(const Shape& x, const Shape& out, const kernels::Pool2dParams& p,
                                            dnnl::algorithm alg) {
  auto P = std::make_shared<PoolPrimitives>();
  P->src = memory::desc(to_dnnl_dims(x), memory::data_type::f32, tag::nchw);
  P->dst = memory::desc(to_dnnl_dims(out), memory::data_type::f32, tag::nchw);
  P->alg = alg;
  P->strides = {p.stride[0], p.stride[1]};
  P->kernel = {p.kernel[0], p.kernel[1]};
  P->padding_l = {p.padding[0], p.padding[1]};
  P->padding_r = {p.padding[0], p.padding[1]};
  const dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_training, alg, P->src, P->dst, P->strides, P->kernel,
                                      P->padding_l, P->padding_r);
  P->fwd_pd = dnnl::pooling_forward::primitive_desc(d, dnnl_engine());
  P->fwd = dnnl::pooling_forward(P->fwd_pd);
  return P;
}

std::shared_ptr<PoolPrimitives> pool_primitives(const Shape& x, const Shape& out, const kernels::Pool2dParams& p,
                                                dnnl::algorithm alg, const char* kernel) {
  static std::mutex mutex;
  static std::unordered_map<PoolKey, std::shared_ptr<PoolPrimitives>, PoolKeyHash> entries;
  const PoolKey key{{x[0], x[1], x[2], x[3], out[2], out[3], p.kernel[0], p.kernel[1], p.stride[0], p.stride[1],
                     p.padding[0], p.padding[1], static_cast<std::int64_t>(alg), omp_get_max_threads()}};
  std::lock_guard lock(mutex);
  if (auto it = entries.find(key); it != entries.end()) return it->second;
  if (entries.size() >= 512) entries.clear();
  auto P = onednn_call(kernel, [&] { return create_pool(x, out, p, alg); });
  entries.emplace(key, P);
  return P;
}

void ensure_backward(PoolPrimitives& P, const char* kernel) {
  onednn_call(kernel, [&] {
    std::call_once(P.bwd_once, [&] {
      const dnnl::pooling_backward::desc d(P.alg, P.src, P.dst, P.strides, P.kernel, P.padding_l, P.padding_r);
      P.bwd_pd = dnnl::pooling_backward::primitive_desc(d, dnnl_engine(), P.fwd_pd);
      P.bwd = dnnl::pooling_backward(P.bwd_pd);
    });
  });
}

void zero(const Tensor& t) { std::memset(t.raw_data(), 0, static_cast<std::size_t>(t.numel()) * t.itemsize()); }

// x: [N, C, H, W] -> out: [N, C, H_out, W_out]; returns oneDNN's workspace (int64 elements, bytes reinterpreted)
Tensor cpu_max_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params) {
  if (x.dtype() == kFloat64) return reference::max_pool2d_forward(x, out, params);
  if (out.numel() == 0) return empty({0}, {.dtype = kInt64});
  const auto P = pool_primitives(x.sizes(), out.sizes(), params, dnnl::algorithm::pooling_max, "max_pool2d");
  const memory::desc ws_desc = P->fwd_pd.workspace_desc();
  const auto ws_bytes = static_cast<std::int64_t>(ws_desc.get_size());
  Tensor workspace = empty({(ws_bytes + 7) / 8}, {.dtype = kInt64});
  P->fwd.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(P->src, x)},
                                {DNNL_ARG_DST, wrap(P->dst, out)},
                                {DNNL_ARG_WORKSPACE, wrap(ws_desc, workspace)}});
  dnnl_stream().wait();
  return workspace;
}

// grad_out: [N, C, H_out, W_out], workspace -> grad_x: [N, C, H, W]
void cpu_max_pool2d_backward(const Tensor& grad_out, const Tensor& workspace, const Tensor& grad_x,
                             const kernels::Pool2dParams& params) {
  if (grad_out.dtype() == kFloat64) return reference::max_pool2d_backward(grad_out, workspace, grad_x, params);
  if (grad_x.numel() == 0) return;
  if (grad_out.numel() == 0) return zero(grad_x);
  const auto P =
      pool_primitives(grad_x.sizes(), grad_out.sizes(), params, dnnl::algorithm::pooling_max, "max_pool2d_backward");
  ensure_backward(*P, "max_pool2d_backward");
  P->bwd.execute(dnnl_stream(), {{DNNL_ARG_DIFF_DST, wrap(P->dst, grad_out)},
                                {DNNL_ARG_DIFF_SRC, wrap(P->src, grad_x)},
                                {DNNL_ARG_WORKSPACE, wrap(P->fwd_pd.workspace_desc(), workspace)}});
  dnnl_stream().wait();
}

void cpu_avg_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params) {
  if (x.dtype() == kFloat64) return reference::avg_pool2d_forward(x, out, params);
  if (out.numel() == 0) return;
  const auto P =
      pool_primitives(x.sizes(), out.sizes(), params, dnnl::algorithm::pooling_avg_include_padding, "avg_pool2d");
  P->fwd.execute(dnnl_stream(), {{DNNL_ARG_SRC, wrap(P->src, x)}, {DNNL_ARG_DST, wrap(P->dst, out)}});
  dnnl_stream().wait();
}

void cpu_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x, const kernels::Pool2dParams& params) {
  if (grad_out.dtype() == kFloat64) return reference::avg_pool2d_backward(grad_out, grad_x, params);
  if (grad_x.numel() == 0) return;
  if (grad_out.numel() == 0) return zero(grad_x);
  const auto P = pool_primitives(grad_x.sizes(), grad_out.sizes(), params, dnnl::algorithm::pooling_avg_include_padding,
                                 "avg_pool2d_backward");
  ensure_backward(*P, "avg_pool2d_backward");
  P->bwd.execute(dnnl_stream(),
                 {{DNNL_ARG_DIFF_DST, wrap(P->dst, grad_out)}, {DNNL_ARG_DIFF_SRC, wrap(P->src, grad_x)}});
  dnnl_stream().wait();
}

// Adaptive windows (PyTorch's rule): output index i of `out` covers [floor(i in / out), ceil((i + 1) in / out)).
inline std::int64_t window_start(std::int64_t i, std::int64_t in, std::int64_t out) { return i * in / out; }
inline std::int64_t window_end(std::int64_t i, std::int64_t in, std::int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// x: [N, C, H, W] -> out: [N, C, OH, OW]
void cpu_adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& out) {
  if (x.dtype() == kFloat64) return reference::adaptive_avg_pool2d_forward(x, out);
  const std::int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t OH = out.size(2), OW = out.size(3);
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    const float* src = xp + plane * H * W;
    for (std::int64_t i = 0; i < OH; ++i) {
      const std::int64_t y0 = window_start(i, H, OH), y1 = window_end(i, H, OH);
      for (std::int64_t j = 0; j < OW; ++j) {
        const std::int64_t x0 = window_start(j, W, OW), x1 = window_end(j, W, OW);
        float s = 0.f;
        for (std::int64_t y = y0; y < y1; ++y)
          for (std::int64_t xx = x0; xx < x1; ++xx) s += src[y * W + xx];
        op[(plane * OH + i) * OW + j] = s / static_cast<float>((y1 - y0) * (x1 - x0));
      }
    }
  }
}

// grad_out: [N, C, OH, OW] -> grad_x: [N, C, H, W] (each plane owned by one thread: no races)
void cpu_adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  if (grad_out.dtype() == kFloat64) return reference::adaptive_avg_pool2d_backward(grad_out, grad_x);
  const std::int64_t planes = grad_x.size(0) * grad_x.size(1), H = grad_x.size(2), W = grad_x.size(3);
  const std::int64_t OH = grad_out.size(2), OW = grad_out.size(3);
  const float* gp = grad_out.data_ptr<float>();
  float* dx = grad_x.data_ptr<float>();
#pragma omp parallel for schedule(static) if (grad_x.numel() >= kParallelGrain)
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    float* dst = dx + plane * H * W;
    std::fill(dst, dst + H * W, 0.f);
    for (std::int64_t i = 0; i < OH; ++i) {
      const std::int64_t y0 = window_start(i, H, OH), y1 = window_end(i, H, OH);
      for (std::int64_t j = 0; j < OW; ++j) {
        const std::int64_t x0 = window_start(j, W, OW), x1 = window_end(j, W, OW);
        const float g = gp[(plane * OH + i) * OW + j] / static_cast<float>((y1 - y0) * (x1 - x0));
        for (std::int64_t y = y0; y < y1; ++y)
          for (std::int64_t xx = x0; xx < x1; ++xx) dst[y * W + xx] += g;
      }
    }
  }
}

TRIDENT_REGISTER_KERNEL(kernels::max_pool2d_forward, DeviceType::CPU, &cpu_max_pool2d_forward);
TRIDENT_REGISTER_KERNEL(kernels::max_pool2d_backward, DeviceType::CPU, &cpu_max_pool2d_backward);
TRIDENT_REGISTER_KERNEL(kernels::avg_pool2d_forward, DeviceType::CPU, &cpu_avg_pool2d_forward);
TRIDENT_REGISTER_KERNEL(kernels::avg_pool2d_backward, DeviceType::CPU, &cpu_avg_pool2d_backward);
TRIDENT_REGISTER_KERNEL(kernels::adaptive_avg_pool2d_forward, DeviceType::CPU, &cpu_adaptive_avg_pool2d_forward);
TRIDENT_REGISTER_KERNEL(kernels::adaptive_avg_pool2d_backward, DeviceType::CPU, &cpu_adaptive_avg_pool2d_backward);

}  // namespace
}  // namespace trident::cpu
