// Naive, obviously correct indexing: the oracle that the CPU (and CUDA) indexing kernels are tested against.
//
// Each function takes CPU tensors of any strides and dtype, copies them into plain C-order vectors of double (and
// int64 for the index), computes with loops over multi-indices written straight from the definition, and returns a
// fresh contiguous tensor of x's dtype. No checks beyond the kernel contract (backends/kernels.h): indices must be in
// range. Slow by design; for tests only.
#pragma once

#include <cstdint>

#include "trident/core/tensor.h"

namespace trident::reference {

// out[..., j, ...] = x[..., index[j], ...]; x: [..., n, ...], index: [k] -> [..., k, ...]
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// out[p] = x[p with p[dim] := index[p]]; x: [*], index: [*] (x's rank) -> index's shape
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// A copy of x with out[p with p[dim] := index[p]] += src[p]; x: [*], index and src: [*] (x's rank) -> x's shape
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace trident::reference
