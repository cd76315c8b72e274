// Naive, obviously correct elementwise kernels: the oracle that tests hold the CPU (and CUDA) kernels against.
//
// Every element is read on its own with at<double>(index) and computed in float64 with the <cmath> functions, written
// the plain way (no vectorisation, no range reduction, no strides). Same operations and arguments as
// kernels::unary / binary / where (backends/kernels.h), but the result is returned instead of written, and it is
// float64 for everything numeric, so a float32 kernel's error can be measured against it. Slow: for tests only.
// Integer Div and Pow are not modelled (float64 does not truncate or wrap); test those against hand-computed values.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// in: [*] (any dtype but bool, any strides) -> float64 [*]
Tensor unary(kernels::UnaryOp op, const Tensor& in, double arg0 = 0.0, double arg1 = 0.0);

// a, b: [*] of the same sizes (broadcast views welcome) -> [*], bool for comparisons and logical ops, else float64
Tensor binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b);

// cond: [*] bool, a, b: [*] -> float64 [*]
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace trident::reference
