// Indexing ops. Index tensors are int64; an index out of range is an error naming the op, the index and the size.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

// x: [..., n, ...] (n at dim), index: [k] -> [..., k, ...]. Gradient: scatter-add back along dim.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// out[i][j] = x[index[i][j]][j] (dim 0) etc.; index has x's rank, sizes <= x's except along dim -> index's shape.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// A copy of x with src added at the positions index names along dim (out[index[i][j]][j] += src[i][j] for dim 0).
// index and src have the same shape. Differentiable in x and src.
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
// labels: [*] int64 in [0, num_classes) -> [*, num_classes] of `dtype` (default float32). No gradient.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype = kFloat32);

}  // namespace trident
