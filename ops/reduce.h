// Reductions. x: [*] -> out: x's shape without the reduced dims (or with them kept as size 1 when keepdim).
// Dims may be negative; an empty dim list reduces over everything. Reducing an empty tensor: sum gives 0, mean NaN,
// max/min/argmax/argmin are errors.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor sum(const Tensor& x);  // -> []
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim = false);
// max/min of values (PyTorch's amax/amin); the gradient is split evenly between tied maxima.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, const Dims& dims, bool keepdim = false);
// Index (int64) of the first maximum/minimum along dim. No gradient.
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);
// log(sum(exp(x))) over dims, computed with the max subtracted (finite for large inputs).
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);

// Sum a gradient of a broadcast shape back to `shape` (the shape an input had before broadcasting).
// grad: broadcast(shape, ...) -> shape. Returns grad itself when the shapes already match.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace trident
