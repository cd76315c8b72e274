// Dropout: in training, zero each element with probability p and scale the rest by 1 / (1 - p) (inverted dropout);
// identity otherwise. x: [*] -> same shape. The mask comes from the generator (default: the global one).
#pragma once

#include "trident/core/random.h"
#include "trident/core/tensor.h"

namespace trident {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace trident
