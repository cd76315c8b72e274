// BatchNorm1d, BatchNorm2d, L2Normalize. Interfaces: nn/normalization.h.
#include "trident/nn/normalization.h"

#include "trident/core/autograd/grad_mode.h"
#include "trident/nn/init.h"
#include "trident/ops/distance.h"
#include "trident/ops/factory.h"
#include "trident/ops/norm.h"

namespace trident::nn {

BatchNormBase::BatchNormBase(std::int64_t num_features_, double eps_, double momentum_, bool affine_,
                             bool track_running_stats_)
    : num_features(num_features_),
      eps(eps_),
      momentum(momentum_),
      affine(affine_),
      track_running_stats(track_running_stats_) {
  TRIDENT_CHECK(num_features > 0, "BatchNorm: num_features must be positive, got {}", num_features);
  if (affine) {
    weight = register_parameter("weight", empty({num_features}));
    bias = register_parameter("bias", empty({num_features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", empty({num_features}));
    running_var = register_buffer("running_var", empty({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = kInt64}));
  }
  reset_parameters();
}

void BatchNormBase::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

Tensor BatchNormBase::normalize(const char* layer, const Tensor& x) {
  TRIDENT_CHECK(x.size(1) == num_features, "{}: expected {} channels (dim 1), got input of shape {}", layer,
                num_features, shape_str(x.sizes()));
  const Tensor& ref = affine ? weight : running_mean;
  if (ref.defined())
    TRIDENT_CHECK(x.dtype() == ref.dtype(),
                  "{}: input is {} but the module's tensors are {} (convert the input, or the module with .to({}))",
                  layer, x.dtype(), ref.dtype(), x.dtype());
  const bool update = is_training() && track_running_stats;
  // Without running statistics (undefined tensors) batch_norm uses the batch's in both modes.
  Tensor out = batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  if (update) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
  }
  return out;
}

std::string BatchNormBase::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps, momentum, affine,
                     track_running_stats);
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "BatchNorm1d: the input is an undefined tensor");
  TRIDENT_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected input of shape [N, C] or [N, C, L], got {}",
                shape_str(x.sizes()));
  if (x.dim() == 2) return normalize("BatchNorm1d", x);
  // [N, C, L] is normalised as the image [N, C, L, 1]: the statistics of channel c cover all N * L values.
  return normalize("BatchNorm1d", x.unsqueeze(3)).squeeze(3);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "BatchNorm2d: the input is an undefined tensor");
  TRIDENT_CHECK(x.dim() == 4, "BatchNorm2d: expected input of shape [N, C, H, W], got {}", shape_str(x.sizes()));
  return normalize("BatchNorm2d", x);
}

Tensor L2Normalize::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "L2Normalize: the input is an undefined tensor");
  return l2_normalize(x, dim, eps);
}

std::string L2Normalize::extra_repr() const { return fmt::format("dim={}, eps={}", dim, eps); }

}  // namespace trident::nn
