// CPU kernels of the fused optimizer updates: sgd_step, adam_step. Contract: backends/kernels.h, "optimizers".
//
// Each update is one pass over contiguous arrays: every element of the parameter and of its state is read once and
// written once (the composed version makes about ten passes for Adam). The per-call choices (weight decay or not,
// momentum, Nesterov, first step, AdamW) become template arguments, so that the inner loop has no branch and the
// compiler vectorises it. Large parameters are split between OpenMP threads in contiguous chunks.
#include <cmath>
#include <type_traits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

// f(lo, hi) over [0, n), split between threads when n is large enough to pay for a parallel region.
template <typename F>
void parallel_range(std::int64_t n, F&& f) {
  if (n < kParallelGrain || omp_get_max_threads() == 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    // Chunks of whole cache lines (16 floats), so that no two threads write to one line.
    const std::int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
    const std::int64_t lo = std::min(n, t * chunk), hi = std::min(n, lo + chunk);
    if (lo < hi) f(lo, hi);
  }
}

// Calls f(std::bool_constant<b>{}): turns a run-time flag into a compile-time one.
template <typename F>
void with_flag(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

void cpu_sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                  const kernels::SGDStepArgs& args) {
  dispatch_floating(param.dtype(), "sgd_step", [&]<typename T>() {
    T* __restrict p = param.data_ptr<T>();
    const T* __restrict g = grad.data_ptr<T>();
    T* __restrict buf = args.momentum != 0 ? momentum_buffer.data_ptr<T>() : nullptr;
    const T neg_lr = static_cast<T>(-args.lr), wd = static_cast<T>(args.weight_decay);
    const T momentum = static_cast<T>(args.momentum), keep = static_cast<T>(1 - args.dampening);
    with_flag(args.weight_decay != 0, [&](auto decay) {
      with_flag(args.momentum != 0, [&](auto use_momentum) {
        with_flag(args.nesterov, [&](auto nesterov) {
          with_flag(args.first_step, [&](auto first) {
            parallel_range(param.numel(), [&](std::int64_t lo, std::int64_t hi) {
#pragma omp simd
              for (std::int64_t i = lo; i < hi; ++i) {
                T d = g[i];
                if constexpr (decay) d = d + p[i] * wd;
                if constexpr (use_momentum) {
                  T b;
                  if constexpr (first)
                    b = d;
                  else
                    b = buf[i] * momentum + d * keep;
                  buf[i] = b;
                  if constexpr (nesterov)
                    d = d + b * momentum;
                  else
                    d = b;
                }
                p[i] = p[i] + d * neg_lr;
              }
            });
          });
        });
      });
    });
  });
}

void cpu_adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const kernels::AdamStepArgs& args) {
  dispatch_floating(param.dtype(), "adam_step", [&]<typename T>() {
    T* __restrict p = param.data_ptr<T>();
    const T* __restrict g = grad.data_ptr<T>();
    T* __restrict m = exp_avg.data_ptr<T>();
    T* __restrict v = exp_avg_sq.data_ptr<T>();
    const double step = static_cast<double>(args.step);
    const double bias_correction1 = 1 - std::pow(args.beta1, step);
    const double bias_correction2 = 1 - std::pow(args.beta2, step);
    const T neg_step_size = static_cast<T>(-(args.lr / bias_correction1));
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    const T beta1 = static_cast<T>(args.beta1), one_minus_beta1 = static_cast<T>(1 - args.beta1);
    const T beta2 = static_cast<T>(args.beta2), one_minus_beta2 = static_cast<T>(1 - args.beta2);
    const T eps = static_cast<T>(args.eps), wd = static_cast<T>(args.weight_decay);
    const T decay_factor = static_cast<T>(1 - args.lr * args.weight_decay);
    with_flag(args.decoupled_weight_decay, [&](auto decoupled) {
      with_flag(args.weight_decay != 0, [&](auto decay) {
        parallel_range(param.numel(), [&](std::int64_t lo, std::int64_t hi) {
#pragma omp simd
          for (std::int64_t i = lo; i < hi; ++i) {
            T pi = p[i];
            T gi = g[i];
            if constexpr (decoupled) {
              pi = pi * decay_factor;
            } else if constexpr (decay) {
              gi = gi + pi * wd;
            }
            const T mi = m[i] * beta1 + gi * one_minus_beta1;
            const T vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
            m[i] = mi;
            v[i] = vi;
            const T denom = std::sqrt(vi) / bias_correction2_sqrt + eps;
            p[i] = pi + (mi / denom) * neg_step_size;
          }
        });
      });
    });
  });
}

}  // namespace

TRIDENT_REGISTER_KERNEL(kernels::sgd_step, DeviceType::CPU, &cpu_sgd_step);
TRIDENT_REGISTER_KERNEL(kernels::adam_step, DeviceType::CPU, &cpu_adam_step);

}  // namespace trident::cpu
