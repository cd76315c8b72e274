// Activation layers. Interfaces: nn/activation.h.
#include "trident/nn/activation.h"

#include "trident/ops/activation.h"
#include "trident/ops/elementwise.h"

namespace trident::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return fmt::format("negative_slope={}", negative_slope); }

Tensor GELU::forward(const Tensor& x) { return gelu(x); }

Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }

Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

}  // namespace trident::nn
