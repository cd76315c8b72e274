// Naive, obviously correct batch normalisation: the oracle for the CPU batch-norm kernels, and the CPU backend's
// float64 kernels. Signatures and contracts: backends/kernels.h, section "normalisation" (contiguous float32 or
// float64 tensors, x [N, C] or [N, C, H, W]). Two passes per channel (mean, then variance), sums in double.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                        const Tensor& var, bool training, double eps, const Tensor& out);
void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& var, bool training, double eps, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias);

}  // namespace trident::reference
