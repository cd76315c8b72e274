// Naive activation kernels: the oracle for kernels::activation / kernels::activation_backward.
//
// Element by element in C order, computed in float64 straight from the definitions, written back. CPU tensors only.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// The contracts of kernels::activation / kernels::activation_backward.
void activation(kernels::ActivationOp op, const Tensor& in, const Tensor& out, double arg);
void activation_backward(kernels::ActivationOp op, const Tensor& grad_out, const Tensor& in, const Tensor& grad_in,
                         double arg);

}  // namespace trident::reference
