// Activation functions beyond the elementwise family's relu/sigmoid/tanh/softplus (ops/elementwise.h).
// x: [*] floating -> same shape and dtype. Both are differentiable in x.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

// GELU, exact form: x * Phi(x) = x (1 + erf(x / sqrt(2))) / 2 (PyTorch's approximate='none').
Tensor gelu(const Tensor& x);
// x > 0 ? x : negative_slope * x. The gradient at 0 is negative_slope (PyTorch's convention).
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);

}  // namespace trident
