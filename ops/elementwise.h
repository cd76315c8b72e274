// Elementwise ops: arithmetic, math functions, activations, comparisons, where.
//
// Shape contract for binary ops: a: [*a], b: [*b] broadcastable -> out: broadcast([*a], [*b]); a and b must have the
// same dtype and device (trident does not promote types implicitly: write a.to(kFloat64) where you mean it). A
// scalar operand (double) takes the tensor's dtype. Gradients flowing to a broadcast input are summed back to its
// shape (sum_to). Comparisons return bool tensors and have no gradient.
#pragma once

#include <optional>

#include "trident/core/tensor.h"

namespace trident {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor neg(const Tensor& x);

// x^e. An int64 x needs a non-negative integer e (computed exactly); exp, log, sqrt, sigmoid, tanh and softplus need
// floating tensors; abs, sign, clamp and relu also take int64. None of these take bool.
Tensor pow(const Tensor& x, double exponent);         // d/dx = e * x^(e-1)
Tensor pow(const Tensor& x, const Tensor& exponent);  // also differentiable in the exponent (for x > 0; 0 at x = 0)
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient sign(x), 0 at 0
Tensor sign(const Tensor& x);  // no gradient (zero almost everywhere)
// Clamp to [min, max]; either bound may be absent (not both). Gradient 1 strictly inside the range, 0 outside and at
// the bounds themselves (PyTorch passes it at the bounds). NaN stays NaN; min > max gives max everywhere.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor clamp_min(const Tensor& x, double min);
Tensor clamp_max(const Tensor& x, double max);

Tensor relu(const Tensor& x);  // gradient 0 at x = 0 (PyTorch's convention)
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x);  // log(1 + e^x), computed without overflow

// Elementwise max/min of two tensors; at ties the gradient is split evenly (PyTorch's convention).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Comparisons with a scalar. For int64/bool tensors a non-integer scalar is compared exactly (x < 0.5 is x <= 0),
// not after rounding it to the tensor's dtype.
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

// where(cond, a, b): cond bool; all three broadcast together; gradient flows to a where cond, to b elsewhere.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Logical helpers on bool tensors (no gradient).
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

}  // namespace trident
