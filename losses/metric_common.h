// What every metric-learning loss and miner shares: distance options, input checks, the distance matrix and its
// backward, per-call statistics. Semantics: ../shared/guide/METRIC_LEARNING.md (docs/metric-learning.md for learners).
//
// Conventions of the metric losses (losses/triplet.h, losses/pair.h, losses/proxy.h, ...):
// - Inputs: embeddings [B, D] float32/float64 on the CPU, labels [B] int64 (any values: only equality matters).
// - Errors (trident::Error naming the loss): embeddings not 2-d, labels not int64 or of the wrong length, B < 2,
//   a NaN or infinity in the embeddings, a tensor on another device.
// - No tuple to learn from (one class: no negatives; all classes distinct: no positives; nothing mined): the loss
//   is 0 and the gradient is exactly 0 -- a defined result, not an error, since a sampler may produce such a batch.
// - A loss is one autograd node on the prepared embeddings (see prepare_embeddings): its forward computes the value
//   and what backward needs; its backward forms G = dL/dD (B x B) by hand and turns it into dL/de with
//   distance_matrix_backward (one GEMM).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "trident/core/autograd/node.h"
#include "trident/core/tensor.h"
#include "trident/ops/distance.h"

namespace trident {

// How a loss measures closeness. normalize: L2-normalise the embeddings first (on by default, as in most of the
// literature). Cosine always normalises (it is the dot product of normalised vectors).
struct DistanceOptions {
  Distance distance = Distance::Euclidean;
  bool normalize = true;
};
std::string to_string(const DistanceOptions& d);  // "euclidean, normalize=true"

// How mined tuples' losses become one number. AvgNonZero: the mean over tuples whose loss is > 0
// (pytorch-metric-learning's default); 0 when there is none.
enum class MetricReduction { Mean, Sum, AvgNonZero };
const char* reduction_name(MetricReduction r);

// Which triplets (a, p, n) count; the table "Triplets: which ones count" in METRIC_LEARNING.md.
// With delta = d_an - d_ap (s_ap - s_an for similarities): All: every valid triplet; Hard: delta <= 0;
// SemiHard: 0 < delta <= margin; Easy: delta > margin; BatchHard: per anchor the farthest positive and the nearest
// negative; BatchSemiHard: per (a, p) the nearest negative with d_an > d_ap, or the farthest negative if none.
enum class TripletMining { All, Hard, SemiHard, Easy, BatchHard, BatchSemiHard };
const char* mining_name(TripletMining m);

// Which pairs count for pair losses. All: every ordered pair i != j. Hard: the pairs with a non-zero contrastive
// hinge: positives with d > pos_margin, negatives with d < neg_margin (directions flip for similarities).
enum class PairMining { All, Hard };
const char* mining_name(PairMining m);

// Mined tuples as int64 index tensors into the batch, each [T] (T may be 0).
struct TripletIndices {
  Tensor anchor, positive, negative;
  std::int64_t size() const { return anchor.defined() ? anchor.numel() : 0; }
};
// Positive pairs (a1[i], p[i]) and negative pairs (a2[j], n[j]), as in pytorch-metric-learning.
struct PairIndices {
  Tensor a1, p, a2, n;
};

// What one call of a loss saw, for learners and for logs. Distances are in the loss's own distance (similarities
// for cosine and dot). Fields without data (no positive pairs, ...) are NaN.
struct LossStats {
  std::int64_t tuples = 0;  // tuples mined (triplets, pairs, quadruplets, or samples for proxy losses)
  std::int64_t active = 0;  // of those, how many have a non-zero loss
  double active_fraction = std::numeric_limits<double>::quiet_NaN();  // active / tuples
  double mean_positive = std::numeric_limits<double>::quiet_NaN();    // mean d over positive pairs in the batch
  double mean_negative = std::numeric_limits<double>::quiet_NaN();    // mean d over negative pairs in the batch
};

// Checks a loss's or miner's inputs (the list in the header comment above); `op` prefixes every message.
void check_metric_inputs(const char* op, const Tensor& embeddings, const Tensor& labels);

// The embeddings the distance is computed on: l2_normalize(x) when options.normalize or the distance is cosine,
// x itself otherwise. Differentiable (autograd chains the normalisation's gradient).
Tensor prepare_embeddings(const Tensor& x, const DistanceOptions& options);

// e: [B, D] prepared embeddings -> [B, B] matrix of the distance (or similarity), without autograd. Euclidean
// distances come from one GEMM, clamped at 0, with an exact 0 diagonal. Cosine is e e^T (e is normalised).
Tensor distance_matrix(const Tensor& e, Distance distance);

// Note [Distance-matrix backward]
// Given G = dL/dD for D = distance_matrix(e) (D_ij a function of e_i and e_j), returns dL/de [B, D]:
//   dot / cosine (on normalised e):  (G + G^T) e
//   squared euclidean:               2 (diag((G + G^T) 1) e - (G + G^T) e)
//   euclidean, W = G / D (0 where D = 0, Note [Zero distance]):  diag((W + W^T) 1) e - (W + W^T) e
// Exact for every G, the diagonal included. Not an autograd op: call it inside a backward node.
Tensor distance_matrix_backward(const Tensor& e, const Tensor& d, const Tensor& g, Distance distance);

// The backward node shared by the losses whose forward saves e, D and G = dL/dD for an upstream gradient of 1
// (contrastive, multi-similarity, quadruplet): dL/de = grad * distance_matrix_backward(e, D, G) -- linear in G, so the
// [B, D] result is scaled rather than the [B, B] G. Build it with
// autograd::make_node<DistanceMatrixLossBackward>({&e}), set `label` and `distance`, and save e, D and G into the three
// slots.
struct DistanceMatrixLossBackward final : autograd::Node {
  std::string label;  // the node's name, e.g. "ContrastiveLossBackward"
  Distance distance = Distance::Euclidean;
  std::size_t emb = 0, dist = 0, dldd = 0;  // saved: e, D (for euclidean's W = G / D), G
  std::string name() const override { return label; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    if (!needs_input_grad(0)) return {Tensor()};
    return {distance_matrix_backward(saved(emb), saved(dist), saved(dldd), distance) * grad};
  }
};

// sum / n, or NaN when n = 0: the LossStats means of an empty set ("no positives in this batch", not 0).
inline double mean_or_nan(double sum, std::int64_t n) {
  return n > 0 ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

// Equal-label matrix: labels [B] int64 -> [B, B] bool, true where y_i == y_j (including the diagonal).
Tensor same_label_matrix(const Tensor& labels);

}  // namespace trident
