// clip_grad_norm. See optim/clip.h.
#include "trident/optim/clip.h"

#include <cmath>

#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/reduce.h"

namespace trident::optim {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  TRIDENT_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  TRIDENT_CHECK(norm_type > 0, "clip_grad_norm: norm_type must be > 0 (or inf), got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    TRIDENT_CHECK(p.defined(), "clip_grad_norm: a parameter is undefined");
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;

  // Each gradient contributes one number (its sum of |x|^p, or its max |x|), reduced on its own device.
  const bool inf_norm = std::isinf(norm_type);
  double acc = 0.0;
  for (const Tensor& g : grads) {
    if (g.numel() == 0) continue;
    const Tensor a = trident::abs(g);
    if (inf_norm) {
      const double m = max(a).item<double>();
      acc = std::isnan(m) ? m : std::max(acc, m);  // once NaN, std::max keeps it
    } else if (norm_type == 1.0) {
      acc += sum(a).item<double>();
    } else if (norm_type == 2.0) {
      acc += sum(mul(g, g)).item<double>();
    } else {
      acc += sum(trident::pow(a, norm_type)).item<double>();
    }
  }
  const double total = inf_norm ? acc : std::pow(acc, 1.0 / norm_type);
  TRIDENT_CHECK(!error_if_nonfinite || std::isfinite(total),
                "clip_grad_norm: the total norm of order {} of the gradients is {}; set error_if_nonfinite = false "
                "to clip anyway",
                norm_type, total);

  const double clip_coef = max_norm / (total + 1e-6);
  if (!(clip_coef >= 1.0)) {  // NaN (a NaN gradient) scales by NaN, as in PyTorch
    for (Tensor& g : grads) g.mul_(clip_coef);
  }
  return total;
}

}  // namespace trident::optim
