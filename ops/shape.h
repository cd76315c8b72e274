// Shape ops. All of these except cat/stack (and reshape/contiguous when a copy is needed) return views that share
// the input's storage; their gradients are the inverse reshaping of the incoming gradient.
#pragma once

#include <vector>

#include "trident/core/tensor.h"

namespace trident {

Tensor reshape(const Tensor& x, const Shape& shape);  // one size may be -1
Tensor view(const Tensor& x, const Shape& shape);     // error when x's strides do not allow a view
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const Dims& order);
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor squeeze(const Tensor& x);                    // drops every size-1 dim
Tensor squeeze(const Tensor& x, std::int64_t dim);  // drops dim if it has size 1
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);  // size-1 dims grow (stride 0); -1 keeps a size
// x[..., start:end:step, ...] along dim; start/end are clamped to the size, negative values count from the end.
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);

// Concatenate along an existing dim / stack along a new one. All tensors: same dtype, device, and sizes except dim.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);

}  // namespace trident
