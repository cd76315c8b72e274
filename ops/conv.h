// 2-d convolution (cross-correlation, as in PyTorch). float32 runs on oneDNN (primitives cached per shape signature);
// float64 on the reference loops (for gradient checks).
//   x: [N, C_in, H, W], weight: [C_out, C_in / groups, kH, kW], bias: [C_out] or undefined
//   -> [N, C_out, H_out, W_out],  H_out = (H + 2 pad_h - dil_h (kH - 1) - 1) / stride_h + 1 (same for W)
#pragma once

#include <array>

#include "trident/core/tensor.h"

namespace trident {

struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dOptions& options = {});

}  // namespace trident
