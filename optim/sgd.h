// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's SGD).
//
// For each parameter p with gradient g, at every step:
//   d = g + weight_decay * p
//   if momentum != 0:
//     buf = d                                        on the first step (no dampening on it, as in PyTorch)
//     buf = momentum * buf + (1 - dampening) * d     afterwards
//     d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// Options: "lr", "momentum", "dampening", "weight_decay", "nesterov" (0 or 1). State: "momentum_buffer".
#pragma once

#include "trident/optim/optimizer.h"

namespace trident::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  // Use the fused one-pass kernel (kernels::sgd_step) where the device has it and the tensors are contiguous;
  // false always composes the update from in-place tensor ops (the tests compare the two).
  bool fused = true;
};

class SGD final : public Optimizer {
 public:
  // One group with `params` (which must not be empty).
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  // No group yet: add them with add_param_group.
  explicit SGD(const SGDOptions& options);

  std::string name() const override { return "SGD"; }
  void check_options(const Options& options) const override;

 protected:
  void update(const Options& options, const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  bool fused_;
};

}  // namespace trident::optim
