// CPU activation kernels (GELU, leaky ReLU), forward and backward. Contract: backends/kernels.h, "activations".
//
// One strided loop each (loops.h), with a contiguous fast path. GELU uses the C library's erf (erff for float32):
// accurate to an ulp or so, and not vectorised by the compiler -- GELU is not on trident's hot paths.
#include <cmath>
#include <numbers>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

using kernels::ActivationOp;

template <typename T>
T load(const char* p, std::int64_t i, std::int64_t stride) {
  return *reinterpret_cast<const T*>(p + i * stride);
}

// out[i] = f(in[i]); out contiguous (any strides work: the loop reads its strides too).
template <typename T, typename F>
void map1(const Tensor& in, const Tensor& out, F f) {
  for_each_strided<2>(out.sizes(), {&out, &in}, [f](char** p, const std::int64_t* st, std::int64_t n) {
    if (st[0] == sizeof(T) && st[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * st[0]) = f(load<T>(p[1], i, st[1]));
    }
  });
}

// grad_in[i] = g[i] * f'(x[i]), where df(x) returns f'(x).
template <typename T, typename D>
void map2(const Tensor& grad_out, const Tensor& in, const Tensor& grad_in, D df) {
  for_each_strided<3>(
      grad_in.sizes(), {&grad_in, &grad_out, &in}, [df](char** p, const std::int64_t* st, std::int64_t n) {
        if (st[0] == sizeof(T) && st[1] == sizeof(T) && st[2] == sizeof(T)) {
          T* o = reinterpret_cast<T*>(p[0]);
          const T* g = reinterpret_cast<const T*>(p[1]);
          const T* x = reinterpret_cast<const T*>(p[2]);
          for (std::int64_t i = 0; i < n; ++i) o[i] = g[i] * df(x[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i)
            *reinterpret_cast<T*>(p[0] + i * st[0]) = load<T>(p[1], i, st[1]) * df(load<T>(p[2], i, st[2]));
        }
      });
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2 and phi(x) = exp(-x^2 / 2) / sqrt(2 pi), in T.
template <typename T>
constexpr T kInvSqrt2 = T(1) / std::numbers::sqrt2_v<T>;
template <typename T>
T normal_cdf(T x) {
  return T(0.5) * (T(1) + std::erf(x * kInvSqrt2<T>));
}
template <typename T>
T normal_pdf(T x) {
  return std::exp(T(-0.5) * x * x) * (std::numbers::inv_sqrtpi_v<T> * kInvSqrt2<T>);
}

void cpu_activation(ActivationOp op, const Tensor& in, const Tensor& out, double arg) {
  dispatch_floating(in.dtype(), "activation", [&]<typename T>() {
    switch (op) {
      case ActivationOp::Gelu:
        return map1<T>(in, out, [](T x) { return x * normal_cdf(x); });
      case ActivationOp::LeakyRelu: {
        const T slope = static_cast<T>(arg);
        // x > 0 ? x : slope * x keeps NaN (NaN > 0 is false, slope * NaN is NaN).
        return map1<T>(in, out, [slope](T x) { return x > T(0) ? x : slope * x; });
      }
    }
  });
}

void cpu_activation_backward(ActivationOp op, const Tensor& grad_out, const Tensor& in, const Tensor& grad_in,
                             double arg) {
  dispatch_floating(in.dtype(), "activation_backward", [&]<typename T>() {
    switch (op) {
      case ActivationOp::Gelu:
        return map2<T>(grad_out, in, grad_in, [](T x) { return normal_cdf(x) + x * normal_pdf(x); });
      case ActivationOp::LeakyRelu: {
        const T slope = static_cast<T>(arg);
        return map2<T>(grad_out, in, grad_in, [slope](T x) { return x > T(0) ? T(1) : slope; });
      }
    }
  });
}

}  // namespace

TRIDENT_REGISTER_KERNEL(kernels::activation, DeviceType::CPU, &cpu_activation);
TRIDENT_REGISTER_KERNEL(kernels::activation_backward, DeviceType::CPU, &cpu_activation_backward);

}  // namespace trident::cpu
