// Reductions. x: [*] -> out: x's shape without the reduced dims (or with them kept as size 1 when keepdim).
// Dims may be negative; an empty dim list reduces over everything. Reducing over zero elements: sum gives 0, mean
// NaN, logsumexp -inf, max/min/argmax/argmin are errors. float32 sums accumulate in float64.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor sum(const Tensor& x);  // -> []
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim = false);
// max/min of values (PyTorch's amax/amin): NaN propagates; not defined for bool. The gradient is split evenly
// between tied maxima (Note [Gradient of max and min] in reduce.cpp).
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, const Dims& dims, bool keepdim = false);
// Index (int64) of the first maximum/minimum along dim (the first NaN, if any). No gradient.
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);
// log(sum(exp(x))) over dims, computed with the max subtracted (finite for large inputs); -inf where every element
// is -inf. Gradient: softmax(x) over the reduced elements (0 for an all -inf slice).
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);

// Sum a gradient of a broadcast shape back to `shape` (the shape an input had before broadcasting).
// grad: broadcast(shape, ...) -> shape. Returns grad itself when the shapes already match.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace trident
