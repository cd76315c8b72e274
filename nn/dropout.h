// Dropout layer.
#pragma once

#include "trident/nn/module.h"

namespace trident::nn {

// In training mode, zeroes each element with probability p (drawn from the global generator) and scales the others
// by 1 / (1 - p); in evaluation mode returns its input unchanged (ops/dropout.h). x: [*] -> same shape.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  double p;
};

}  // namespace trident::nn
