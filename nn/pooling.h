// 2-d pooling layers (no parameters). x: [N, C, H, W] -> [N, C, H_out, W_out]; geometry in ops/pool.h.
#pragma once

#include <array>
#include <cstdint>

#include "trident/nn/module.h"
#include "trident/ops/pool.h"

namespace trident::nn {

// Max over each kernel window. nn::MaxPool2d(2) halves H and W (stride defaults to the kernel size).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options(options) {}
  explicit MaxPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0)
      : options{{kernel_size, kernel_size}, {stride, stride}, {padding, padding}} {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Pool2dOptions options;
};

// Mean over each kernel window (padded zeros count, as PyTorch's count_include_pad=True).
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options) : options(options) {}
  explicit AvgPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0)
      : options{{kernel_size, kernel_size}, {stride, stride}, {padding, padding}} {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Pool2dOptions options;
};

// Mean over adaptive windows so that the output is [N, C, out_h, out_w] whatever H and W are;
// nn::AdaptiveAvgPool2d(1) is global average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<std::int64_t, 2> output_size) : output_size(output_size) {}
  explicit AdaptiveAvgPool2d(std::int64_t output_size) : output_size{output_size, output_size} {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  std::array<std::int64_t, 2> output_size;
};

}  // namespace trident::nn
