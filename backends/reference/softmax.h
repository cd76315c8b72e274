// Naive softmax / log_softmax and their gradients: the oracle for the softmax kernels.
//
// One slice along `dim` at a time, gathered into float64, computed straight from the definitions (with the max
// subtracted), written back. CPU tensors only.
#pragma once

#include "trident/core/tensor.h"

namespace trident::reference {

// The contract of kernels::softmax / kernels::softmax_backward.
void softmax(const Tensor& in, const Tensor& out, std::int64_t dim, bool log);
void softmax_backward(const Tensor& grad_out, const Tensor& out, const Tensor& grad_in, std::int64_t dim, bool log);

}  // namespace trident::reference
