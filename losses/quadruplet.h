// The quadruplet loss (Chen et al. 2017, "Beyond triplet loss"). Semantics: ../shared/guide/METRIC_LEARNING.md.
//
// embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> [] (the embeddings' dtype)
//
// Per quadruplet (a, p, n, l, k) mined by mine_quadruplets_batch_hard (losses/miners.h): y_p = y_a, p != a,
// y_n != y_a, y_l != y_a, y_k != y_a, y_l != y_k,
//   l_q = [d_ap - d_an + margin1]_+ + [d_ap - d_lk + margin2]_+
// (similarities, cosine and dot: l_q = [s_an - s_ap + margin1]_+ + [s_lk - s_ap + margin2]_+). The second term pushes
// away a negative pair (l, k) that does not contain the anchor, with a weaker margin (margin2 < margin1 in the
// paper; not enforced).
//
// Reduction over quadruplets (not over hinge terms): Mean divides the sum by the number of mined quadruplets, Sum
// keeps it, AvgNonZero (default) divides by the number of quadruplets whose l_q > 0, i.e. with at least one active
// hinge -- a quadruplet counts once even when both hinges are active. stats(): tuples = quadruplets mined, active =
// those with l_q > 0.
//
// Defined results vs errors:
// - Errors (trident::Error starting with "QuadrupletLoss"): the inputs rejected by check_metric_inputs (embeddings
//   not 2-d, labels not int64 or of the wrong length, B < 2, NaN or infinity, not on the CPU); a margin that is NaN
//   or infinite (at construction).
// - No quadruplet (fewer than three classes, or no anchor with a positive), or none active under AvgNonZero: the
//   loss is 0 and the gradient exactly 0 (the graph is still built, so backward() works).
// - Duplicated embeddings: finite gradients (Note [Zero distance] in ops/distance.h).
//
// Fused: one autograd node on the prepared embeddings (prepare_embeddings); its backward forms G = dL/dD by hand and
// calls distance_matrix_backward (Note [Quadruplet loss gradient] in quadruplet.cpp).
#pragma once

#include "trident/core/tensor.h"
#include "trident/losses/metric_common.h"

namespace trident {

struct QuadrupletLossOptions {
  double margin1 = 1.0;  // alpha_1: anchor-negative margin
  double margin2 = 0.5;  // alpha_2: the weaker margin against a negative pair without the anchor
  DistanceOptions distance = {.distance = Distance::SquaredEuclidean};
  MetricReduction reduction = MetricReduction::AvgNonZero;
  // Mining is batch-hard (the paper's): per anchor the farthest positive, the nearest negative and the closest
  // pair of two other classes; see mine_quadruplets_batch_hard.
};

class QuadrupletLoss {
 public:
  explicit QuadrupletLoss(QuadrupletLossOptions options = {});

  // embeddings: [B, D], labels: [B] -> []
  Tensor operator()(const Tensor& embeddings, const Tensor& labels);

  // Of the last call (all NaN / 0 before the first). Distances in the loss's own distance (similarities for cosine
  // and dot); mean_positive / mean_negative over every positive / negative ordered pair i != j of the batch.
  LossStats stats() const { return stats_; }
  const QuadrupletLossOptions& options() const { return options_; }

 private:
  QuadrupletLossOptions options_;
  LossStats stats_;
};

}  // namespace trident
