// CPU batch normalisation. Contract: backends/kernels.h, section "normalisation".
// float32 runs on oneDNN's batch_normalization primitives or on the loops below (Note [Batch norm
// implementations]); float64 on the reference loops (backends/reference/norm.cpp), for gradient checks.
//
// Note [Batch norm implementations]
// Both float32 implementations are kept and tested against the reference (tests/test_norm.cpp); the default is the
// one that was faster on the shapes of the MNIST CNN (bench/bench_cnn.cpp, BM_BatchNorm*: training forward +
// backward through the op, 2 threads, on a shared and often oversubscribed 2-core AMD EPYC with AVX-512; the best
// median of ~15 runs, i.e. the quietest moment):
//                        own loops     oneDNN 2.6 (ncsp_bnorm on nchw)
//   [128, 32, 26, 26]    5.3 ms        7.3 ms      (1 thread: 6.2 vs 23.6 ms)
//   [128, 128]           80 us         90 us       (1 thread: 80 vs 143 us)
// Under load the gap widens (medians of 30-80 ms against 60-1400 ms): oneDNN's generic nchw kernel runs more
// parallel regions, each of which waits for a descheduled thread. oneDNN's fast batch-norm kernels want the blocked
// nChw16c layout. So the loops are the default (kDefaultImpl).
//
// The loops make two passes over x for the statistics (mean, then the sum of squared deviations: the one-pass
// E[x^2] - E[x]^2 loses everything to cancellation when |mean| >> std) and one to normalise; per channel they are
// folded into out = x * scale + shift with scale = weight / sqrt(var + eps), shift = bias - mean * scale. The
// backward makes one pass for sum(g) and sum(g (x - mean)) and one for
//   grad_x = a g + b + c (x - mean),  a = weight / sqrt(var + eps), b = -a sum(g) / M,
//                                     c = -a sum(g (x - mean)) / ((var + eps) M)
// (Note [Batch norm backward] in ops/norm.cpp derives it). Row sums use `omp simd` reductions in float, each row's
// sum then added in double. [N, C, H, W] runs parallel over channels (one row of H * W values per (n, c));
// [N, C] (one value per (n, c)) parallel over blocks of rows with per-thread per-channel sums in double.
#include "trident/backends/cpu/norm.h"

#include <omp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/cpu/onednn.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/norm.h"
#include "trident/ops/factory.h"

namespace trident::cpu {
namespace {

constexpr BatchNormImpl kDefaultImpl = BatchNormImpl::Loops;
std::atomic<BatchNormImpl> g_impl{kDefaultImpl};

struct Geometry {
  std::int64_t N, C, inner;  // x is [N, C, inner] in memory
  std::int64_t M() const { return N * inner; }
};
Geometry geometry_of(const Tensor& x) { return {x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1}; }

// ---- own loops ------------------------------------------------------------------------------------------------------

// Per channel: sum over every value of f(channel, value) for x laid out as Geometry (and a second tensor y of the
// same layout passed to f as well, when given). Returns double sums of length C.
template <typename F>
std::vector<double> channel_sums(const Geometry& g, const float* x, const float* y, F&& f) {
  std::vector<double> sums(static_cast<std::size_t>(g.C), 0.0);
  const bool parallel = g.N * g.C * g.inner >= kParallelGrain && omp_get_max_threads() > 1;
  if (g.inner > 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t c = 0; c < g.C; ++c) {
      double acc = 0.0;
      for (std::int64_t n = 0; n < g.N; ++n) {
        const std::int64_t base = (n * g.C + c) * g.inner;
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (std::int64_t k = 0; k < g.inner; ++k) s += f(c, x[base + k], y ? y[base + k] : 0.f);
        acc += s;
      }
      sums[static_cast<std::size_t>(c)] = acc;
    }
    return sums;
  }
  // [N, C]: rows of C values; each thread sums its rows into its own vector.
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<std::vector<double>> partial(static_cast<std::size_t>(threads),
                                           std::vector<double>(static_cast<std::size_t>(g.C), 0.0));
#pragma omp parallel num_threads(threads) if (parallel)
  {
    std::vector<double>& mine = partial[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < g.N; ++n)
      for (std::int64_t c = 0; c < g.C; ++c)
        mine[static_cast<std::size_t>(c)] += f(c, x[n * g.C + c], y ? y[n * g.C + c] : 0.f);
  }
  for (const auto& p : partial)
    for (std::int64_t c = 0; c < g.C; ++c) sums[static_cast<std::size_t>(c)] += p[static_cast<std::size_t>(c)];
  return sums;
}

// out[n, c, k] = f(c, x[n, c, k], y[n, c, k])
template <typename F>
void channel_map(const Geometry& g, const float* x, const float* y, float* out, F&& f) {
  const bool parallel = g.N * g.C * g.inner >= kParallelGrain && omp_get_max_threads() > 1;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t c = 0; c < g.C; ++c) {
      const std::int64_t base = (n * g.C + c) * g.inner;
#pragma omp simd
      for (std::int64_t k = 0; k < g.inner; ++k) out[base + k] = f(c, x[base + k], y ? y[base + k] : 0.f);
    }
}

void loops_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                   bool training, double eps, const Tensor& out) {
  const Geometry g = geometry_of(x);
  const float* xp = x.data_ptr<float>();
  float* mp = mean.data_ptr<float>();
  float* vp = var.data_ptr<float>();
  if (training) {
    const auto s = channel_sums(g, xp, nullptr, [](std::int64_t, float v, float) { return v; });
    std::vector<float> mu(static_cast<std::size_t>(g.C));
    for (std::int64_t c = 0; c < g.C; ++c)
      mu[static_cast<std::size_t>(c)] = static_cast<float>(s[static_cast<std::size_t>(c)] / static_cast<double>(g.M()));
    const float* m = mu.data();
    const auto ss = channel_sums(g, xp, nullptr, [m](std::int64_t c, float v, float) {
      const float d = v - m[c];
      return d * d;
    });
    for (std::int64_t c = 0; c < g.C; ++c) {
      mp[c] = mu[static_cast<std::size_t>(c)];
      vp[c] = static_cast<float>(ss[static_cast<std::size_t>(c)] / static_cast<double>(g.M()));
    }
  }
  std::vector<float> scale(static_cast<std::size_t>(g.C)), shift(static_cast<std::size_t>(g.C));
  for (std::int64_t c = 0; c < g.C; ++c) {
    const double a =
        (weight.defined() ? weight.data_ptr<float>()[c] : 1.0) / std::sqrt(static_cast<double>(vp[c]) + eps);
    scale[static_cast<std::size_t>(c)] = static_cast<float>(a);
    shift[static_cast<std::size_t>(c)] =
        static_cast<float>((bias.defined() ? bias.data_ptr<float>()[c] : 0.0) - static_cast<double>(mp[c]) * a);
  }
  const float *sc = scale.data(), *sh = shift.data();
  channel_map(g, xp, nullptr, out.data_ptr<float>(),
              [sc, sh](std::int64_t c, float v, float) { return v * sc[c] + sh[c]; });
}

void loops_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                    const Tensor& var, bool training, double eps, const Tensor& grad_x, const Tensor& grad_weight,
                    const Tensor& grad_bias) {
  const Geometry g = geometry_of(x);
  const float* xp = x.data_ptr<float>();
  const float* gp = grad_out.data_ptr<float>();
  const float* mp = mean.data_ptr<float>();
  const float* vp = var.data_ptr<float>();
  const bool need_sums = training || grad_weight.defined() || grad_bias.defined();
  std::vector<double> sum_g, sum_g_xmu;
  if (need_sums) {
    sum_g = channel_sums(g, gp, nullptr, [](std::int64_t, float v, float) { return v; });
    sum_g_xmu = channel_sums(g, gp, xp, [mp](std::int64_t c, float gv, float xv) { return gv * (xv - mp[c]); });
  }
  for (std::int64_t c = 0; c < g.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(vp[c]) + eps);
    if (grad_bias.defined()) grad_bias.data_ptr<float>()[c] = static_cast<float>(sum_g[static_cast<std::size_t>(c)]);
    if (grad_weight.defined())
      grad_weight.data_ptr<float>()[c] = static_cast<float>(sum_g_xmu[static_cast<std::size_t>(c)] * invstd);
  }
  if (!grad_x.defined()) return;
  std::vector<float> a(static_cast<std::size_t>(g.C)), b(static_cast<std::size_t>(g.C), 0.f),
      k(static_cast<std::size_t>(g.C), 0.f), mu(static_cast<std::size_t>(g.C));
  for (std::int64_t c = 0; c < g.C; ++c) {
    const auto i = static_cast<std::size_t>(c);
    const double var_eps = static_cast<double>(vp[c]) + eps;
    const double ac = (weight.defined() ? weight.data_ptr<float>()[c] : 1.0) / std::sqrt(var_eps);
    a[i] = static_cast<float>(ac);
    mu[i] = mp[c];
    if (training) {
      const double M = static_cast<double>(g.M());
      b[i] = static_cast<float>(-ac * sum_g[i] / M);
      k[i] = static_cast<float>(-ac * sum_g_xmu[i] / (var_eps * M));
    }
  }
  const float *ap = a.data(), *bp = b.data(), *kp = k.data(), *mup = mu.data();
  channel_map(g, gp, xp, grad_x.data_ptr<float>(), [ap, bp, kp, mup](std::int64_t c, float gv, float xv) {
    return ap[c] * gv + bp[c] + kp[c] * (xv - mup[c]);
  });
}

// ---- oneDNN
// -----------------------------------------------------------------------------------------------------------

using dnnl::memory;

struct BnPrimitives {
  memory::desc data, stats;
  dnnl::batch_normalization_forward::primitive_desc fwd_pd;
  dnnl::batch_normalization_forward fwd;
  dnnl::batch_normalization_backward::primitive_desc bwd_pd;
  dnnl::batch_normalization_backward bwd;
};

// flags: use_scale / use_shift when weight / bias exist, use_global_stats for inference. The backward computes
// diff_scale / diff_shift with them (prop_kind::backward).
std::shared_ptr<BnPrimitives> bn_primitives(const Shape& x, bool training, bool scale, bool shift, double eps) {
  static std::mutex mutex;
  static std::map<std::vector<std::int64_t>, std::shared_ptr<BnPrimitives>> entries;
  std::vector<std::int64_t> key(x.begin(), x.end());
  std::int64_t eps_bits;
  static_assert(sizeof(eps_bits) == sizeof(eps));
  std::memcpy(&eps_bits, &eps, sizeof(eps));
  key.insert(key.end(), {training, scale, shift, eps_bits, omp_get_max_threads()});
  std::lock_guard lock(mutex);
  if (auto it = entries.find(key); it != entries.end()) return it->second;
  if (entries.size() >= 512) entries.clear();
  auto P = onednn_call("batch_norm", [&] {
    auto P = std::make_shared<BnPrimitives>();
    P->data = memory::desc(to_dnnl_dims(x), memory::data_type::f32,
                           x.size() == 4 ? memory::format_tag::nchw : memory::format_tag::nc);
    P->stats = memory::desc({x[1]}, memory::data_type::f32, memory::format_tag::x);
    auto flags = dnnl::normalization_flags::none;
    if (scale) flags |= dnnl::normalization_flags::use_scale;
    if (shift) flags |= dnnl::normalization_flags::use_shift;
    if (!training) flags |= dnnl::normalization_flags::use_global_stats;
    const dnnl::batch_normalization_forward::desc fd(dnnl::prop_kind::forward_training, P->data,
                                                     static_cast<float>(eps), flags);
    P->fwd_pd = dnnl::batch_normalization_forward::primitive_desc(fd, dnnl_engine());
    P->fwd = dnnl::batch_normalization_forward(P->fwd_pd);
    const dnnl::batch_normalization_backward::desc bd(dnnl::prop_kind::backward, P->data, P->data,
                                                      static_cast<float>(eps), flags);
    P->bwd_pd = dnnl::batch_normalization_backward::primitive_desc(bd, dnnl_engine(), P->fwd_pd);
    P->bwd = dnnl::batch_normalization_backward(P->bwd_pd);
    return P;
  });
  entries.emplace(key, P);
  return P;
}

void onednn_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                    bool training, double eps, const Tensor& out) {
  const auto P = bn_primitives(x.sizes(), training, weight.defined(), bias.defined(), eps);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(P->data, x)},
                                       {DNNL_ARG_DST, wrap(P->data, out)},
                                       {DNNL_ARG_MEAN, wrap(P->stats, mean)},
                                       {DNNL_ARG_VARIANCE, wrap(P->stats, var)}};
  if (weight.defined()) args.emplace(DNNL_ARG_SCALE, wrap(P->stats, weight));
  if (bias.defined()) args.emplace(DNNL_ARG_SHIFT, wrap(P->stats, bias));
  P->fwd.execute(dnnl_stream(), args);
  dnnl_stream().wait();
}

void onednn_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                     const Tensor& var, bool training, double eps, const Tensor& grad_x, const Tensor& grad_weight,
                     const Tensor& grad_bias) {
  // oneDNN always writes diff_src and, with the flags, diff_scale / diff_shift: unwanted ones go to scratch tensors.
  // The bias flag only changes which outputs exist, so the primitives are those of a forward with a bias.
  const auto P = bn_primitives(x.sizes(), training, weight.defined(), true, eps);
  const Tensor gx = grad_x.defined() ? grad_x : empty(x.sizes());
  const Tensor gb = grad_bias.defined() ? grad_bias : empty({x.size(1)});
  // The backward of a primitive with use_shift takes the shift as an argument though the gradients do not depend
  // on it (oneDNN 2.6 refuses to execute without it): any buffer of the right size does.
  const Tensor shift_unused = zeros({x.size(1)});
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(P->data, x)},
                                       {DNNL_ARG_DIFF_DST, wrap(P->data, grad_out)},
                                       {DNNL_ARG_MEAN, wrap(P->stats, mean)},
                                       {DNNL_ARG_VARIANCE, wrap(P->stats, var)},
                                       {DNNL_ARG_DIFF_SRC, wrap(P->data, gx)},
                                       {DNNL_ARG_DIFF_SHIFT, wrap(P->stats, gb)},
                                       {DNNL_ARG_SHIFT, wrap(P->stats, shift_unused)}};
  Tensor gw;
  if (weight.defined()) {
    gw = grad_weight.defined() ? grad_weight : empty({x.size(1)});
    args.emplace(DNNL_ARG_SCALE, wrap(P->stats, weight));
    args.emplace(DNNL_ARG_DIFF_SCALE, wrap(P->stats, gw));
  }
  P->bwd.execute(dnnl_stream(), args);
  dnnl_stream().wait();
  if (grad_weight.defined() && !weight.defined()) {
    // No scale, so oneDNN computed no diff_scale: grad_weight = sum g xhat is asked for a weight of 1 that the
    // caller did not pass (not reachable from the op, which only asks for gradients of defined inputs).
    loops_backward(grad_out, x, weight, mean, var, training, eps, Tensor(), grad_weight, Tensor());
  }
}

// ---- registered kernels ---------------------------------------------------------------------------------------------

void cpu_batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                            const Tensor& var, bool training, double eps, const Tensor& out) {
  if (x.dtype() == kFloat64) return reference::batch_norm_forward(x, weight, bias, mean, var, training, eps, out);
  if (x.numel() == 0) return;
  if (g_impl.load(std::memory_order_relaxed) == BatchNormImpl::OneDnn)
    return onednn_forward(x, weight, bias, mean, var, training, eps, out);
  loops_forward(x, weight, bias, mean, var, training, eps, out);
}

void cpu_batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                             const Tensor& var, bool training, double eps, const Tensor& grad_x,
                             const Tensor& grad_weight, const Tensor& grad_bias) {
  if (x.dtype() == kFloat64)
    return reference::batch_norm_backward(grad_out, x, weight, mean, var, training, eps, grad_x, grad_weight,
                                          grad_bias);
  if (g_impl.load(std::memory_order_relaxed) == BatchNormImpl::OneDnn && x.numel() > 0)
    return onednn_backward(grad_out, x, weight, mean, var, training, eps, grad_x, grad_weight, grad_bias);
  loops_backward(grad_out, x, weight, mean, var, training, eps, grad_x, grad_weight, grad_bias);
}

TRIDENT_REGISTER_KERNEL(kernels::batch_norm_forward, DeviceType::CPU, &cpu_batch_norm_forward);
TRIDENT_REGISTER_KERNEL(kernels::batch_norm_backward, DeviceType::CPU, &cpu_batch_norm_backward);

}  // namespace

void set_batch_norm_impl(BatchNormImpl impl) { g_impl.store(impl, std::memory_order_relaxed); }
BatchNormImpl batch_norm_impl() { return g_impl.load(std::memory_order_relaxed); }

}  // namespace trident::cpu
