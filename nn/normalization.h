// Normalisation layers: batch normalisation and L2 normalisation of embeddings.
#pragma once

#include <cstdint>

#include "trident/nn/module.h"

namespace trident::nn {

// Batch normalisation over the channel dim 1 (ops/norm.h), as torch.nn.BatchNorm1d / BatchNorm2d.
// Parameters (with affine): weight [C] = 1, bias [C] = 0. Buffers (with track_running_stats): running_mean [C] = 0,
// running_var [C] = 1, num_batches_tracked [] int64 = 0.
// Training mode normalises with the batch's statistics and updates the running ones,
//   running = (1 - momentum) running + momentum batch   (unbiased batch variance),
// and counts the batch in num_batches_tracked; evaluation mode normalises with the running statistics. Without
// running statistics both modes use the batch's.
class BatchNormBase : public Module {
 public:
  BatchNormBase(std::int64_t num_features, double eps, double momentum, bool affine, bool track_running_stats);
  // Running statistics back to mean 0, variance 1, no batches.
  void reset_running_stats();
  // reset_running_stats, and weight = 1, bias = 0.
  void reset_parameters();
  std::string extra_repr() const override;

  std::int64_t num_features;
  double eps, momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;                                    // undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without track_running_stats

 protected:
  // x: [N, C] or [N, C, H, W] (checked by the subclass).
  Tensor normalize(const char* layer, const Tensor& x);
};

// x: [N, C] or [N, C, L] -> same shape.
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats) {}
  Tensor forward(const Tensor& x) override;
};

// x: [N, C, H, W] -> same shape.
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : BatchNormBase(num_features, eps, momentum, affine, track_running_stats) {}
  Tensor forward(const Tensor& x) override;
};

// x / max(||x||_2, eps) along dim (ops/distance.h): puts embeddings on the unit sphere, the usual last layer of a
// metric-learning model. x: [*] -> same shape.
class L2Normalize : public Module {
 public:
  explicit L2Normalize(std::int64_t dim = -1, double eps = 1e-12) : dim(dim), eps(eps) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  std::int64_t dim;
  double eps;
};

}  // namespace trident::nn
