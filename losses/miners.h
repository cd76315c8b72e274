// Standalone miners: which tuples of a batch a metric loss learns from, as index tensors. Semantics: the triplet table
// of ../shared/guide/METRIC_LEARNING.md and the enums in losses/metric_common.h.
//
// embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> int64 index tensors, each [T] (T may be 0).
//
// Common to every miner:
// - Inputs are checked by check_metric_inputs (errors: embeddings not 2-d, labels not int64 or of the wrong length,
//   B < 2, NaN or infinity in the embeddings, another device); a margin that is NaN or infinite is an error.
// - The distance is distance_matrix(prepare_embeddings(embeddings, distance), distance.distance), computed without
//   autograd (a miner returns indices, never gradients). Comparisons are made in float64 on those values.
// - With a similarity (cosine, dot), larger is closer: "nearest" means the largest similarity, "farthest" the
//   smallest, and delta = s_ap - s_an instead of d_an - d_ap. Internally the miners work on the closeness-ordered
//   value c = d (distances) or c = -s (similarities), which is exact, so both directions share one code path.
// - Nothing to mine (one class, all classes distinct, no tuple satisfying the condition) is a defined result: empty
//   index tensors, not an error.
// - Results are deterministic: tuples come sorted lexicographically by their indices, and where a miner picks "the"
//   nearest / farthest element among equal values it takes the lowest index.
#pragma once

#include <cstdint>

#include "trident/core/tensor.h"
#include "trident/losses/metric_common.h"

namespace trident {

// Triplets (a, p, n) with y_p = y_a, p != a, y_n != y_a, and delta = d_an - d_ap (s_ap - s_an for similarities),
// computed in float64:
//   All:           every such triplet                               O(B^3) candidates
//   Hard:          delta <= 0
//   SemiHard:      0 < delta <= margin
//   Easy:          delta > margin
//   BatchHard:     one per anchor: the farthest positive and the nearest negative       O(B^2)
//   BatchSemiHard: one per (a, p): the nearest negative with d_an > d_ap (s_an < s_ap); if there is none, the
//                  farthest negative (TensorFlow Addons' triplet_semihard_loss)           O(B^2)
// Ties (BatchHard, BatchSemiHard): the lowest index among equal values. Sorted by (a, p, n). An anchor without a
// positive or without a negative gives no triplet. margin matters only for SemiHard and Easy; it may be negative
// (SemiHard then mines nothing).
TripletIndices mine_triplets(const Tensor& embeddings, const Tensor& labels, TripletMining mining, double margin = 0.2,
                             DistanceOptions distance = {});

// Pairs, sorted by (first, second) index: positive pairs (a1[i], p[i]) with y equal, negative pairs (a2[j], n[j]) with
// y different, over ordered pairs i != j (so (i, j) and (j, i) both appear).
//   All:  every ordered pair.
//   Hard: distances: positives with d > pos_margin, negatives with d < neg_margin (the pairs with a non-zero
//         contrastive hinge). Similarities (cosine, dot), the direction flips: positives with s < pos_margin,
//         negatives with s > neg_margin (e.g. cosine with pos_margin = 1, neg_margin = 0).
// The margins matter only for Hard.
PairIndices mine_pairs(const Tensor& embeddings, const Tensor& labels, PairMining mining, double pos_margin = 0.0,
                       double neg_margin = 1.0, DistanceOptions distance = {});

// Quadruplets (a, p, n, l, k) of the quadruplet loss (Chen et al. 2017): y_p = y_a, p != a; y_n != y_a;
// y_l != y_a, y_k != y_a, y_l != y_k (so l != k).
struct QuadrupletIndices {
  Tensor anchor, positive, negative, l, k;
  std::int64_t size() const { return anchor.defined() ? anchor.numel() : 0; }
};

// Batch-hard quadruplets: per anchor the farthest positive, the nearest negative, and the closest ordered pair (l, k)
// of two different classes that are both not the anchor's class (the same pair for every anchor of a class). Ties:
// the lowest index, for (l, k) the lexicographically lowest pair (so l < k when the distance is symmetric). An anchor
// without a positive, a negative or such a pair (fewer than three classes in the batch) gives none. Sorted by anchor.
// O(B^2): the closest pair excluding class c is the globally closest pair unless that pair involves c, so only three
// scans of the B x B matrix are needed.
QuadrupletIndices mine_quadruplets_batch_hard(const Tensor& embeddings, const Tensor& labels,
                                              DistanceOptions distance = {.distance = Distance::SquaredEuclidean});

// The same miners on a precomputed [B, B] matrix `d` of `distance` (a distance, or a similarity for cosine and dot),
// for losses that already have the matrix (the loss and its miner then see identical values). d: [B, B] float32 or
// float64 on the CPU; labels: [B] int64. No input checks beyond shapes: the caller has run check_metric_inputs.
TripletIndices mine_triplets_from_matrix(const Tensor& d, const Tensor& labels, TripletMining mining, double margin,
                                         Distance distance);
PairIndices mine_pairs_from_matrix(const Tensor& d, const Tensor& labels, PairMining mining, double pos_margin,
                                   double neg_margin, Distance distance);
QuadrupletIndices mine_quadruplets_batch_hard_from_matrix(const Tensor& d, const Tensor& labels, Distance distance);

}  // namespace trident
