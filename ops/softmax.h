// softmax and log_softmax along one dim (negative dims count from the end). x: [*] -> same shape, float32/float64.
// Stable: the max of each slice is subtracted before exp, so large inputs (1000.0) do not overflow. -inf entries get
// probability 0 (log-probability -inf). A slice that is all -inf, or holds +inf or NaN, defines no distribution and
// gives NaN, as in PyTorch. The gradient is computed from the output alone (Note [Softmax gradient] in softmax.cpp).
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

}  // namespace trident
