// Batch normalisation over the channel dim 1. x: [N, C] or [N, C, H, W] -> same shape; weight, bias,
// running_mean, running_var: [C] (any may be undefined; running stats undefined means batch stats always).
// training: normalise with the batch's mean and biased variance, and update the running stats in place with
//   running = (1 - momentum) running + momentum * batch  (running_var uses the unbiased batch variance, like PyTorch);
// inference: normalise with the running stats. Differentiable in x, weight and bias.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace trident
