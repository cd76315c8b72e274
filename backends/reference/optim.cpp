// Naive optimizer updates. Contract: backends/reference/optim.h.
#include "trident/backends/reference/optim.h"

#include <cmath>

namespace trident::reference {

namespace {

// The element of t at C-order position i (t may have any strides), as a reference to its storage.
template <typename T>
T& element(const Tensor& t, std::int64_t i) {
  std::int64_t offset = 0;
  for (std::int64_t d = t.dim(); d-- > 0;) {
    offset += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return static_cast<T*>(t.raw_data())[offset];
}

}  // namespace

void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const kernels::SGDStepArgs& a) {
  TRIDENT_CHECK(param.device().is_cpu(), "reference::sgd_step: CPU tensors only");
  dispatch_floating(param.dtype(), "reference::sgd_step", [&]<typename T>() {
    for (std::int64_t i = 0; i < param.numel(); ++i) {
      T& p = element<T>(param, i);
      double d = static_cast<double>(element<T>(grad, i)) + a.weight_decay * static_cast<double>(p);
      if (a.momentum != 0) {
        T& buf = element<T>(momentum_buffer, i);
        const double b = a.first_step ? d : a.momentum * static_cast<double>(buf) + (1 - a.dampening) * d;
        buf = static_cast<T>(b);
        d = a.nesterov ? d + a.momentum * b : b;
      }
      p = static_cast<T>(static_cast<double>(p) - a.lr * d);
    }
  });
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const kernels::AdamStepArgs& a) {
  TRIDENT_CHECK(param.device().is_cpu(), "reference::adam_step: CPU tensors only");
  const double bias_correction1 = 1 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bias_correction2 = 1 - std::pow(a.beta2, static_cast<double>(a.step));
  dispatch_floating(param.dtype(), "reference::adam_step", [&]<typename T>() {
    for (std::int64_t i = 0; i < param.numel(); ++i) {
      T& p = element<T>(param, i);
      T& m = element<T>(exp_avg, i);
      T& v = element<T>(exp_avg_sq, i);
      double pv = static_cast<double>(p);
      double g = static_cast<double>(element<T>(grad, i));
      if (a.decoupled_weight_decay)
        pv *= 1 - a.lr * a.weight_decay;
      else
        g += a.weight_decay * pv;
      const double mv = a.beta1 * static_cast<double>(m) + (1 - a.beta1) * g;
      const double vv = a.beta2 * static_cast<double>(v) + (1 - a.beta2) * g * g;
      m = static_cast<T>(mv);
      v = static_cast<T>(vv);
      const double denom = std::sqrt(vv) / std::sqrt(bias_correction2) + a.eps;
      p = static_cast<T>(pv - (a.lr / bias_correction1) * mv / denom);
    }
  });
}

}  // namespace trident::reference
