// Contrastive loss over pairs (Hadsell et al. 2006; pytorch-metric-learning's ContrastiveLoss). Semantics:
// ../shared/guide/METRIC_LEARNING.md ("ContrastiveLoss"); conventions of the metric losses: losses/metric_common.h.
//   embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> [] (the embeddings' dtype)
//
//   ContrastiveLoss loss({.neg_margin = 0.5});
//   Tensor l = loss(embeddings, labels);   // all ordered pairs i != j
//   l.backward();
//   LossStats s = loss.stats();            // of the last call
#pragma once

#include "trident/losses/metric_common.h"

namespace trident {

// The loss of one pair (i, j), i != j, with d = d_ij the distance (s = s_ij for the similarities cosine and dot):
//                  positive (y_i == y_j)        negative (y_i != y_j)
//   distance       h = d - pos_margin           h = neg_margin - d
//   similarity     h = pos_margin - s           h = s - neg_margin
//   l = [h]_+,  or with squared: l = 1/2 [h]_+^2.
// squared on a distance is Hadsell et al. 2006: 1/2 d^2 for positives (pos_margin = 0; a non-zero pos_margin enters
// as 1/2 [d - pos_margin]_+^2, i.e. positives within pos_margin are not pulled) and 1/2 [neg_margin - d]_+^2 for
// negatives. Hadsell et al. use the plain euclidean distance: {.distance = {.normalize = false}, .squared = true}.
//
// Margins: the defaults (0, 1) are for distances, as pytorch-metric-learning's. For a similarity (cosine, dot) every
// comparison flips and they are no sensible choice: with cosine, pos_margin = 1, neg_margin = 0 (the values
// pytorch-metric-learning recommends for CosineSimilarity) pull positives towards s = 1 and push negatives below
// s = 0, e.g. {.pos_margin = 1, .neg_margin = 0, .distance = {.distance = Distance::Cosine}}.
//
// Reduction: the losses of positive pairs and those of negative pairs are reduced separately and summed
// (pytorch-metric-learning): AvgNonZero: each part's sum over its pairs with l > 0, divided by their number (0 when
// there is none); Mean: divided by the number of the part's pairs; Sum: the sum. Pairs are ordered: (i, j) and (j, i)
// both count, as in pytorch-metric-learning's all-pairs indices.
// Mining: All keeps every pair; Hard keeps the pairs with h > 0 (so it changes only Mean, and the stats).
// Unlike pytorch-metric-learning, a pair list with at most one pair of each kind is not turned into a zero loss.
struct ContrastiveOptions {
  double pos_margin = 0.0;
  double neg_margin = 1.0;
  DistanceOptions distance = {};
  bool squared = false;
  PairMining mining = PairMining::All;
  MetricReduction reduction = MetricReduction::AvgNonZero;
};

class ContrastiveLoss {
 public:
  explicit ContrastiveLoss(ContrastiveOptions options = {});

  // Every ordered pair i != j: positives where y_i == y_j, negatives otherwise.
  Tensor operator()(const Tensor& embeddings, const Tensor& labels);
  // The given pairs (e.g. a miner's), each int64 [T] with values in [0, B); an undefined tensor is an empty list.
  // Positive pairs must have equal labels, negative pairs different labels. A pair listed twice counts twice.
  Tensor operator()(const Tensor& embeddings, const Tensor& labels, const PairIndices& pairs);

  // Of the last call: tuples = pairs kept (positive + negative, after mining), active = those with l > 0,
  // mean_positive / mean_negative = mean d (s for similarities) over all positive / negative pairs of the batch.
  LossStats stats() const { return stats_; }
  const ContrastiveOptions& options() const { return options_; }

 private:
  Tensor forward(const Tensor& embeddings, const Tensor& labels, const PairIndices* pairs);

  ContrastiveOptions options_;
  LossStats stats_;
};

}  // namespace trident
