// Naive activation kernels. Contract: backends/reference/activation.h.
#include "trident/backends/reference/activation.h"

#include <cmath>
#include <numbers>

namespace trident::reference {

namespace {

// Offset (in elements) of the element with C-order index i of t.
std::int64_t offset_of(const Tensor& t, std::int64_t i) {
  std::int64_t off = 0;
  for (std::int64_t d = t.dim(); d-- > 0;) {
    off += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return off;
}

double normal_cdf(double x) { return 0.5 * (1.0 + std::erf(x / std::numbers::sqrt2)); }
double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi); }

}  // namespace

void activation(kernels::ActivationOp op, const Tensor& in, const Tensor& out, double arg) {
  TRIDENT_CHECK(in.device().is_cpu() && out.device().is_cpu(), "reference::activation: CPU tensors only");
  dispatch_floating(in.dtype(), "reference::activation", [&]<typename T>() {
    const T* x = static_cast<const T*>(in.raw_data());
    T* y = static_cast<T*>(out.raw_data());
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const double v = x[offset_of(in, i)];
      double r = 0;
      switch (op) {
        case kernels::ActivationOp::Gelu:
          r = v * normal_cdf(v);
          break;
        case kernels::ActivationOp::LeakyRelu:
          r = v > 0 ? v : arg * v;
          break;
      }
      y[offset_of(out, i)] = static_cast<T>(r);
    }
  });
}

void activation_backward(kernels::ActivationOp op, const Tensor& grad_out, const Tensor& in, const Tensor& grad_in,
                         double arg) {
  TRIDENT_CHECK(in.device().is_cpu(), "reference::activation_backward: CPU tensors only");
  dispatch_floating(in.dtype(), "reference::activation_backward", [&]<typename T>() {
    const T* g = static_cast<const T*>(grad_out.raw_data());
    const T* x = static_cast<const T*>(in.raw_data());
    T* gx = static_cast<T*>(grad_in.raw_data());
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const double v = x[offset_of(in, i)];
      double d = 0;
      switch (op) {
        case kernels::ActivationOp::Gelu:
          d = normal_cdf(v) + v * normal_pdf(v);
          break;
        case kernels::ActivationOp::LeakyRelu:
          d = v > 0 ? 1.0 : arg;
          break;
      }
      gx[offset_of(grad_in, i)] = static_cast<T>(g[offset_of(grad_out, i)] * d);
    }
  });
}

}  // namespace trident::reference
