// Fully connected layers: Linear, and Identity and Flatten, which reshape or pass data through.
#pragma once

#include <cstdint>

#include "trident/core/random.h"
#include "trident/nn/module.h"

namespace trident::nn {

// y = x W^T + b.  x: [*, in_features] -> [*, out_features].
// Parameters: weight [out_features, in_features], bias [out_features] (absent with bias = false), initialised as
// PyTorch does: W ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and b ~ U(-1/sqrt(in),
// 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  // Draws the initial values again (from gen, default the global generator).
  void reset_parameters(Generator* gen = nullptr);
  std::string extra_repr() const override;

  std::int64_t in_features, out_features;
  Tensor weight;
  Tensor bias;  // undefined without bias
};

// Returns its input unchanged (a placeholder, e.g. to remove a model's head).
class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
};

// Flattens dims start_dim..end_dim into one: [N, C, H, W] -> [N, C*H*W] with the defaults (1, -1).
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  std::int64_t start_dim, end_dim;
};

}  // namespace trident::nn
