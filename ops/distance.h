// Normalisation and pairwise distances for metric learning. Semantics: docs and METRIC_LEARNING.md.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

// x / max(||x||_2, eps) along dim. x: [*] -> same shape.
Tensor l2_normalize(const Tensor& x, std::int64_t dim = -1, double eps = 1e-12);

enum class Distance {
  Euclidean,         // ||x_i - y_j||_2, from one GEMM: sqrt(max(|x_i|^2 + |y_j|^2 - 2 x_i.y_j, 0))
  SquaredEuclidean,  // ||x_i - y_j||_2^2
  Cosine,            // x^_i . y^_j (a similarity: larger is closer)
  Dot,               // x_i . y_j (a similarity)
};
const char* distance_name(Distance d);
bool is_similarity(Distance d);  // cosine and dot: larger means closer

// x: [N, D], y: [M, D] -> [N, M]. With y undefined, y = x.
// Note [Zero distance]: d/dx of sqrt at 0 is undefined; trident uses the subgradient 0 there, so duplicated
// embeddings give finite gradients (never NaN).
Tensor pairwise_distance(const Tensor& x, const Tensor& y = Tensor(), Distance distance = Distance::Euclidean);

}  // namespace trident
