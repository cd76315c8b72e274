// Naive reductions: the oracle that the CPU (and CUDA) reduction kernels are tested against.
//
// Plain loops over every input element in C order, accumulating sums in float64 (int64 for integers), with no
// vectorisation, threads or layout tricks; slow and obviously correct. CPU tensors only.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// The contract of kernels::reduce: out (contiguous, in's rank) holds op over the dims where out.size(d) == 1 and
// in.size(d) != 1.
void reduce(kernels::ReduceOp op, const Tensor& in, const Tensor& out);

}  // namespace trident::reference
