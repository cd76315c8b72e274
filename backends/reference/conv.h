// Naive, obviously correct 2-d convolution: the oracle that the oneDNN kernels are tested against, and the CPU
// backend's float64 kernels (gradient checks run through them).
//
// Each function has the signature and contract of its kernel in backends/kernels.h (section "convolution"):
// contiguous float32 or float64 tensors, outputs written (=). The loops follow the definition term by term and
// accumulate in double whatever the dtype. Slow by design.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// x: [N, C_in, H, W], weight: [C_out, C_in / G, kH, kW], bias: [C_out] or undefined -> out: [N, C_out, H_out, W_out]
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                    const kernels::Conv2dParams& params);
// grad_out: [N, C_out, H_out, W_out], weight -> grad_x: [N, C_in, H, W]
void conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                          const kernels::Conv2dParams& params);
// grad_out, x -> grad_weight: weight's shape, grad_bias: [C_out] (when defined)
void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight, const Tensor& grad_bias,
                            const kernels::Conv2dParams& params);

}  // namespace trident::reference
