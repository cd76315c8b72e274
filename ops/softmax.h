// softmax and log_softmax along one dim. x: [*] -> same shape. Stable (max subtracted).
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

}  // namespace trident
