// Naive matrix product: the oracle the CPU (and later CUDA) matmul kernels are tested against.
#pragma once

#include "trident/core/tensor.h"

namespace trident::reference {

// a: [B, M, K], b: [B, K, N] -> out: [B, M, N] (the contract of kernels::matmul: any input strides, batch stride 0
// allowed, out contiguous). Three plain loops per output element, accumulated in double, float32 or float64.
void matmul(const Tensor& a, const Tensor& b, const Tensor& out);

}  // namespace trident::reference
