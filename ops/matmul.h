// Matrix products, with PyTorch's matmul semantics:
//   [K] @ [K] -> []              (dot)
//   [M, K] @ [K] -> [M]          [K] @ [K, N] -> [N]
//   [M, K] @ [K, N] -> [M, N]
//   [..., M, K] @ [..., K, N] -> [broadcast(...), M, N]   (batch dims broadcast)
// float32 runs on oneDNN's matmul primitive (cached per shape); float64 on trident's own blocked loop.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace trident
