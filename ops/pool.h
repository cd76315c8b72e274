// 2-d pooling. x: [N, C, H, W] -> [N, C, H_out, W_out], H_out = (H + 2 pad - kernel) / stride + 1 (floor).
// max_pool2d keeps the positions of the maxima on its Backward node (oneDNN's workspace) for the backward pass.
// avg_pool2d counts padded zeros in the average (PyTorch's count_include_pad=True default).
#pragma once

#include <array>

#include "trident/core/tensor.h"

namespace trident {

struct Pool2dOptions {
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{0, 0};  // {0, 0}: same as kernel (PyTorch's default)
  std::array<std::int64_t, 2> padding{0, 0};
};

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);
// Average over adaptive windows so the output is [N, C, out_h, out_w] (PyTorch's window rule).
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<std::int64_t, 2> output_size);

}  // namespace trident
