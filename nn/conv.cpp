// Conv2d. Interface: nn/conv.h.
#include "trident/nn/conv.h"

#include <cmath>

#include "trident/nn/init.h"

namespace trident::nn {

Conv2d::Conv2d(std::int64_t in_channels_, std::int64_t out_channels_, std::array<std::int64_t, 2> kernel_size_,
               const Conv2dOptions& options_, bool with_bias)
    : in_channels(in_channels_), out_channels(out_channels_), kernel_size(kernel_size_), options(options_) {
  TRIDENT_CHECK(in_channels > 0 && out_channels > 0, "Conv2d: channel counts must be positive, got {} and {}",
                in_channels, out_channels);
  TRIDENT_CHECK(kernel_size[0] > 0 && kernel_size[1] > 0, "Conv2d: kernel_size must be positive, got ({}, {})",
                kernel_size[0], kernel_size[1]);
  TRIDENT_CHECK(options.groups >= 1, "Conv2d: groups must be at least 1, got {}", options.groups);
  TRIDENT_CHECK(in_channels % options.groups == 0 && out_channels % options.groups == 0,
                "Conv2d: in_channels ({}) and out_channels ({}) must both be divisible by groups ({})", in_channels,
                out_channels, options.groups);
  weight =
      register_parameter("weight", empty({out_channels, in_channels / options.groups, kernel_size[0], kernel_size[1]}));
  if (with_bias) bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters(Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
  if (bias.defined()) {
    const auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "Conv2d: the input is an undefined tensor");
  TRIDENT_CHECK(x.dim() == 4 && x.size(1) == in_channels, "Conv2d: expected input of shape [N, {}, H, W], got {}",
                in_channels, shape_str(x.sizes()));
  TRIDENT_CHECK(x.dtype() == weight.dtype(),
                "Conv2d: input is {} but the parameters are {} (convert the input, or the module with .to({}))",
                x.dtype(), weight.dtype(), x.dtype());
  return conv2d(x, weight, bias, options);
}

namespace {
std::string pair_str(const std::array<std::int64_t, 2>& p) { return fmt::format("({}, {})", p[0], p[1]); }
}  // namespace

// PyTorch's form: the arguments that differ from their defaults are shown.
std::string Conv2d::extra_repr() const {
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, pair_str(kernel_size),
                              pair_str(options.stride));
  if (options.padding != std::array<std::int64_t, 2>{0, 0}) s += ", padding=" + pair_str(options.padding);
  if (options.dilation != std::array<std::int64_t, 2>{1, 1}) s += ", dilation=" + pair_str(options.dilation);
  if (options.groups != 1) s += fmt::format(", groups={}", options.groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

}  // namespace trident::nn
