// Linear, Flatten. Interfaces: nn/linear.h.
#include "trident/nn/linear.h"

#include <cmath>

#include "trident/nn/init.h"
#include "trident/ops/linear.h"
#include "trident/ops/shape.h"

namespace trident::nn {

Linear::Linear(std::int64_t in_features_, std::int64_t out_features_, bool with_bias)
    : in_features(in_features_), out_features(out_features_) {
  TRIDENT_CHECK(in_features >= 0 && out_features >= 0,
                "Linear: in_features and out_features must be non-negative, got {} and {}", in_features, out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Linear::reset_parameters(Generator* gen) {
  if (weight.numel() > 0)
    init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
  if (bias.defined()) {
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)); no fan (in_features = 0) leaves nothing to scale by: PyTorch uses 0.
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "Linear: the input is an undefined tensor");
  TRIDENT_CHECK(x.dim() >= 1 && x.size(-1) == in_features,
                "Linear: expected input with {} features (last dim), got shape {}", in_features, shape_str(x.sizes()));
  TRIDENT_CHECK(x.dtype() == weight.dtype(),
                "Linear: input is {} but the parameters are {} (convert the input, or the module with .to({}))",
                x.dtype(), weight.dtype(), x.dtype());
  TRIDENT_CHECK(x.device() == weight.device(),
                "Linear: input is on {} but the parameters are on {} (move one of them with .to(device))", x.device(),
                weight.device());
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features, bias.defined());
}

Tensor Flatten::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "Flatten: the input is an undefined tensor");
  return x.flatten(start_dim, end_dim);
}

std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", start_dim, end_dim); }

}  // namespace trident::nn
