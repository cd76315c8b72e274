// Activation layers (no parameters). x: [*] -> same shape.
#pragma once

#include "trident/nn/module.h"

namespace trident::nn {

class ReLU : public Module {  // max(x, 0)
 public:
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {  // x > 0 ? x : negative_slope * x
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  double negative_slope;
};

class GELU : public Module {  // x * Phi(x), the exact (erf) form
 public:
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Module {  // 1 / (1 + exp(-x))
 public:
  Tensor forward(const Tensor& x) override;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

}  // namespace trident::nn
