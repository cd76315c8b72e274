// Parameter initialisation. Interface and formulas: nn/init.h.
#include "trident/nn/init.h"

#include <cmath>

#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/factory.h"

namespace trident::nn::init {

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::SELU:
      return 3.0 / 4.0;
  }
  return 1.0;
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  TRIDENT_CHECK(tensor.defined(), "calculate_fan_in_and_fan_out: undefined tensor");
  TRIDENT_CHECK(tensor.dim() >= 2,
                "calculate_fan_in_and_fan_out: fan in and fan out need a tensor of at least 2 dims, got shape {}",
                shape_str(tensor.sizes()));
  std::int64_t receptive_field = 1;
  for (std::int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

namespace {

void check_target(const char* fn, const Tensor& tensor) { TRIDENT_CHECK(tensor.defined(), "{}: undefined tensor", fn); }

void check_floating_target(const char* fn, const Tensor& tensor) {
  check_target(fn, tensor);
  TRIDENT_CHECK(is_floating(tensor.dtype()), "{}: expected a floating tensor (float32 or float64), got {}", fn,
                tensor.dtype());
}

// Writes src (drawn in tensor's dtype, on its device) into tensor. Tensor::copy_ refuses tensors that require
// gradients while grad mode is on: initialisation is not part of any graph.
Tensor assign(const Tensor& tensor, const Tensor& src) {
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.copy_(src);
  return tensor;
}

std::int64_t fan_of(const char* fn, const Tensor& tensor, FanMode mode) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const std::int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  TRIDENT_CHECK(fan > 0, "{}: the fan of a tensor of shape {} is 0", fn, shape_str(tensor.sizes()));
  return fan;
}

}  // namespace

Tensor uniform_(const Tensor& tensor, double a, double b, Generator* gen) {
  check_floating_target("uniform_", tensor);
  TRIDENT_CHECK(a <= b, "uniform_: expected a <= b, got a = {}, b = {}", a, b);
  if (a == b) return constant_(tensor, a);
  return assign(tensor, uniform(tensor.sizes(), a, b, {.dtype = tensor.dtype(), .device = tensor.device()}, gen));
}

Tensor normal_(const Tensor& tensor, double mean, double std, Generator* gen) {
  check_floating_target("normal_", tensor);
  TRIDENT_CHECK(std >= 0, "normal_: expected std >= 0, got {}", std);
  if (std == 0) return constant_(tensor, mean);
  return assign(tensor, normal(tensor.sizes(), mean, std, {.dtype = tensor.dtype(), .device = tensor.device()}, gen));
}

Tensor constant_(const Tensor& tensor, double value) {
  check_target("constant_", tensor);
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.fill_(value);
  return tensor;
}

Tensor zeros_(const Tensor& tensor) { return constant_(tensor, 0.0); }
Tensor ones_(const Tensor& tensor) { return constant_(tensor, 1.0); }

Tensor kaiming_uniform_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* gen) {
  check_floating_target("kaiming_uniform_", tensor);
  const double fan = static_cast<double>(fan_of("kaiming_uniform_", tensor, mode));
  const double bound = std::sqrt(3.0) * calculate_gain(nonlinearity, a) / std::sqrt(fan);
  return uniform_(tensor, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* gen) {
  check_floating_target("kaiming_normal_", tensor);
  const double fan = static_cast<double>(fan_of("kaiming_normal_", tensor, mode));
  return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan), gen);
}

Tensor xavier_uniform_(const Tensor& tensor, double gain, Generator* gen) {
  check_floating_target("xavier_uniform_", tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  TRIDENT_CHECK(fan_in + fan_out > 0, "xavier_uniform_: the fans of a tensor of shape {} are 0",
                shape_str(tensor.sizes()));
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(tensor, -bound, bound, gen);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Generator* gen) {
  check_floating_target("xavier_normal_", tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  TRIDENT_CHECK(fan_in + fan_out > 0, "xavier_normal_: the fans of a tensor of shape {} are 0",
                shape_str(tensor.sizes()));
  return normal_(tensor, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

}  // namespace trident::nn::init
