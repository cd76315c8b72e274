// The uniformity regulariser (Wang & Isola 2020, "Understanding Contrastive Representation Learning through
// Alignment and Uniformity on the Hypersphere"), over the pairs of a batch with different labels. Conventions of the
// metric losses: losses/metric_common.h.
//   embeddings: [B, D] float32/float64 (CPU), labels: [B] int64 -> [] (the embeddings' dtype)
//
//   ProxyNCALoss proxy_nca(num_classes, dim);
//   Tensor l = proxy_nca(embeddings, labels) + 0.5 * uniformity_loss(embeddings, labels);
//   l.backward();
#pragma once

#include "trident/core/tensor.h"

namespace trident {

struct UniformityOptions {
  double t = 2.0;         // the kernel's sharpness: exp(-t d^2); > 0
  bool normalize = true;  // L2-normalise the embeddings first (idempotent on embeddings that already are)
};

// Note [Uniformity over different-label pairs]
// With Q the unordered pairs {i, j} of the batch with y_i != y_j and d_ij = ||e_i - e_j||:
//   L = log( 1/|Q| sum_{(i,j) in Q} exp(-t d_ij^2) )
// the log of the mean Gaussian potential between points of different classes. It is lowest when those points are
// spread evenly over the sphere, and it does not look at pairs of the same class, so it never fights a loss that
// pulls a class together. Its gradient, with p_ij = exp(-t d_ij^2) / sum_Q exp(-t d^2) (a softmax over Q):
//   dL/de_i = -2t sum_{j: (i,j) in Q} p_ij (e_i - e_j)
// pushes each point away from its nearest other-class neighbours, the closest ones hardest (a soft "hardest
// negative"). As a regulariser next to a proxy loss it keeps the embedding from spending few directions on the
// training classes: face_verify adds it with weight 0.5 (Note [Uniformity for unseen people] there).
// Computed as logsumexp over Q of -t d^2 minus log |Q| (stable for any t and any distance), composed from
// pairwise_distance, index_select and logsumexp, so autograd forms the gradient above.
// No pair of different labels (one class in the batch): the loss is 0 and its gradient exactly 0, as for the
// metric losses. The inputs are checked as the metric losses check theirs (check_metric_inputs); t <= 0 is an error.
Tensor uniformity_loss(const Tensor& embeddings, const Tensor& labels, UniformityOptions options = {});

}  // namespace trident
