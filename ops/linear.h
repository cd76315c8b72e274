// The fully connected layer's product as one op: y = x W^T + b (torch.nn.functional.linear).
//   x: [*, in], weight: [out, in], bias: [out] or undefined -> [*, out]
// One autograd node instead of a matmul, a transpose and a broadcast add: the forward writes the product into the
// output and adds the bias in place; the backward is two matrix products and a column sum.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace trident
