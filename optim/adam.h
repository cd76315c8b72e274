// Adam and AdamW, with PyTorch 1.13's formulas.
//
// For each parameter p with gradient g, at update number t (1, 2, ...):
//   AdamW:  p *= 1 - lr * weight_decay            (decoupled weight decay)
//   Adam:   g += weight_decay * p                  (L2 penalty folded into the gradient)
//   m = beta1 * m + (1 - beta1) * g                ("exp_avg", zeros before the first update)
//   v = beta2 * v + (1 - beta2) * g * g            ("exp_avg_sq")
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//   p -= (lr / (1 - beta1^t)) * m / denom
// The bias corrections 1 - beta^t undo the pull of the zero initial m and v towards 0 in the first updates.
// Options: "lr", "beta1", "beta2", "eps", "weight_decay". State: "exp_avg", "exp_avg_sq" (and the step count).
#pragma once

#include "trident/optim/optimizer.h"

namespace trident::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // an L2 penalty folded into the gradient
  // Use the fused one-pass kernel (kernels::adam_step) where the device has it and the tensors are contiguous.
  bool fused = true;
};

// AdamW's options: Adam's, with PyTorch's AdamW default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr * weight_decay
  bool fused = true;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  explicit Adam(const AdamOptions& options);

  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  void check_options(const Options& options) const override;

 protected:
  Adam(const AdamOptions& options, bool decoupled_weight_decay);
  void update(const Options& options, const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  bool decoupled_;
  bool fused_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the weights directly instead of
// passing through m and v, so it is not rescaled by the adaptive step.
class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options);
  explicit AdamW(const AdamWOptions& options);
};

}  // namespace trident::optim
