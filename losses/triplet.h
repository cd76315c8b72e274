// Triplet margin loss, fused: one autograd node on the prepared embeddings. Semantics: METRIC_LEARNING.md
// "TripletMarginLoss" (docs/metric-learning.md for learners); conventions: losses/metric_common.h.
//
//   embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> [] (the reduced loss)
//
// Per triplet (a, p, n) with y_p = y_a, p != a, y_n != y_a:
//   distances (euclidean, squared_euclidean):  x = d_ap - d_an + margin
//   similarities (cosine, dot):                x = s_an - s_ap + margin      (larger is closer: the comparison flips)
//   loss = [x]_+, or log(1 + exp(x)) with `soft` (computed without overflow).
// swap: d_an <- min(d_an, d_pn) (s_an <- max(s_an, s_pn)): the harder of the anchor's and the positive's view of the
// negative; at a tie d_an is kept. Mining looks at the un-swapped d_an; swap only changes the loss of mined triplets.
// Reductions: Mean over mined triplets, Sum, AvgNonZero (mean over triplets whose loss is > 0; the count is a
// constant for the gradient, as in pytorch-metric-learning). No triplet, or none with a positive loss: the loss is 0
// and the gradient exactly 0.
//
// Mining (TripletMining, with delta = d_an - d_ap, or s_ap - s_an): All, Hard (delta <= 0), SemiHard
// (0 < delta <= margin), Easy (delta > margin; its hinge is 0, but it counts for Mean), BatchHard (per anchor the
// farthest positive and the nearest negative), BatchSemiHard (per (a, p) the nearest negative with delta > 0, else
// the farthest negative). Ties in BatchHard / BatchSemiHard go to the lowest batch index. Anchors without a positive
// or without a negative mine nothing.
//
// Cost: the hinge with All / Hard / SemiHard / Easy and no swap runs in O(B^2 log B) time (Note [All triplets by
// sorted prefix sums] in triplet.cpp); BatchHard / BatchSemiHard select in O(B^2 log B); soft, swap and explicit
// triplets stream over the triplets, O(B^3) time at most. Memory is O(B^2) in every case (the distance matrix and
// its gradient), never one entry per triplet.
#pragma once

#include "trident/core/tensor.h"
#include "trident/losses/metric_common.h"

namespace trident {

struct TripletMarginOptions {
  double margin = 0.2;  // finite; may be 0 (the soft margin of Hermans et al. is soft = true, margin = 0)
  TripletMining mining = TripletMining::All;
  DistanceOptions distance = {};
  bool soft = false;
  bool swap = false;
  MetricReduction reduction = MetricReduction::AvgNonZero;
};

class TripletMarginLoss {
 public:
  explicit TripletMarginLoss(TripletMarginOptions options = {});

  // Mines triplets from the batch with options().mining. embeddings: [B, D], labels: [B] -> [].
  Tensor operator()(const Tensor& embeddings, const Tensor& labels);
  // Uses the given triplets (e.g. from a miner; each [T] int64, T may be 0) and ignores options().mining. Every
  // triplet must be valid: indices in [0, B), p != a, labels[p] == labels[a], labels[n] != labels[a].
  Tensor operator()(const Tensor& embeddings, const Tensor& labels, const TripletIndices& triplets);

  // Of the last call: tuples = triplets mined, active = those with a loss > 0, mean distances (or similarities)
  // over all positive / negative pairs (i != j) of the batch.
  LossStats stats() const { return stats_; }
  const TripletMarginOptions& options() const { return options_; }

 private:
  Tensor forward(const Tensor& embeddings, const Tensor& labels, const TripletIndices* triplets);

  TripletMarginOptions options_;
  LossStats stats_;
};

}  // namespace trident
