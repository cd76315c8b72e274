// 2-d convolution layer.
#pragma once

#include <array>
#include <cstdint>

#include "trident/core/random.h"
#include "trident/nn/module.h"
#include "trident/ops/conv.h"

namespace trident::nn {

// x: [N, in_channels, H, W] -> [N, out_channels, H_out, W_out] (geometry: ops/conv.h).
// Parameters: weight [out_channels, in_channels / groups, kH, kW], bias [out_channels] (absent with bias = false),
// initialised as PyTorch does: kaiming_uniform_(a = sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
// fan_in = in_channels / groups * kH * kW.
//   nn::Conv2d(1, 32, 3)                                  3x3, stride 1, no padding
//   nn::Conv2d(32, 64, 3, {.stride = {2, 2}, .padding = {1, 1}})
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::array<std::int64_t, 2> kernel_size,
         const Conv2dOptions& options = {}, bool bias = true);
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         const Conv2dOptions& options = {}, bool bias = true)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, options, bias) {}
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator* gen = nullptr);
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels;
  std::array<std::int64_t, 2> kernel_size;
  Conv2dOptions options;
  Tensor weight;
  Tensor bias;  // undefined without bias
};

}  // namespace trident::nn
