// Naive, obviously correct 2-d pooling: the oracle for the oneDNN / CPU pooling kernels, and the CPU backend's
// float64 kernels. Signatures and contracts: backends/kernels.h, section "pooling" (contiguous float32 or float64
// tensors; outputs written). Sums accumulate in double.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// x: [N, C, H, W] -> out: [N, C, H_out, W_out]. Returns the workspace: int64 [N, C, H_out, W_out] holding, for each
// window, the winner's position y * W + x in its H x W plane (the first maximum in row-major window order).
Tensor max_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params);
// grad_out: [N, C, H_out, W_out], workspace from max_pool2d_forward above -> grad_x: [N, C, H, W]
void max_pool2d_backward(const Tensor& grad_out, const Tensor& workspace, const Tensor& grad_x,
                         const kernels::Pool2dParams& params);
void avg_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params);
void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x, const kernels::Pool2dParams& params);
// x: [N, C, H, W] -> out: [N, C, OH, OW] (PyTorch's window rule, kernels.h)
void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& out);
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x);

}  // namespace trident::reference
