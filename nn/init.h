// Parameter initialisation, as torch.nn.init: every function fills its tensor in place (under NoGradGuard, so it
// may be a parameter that requires a gradient) and returns it. Random ones draw from `gen` (default: the global
// generator, seeded by manual_seed), so a seed reproduces a model's initial weights.
//
// Fans (calculate_fan_in_and_fan_out) for a weight of shape [out, in, k...]: fan_in = in * prod(k), fan_out =
// out * prod(k): Linear [out, in] -> (in, out); Conv2d [C_out, C_in / groups, kH, kW] -> (C_in/groups kH kW,
// C_out kH kW).
#pragma once

#include <cstdint>
#include <utility>

#include "trident/core/random.h"
#include "trident/core/tensor.h"

namespace trident::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Conv2d, Sigmoid, Tanh, ReLU, LeakyReLU, SELU };

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for Linear, Conv2d and Sigmoid, 5/3 for
// Tanh, sqrt(2) for ReLU, sqrt(2 / (1 + slope^2)) for LeakyReLU (param = the negative slope), 3/4 for SELU.
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
// {fan_in, fan_out} of a weight of at least 2 dims (see above); an error for fewer.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor uniform_(const Tensor& tensor, double a = 0.0, double b = 1.0, Generator* gen = nullptr);  // U[a, b)
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);

// He et al. 2015: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a), fan
// chosen by mode. PyTorch's Linear and Conv2d use kaiming_uniform_(w, sqrt(5)), which gives bound = 1 / sqrt(fan_in).
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
// N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
// Glorot & Bengio 2010: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Generator* gen = nullptr);
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Generator* gen = nullptr);

}  // namespace trident::nn::init
