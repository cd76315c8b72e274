// Multi-similarity loss with its miner (Wang et al. 2019, "Multi-Similarity Loss with General Pair Weighting"), as
// pytorch-metric-learning's MultiSimilarityLoss + MultiSimilarityMiner define it. Conventions of the metric losses:
// losses/metric_common.h.
//   embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> [] (the embeddings' dtype)
//
//   MultiSimilarityLoss loss;              // cosine, alpha 2, beta 50, lambda 0.5, miner epsilon 0.1
//   Tensor l = loss(embeddings, labels);
//   l.backward();
#pragma once

#include "trident/losses/metric_common.h"

namespace trident {

// With s_ij the similarity (cosine by default), for each anchor a, P_a its positives (y_p = y_a, p != a) and N_a its
// negatives, after mining:
//   L_a = 1/alpha log(1 + sum_{p in P_a} e^{-alpha (s_ap - lambda)}) + 1/beta log(1 + sum_{n in N_a} e^{beta (s_an -
//   lambda)}) L = 1/B sum_a L_a
// The mean is over all B anchors: an anchor with nothing mined contributes 0 and still counts in the denominator
// (pytorch-metric-learning reduces the per-anchor losses with its MeanReducer over every row of the matrix).
// Miner (mine = true; pytorch-metric-learning's MultiSimilarityMiner), per anchor a:
//   keep a negative n when s_an + epsilon > min_{p in all positives of a} s_ap,
//   keep a positive p when s_ap - epsilon < max_{n in all negatives of a} s_an  (strict, evaluated as written).
// So an anchor without positives keeps no negative and an anchor without negatives keeps no positive. With
// mine = false every pair counts (one class then still gives the positive terms).
// With a distance instead of a similarity (euclidean, squared euclidean) every comparison flips, as in
// pytorch-metric-learning: the exponents are alpha (d_ap - lambda) and beta (lambda - d_an), the miner keeps negatives
// with d_an - epsilon < max d_ap and positives with d_ap + epsilon > min d_an (lambda should then be a distance).
// Each log(1 + sum e^x) is computed as a log-sum-exp with the implicit term 1 = e^0, the maximum subtracted.
// Unlike pytorch-metric-learning, a batch whose mined lists hold at most one pair of each kind is not turned into a
// zero loss.
struct MultiSimilarityOptions {
  double alpha = 2.0;    // scale of the positive terms
  double beta = 50.0;    // scale of the negative terms
  double base = 0.5;     // lambda
  double epsilon = 0.1;  // the miner's margin
  bool mine = true;
  DistanceOptions distance = {.distance = Distance::Cosine, .normalize = true};
};

class MultiSimilarityLoss {
 public:
  explicit MultiSimilarityLoss(MultiSimilarityOptions options = {});

  Tensor operator()(const Tensor& embeddings, const Tensor& labels);

  // Of the last call: tuples = pairs kept by the miner (positive + negative; every pair i != j with mine = false),
  // active = those whose term e^x is non-zero in floating point (in this loss every kept pair contributes, so
  // active == tuples unless a term underflows; the miner's selectivity is tuples against B (B - 1)),
  // mean_positive / mean_negative = mean s (d for distances) over all positive / negative pairs of the batch.
  LossStats stats() const { return stats_; }
  const MultiSimilarityOptions& options() const { return options_; }

 private:
  MultiSimilarityOptions options_;
  LossStats stats_;
};

}  // namespace trident
