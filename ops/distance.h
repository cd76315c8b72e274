// Normalisation and pairwise distances for metric learning. Semantics: docs and METRIC_LEARNING.md.
#pragma once

#include <limits>

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

// Note [Rounding floor of GEMM distances]
// The squared euclidean distance comes from one GEMM as |x|^2 + |y|^2 - 2 x.y. For two equal vectors the three terms
// cancel, but each carries rounding error of a few ulps of |x|^2 + |y|^2, so a duplicate pair comes out ~1e-8 apart
// in float64 (~1e-3 in float32) instead of 0 -- and the zero-distance rule never applies to it. Values at or below
// rounding_floor<T>() * (|x|^2 + |y|^2) = 8 eps (|x|^2 + |y|^2) cannot be told from 0 by this formula and are set to
// exactly 0 (after the clamp that already maps negative results to 0). For unit vectors that is d < 7e-8 in float64
// and d < 1.4e-3 in float32, the resolution of the one-GEMM form in that precision.
template <typename T>
constexpr T rounding_floor() {
  return T(8) * std::numeric_limits<T>::epsilon();
}

// x: [N, D], y: [M, D] -> [N, M]. With y undefined, y = x.
// Note [Zero distance]: d/dx of sqrt at 0 is undefined; trident uses the subgradient 0 there, so duplicated
// embeddings give finite gradients (never NaN).
Tensor pairwise_distance(const Tensor& x, const Tensor& y = Tensor(), Distance distance = Distance::Euclidean);

}  // namespace trident
