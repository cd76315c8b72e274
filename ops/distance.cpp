// Normalisation and pairwise distances. Semantics: ops/distance.h and ../shared/guide/METRIC_LEARNING.md.
#include "trident/ops/distance.h"

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/matmul.h"
#include "trident/ops/reduce.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;

const char* distance_name(Distance d) {
  switch (d) {
    case Distance::Euclidean:
      return "euclidean";
    case Distance::SquaredEuclidean:
      return "squared_euclidean";
    case Distance::Cosine:
      return "cosine";
    case Distance::Dot:
      return "dot";
  }
  return "?";
}

bool is_similarity(Distance d) { return d == Distance::Cosine || d == Distance::Dot; }

// x: [*] -> same shape; composed from differentiable ops, so autograd derives its gradient.
Tensor l2_normalize(const Tensor& x, std::int64_t dim, double eps) {
  check_defined("l2_normalize", x);
  check_floating("l2_normalize", x);
  TRIDENT_CHECK(x.dim() > 0, "l2_normalize: expected at least 1 dim, got a 0-d tensor");
  // max(||x||, eps) computed as sqrt(max(||x||^2, eps^2)): the same value, but the clamp comes before the sqrt, so a
  // zero vector never reaches sqrt's derivative at 0 (0 * inf = NaN); its gradient is then exactly 0.
  const Tensor norm = sqrt(clamp_min(sum(x * x, {dim}, true), eps * eps));
  return x / norm;
}

namespace {

// Note [Gradient of euclidean pairwise distances]
// D_ij = ||x_i - y_j|| computed as sqrt(max(|x_i|^2 + |y_j|^2 - 2 x_i.y_j, 0)). For an upstream gradient G = dL/dD:
//   dD_ij/dx_i = (x_i - y_j) / D_ij,   dD_ij/dy_j = (y_j - x_i) / D_ij,
// and 0 when D_ij = 0 (Note [Zero distance] in ops/distance.h). With W = G / D (0 where D = 0):
//   dL/dx = diag(W 1) x - W y          [N, D]
//   dL/dy = diag(W^T 1) y - W^T x      [M, D]
// two GEMMs, never an N x M x D tensor. For squared distances W = 2G and no division is needed.
// When y is x (one input used twice) the engine adds the two gradients.
struct PairwiseEuclideanBackward final : Node {
  bool squared = false;
  std::size_t x = 0, y = 0, dist = 0;  // saved: both inputs (the gradient is linear in them) and D (for W = G / D)
  std::string name() const override {
    return squared ? "PairwiseSquaredEuclideanBackward" : "PairwiseEuclideanBackward";
  }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor xv = saved(x), yv = saved(y);
    Tensor w;
    if (squared) {
      w = grad * 2.0;
    } else {
      const Tensor d = saved(dist);
      const Tensor positive = d.gt(0.0);
      // where() keeps the division's inf/NaN at D = 0 out of the result.
      w = where(positive, grad / where(positive, d, ones_like(d)), zeros_like(d));
    }
    Tensor gx, gy;
    if (needs_input_grad(0)) gx = xv * w.sum({1}, true) - matmul(w, yv);
    if (needs_input_grad(1)) gy = yv * w.sum({0}).unsqueeze(1) - matmul(w.t(), xv);
    return {gx, gy};
  }
};

}  // namespace

// x: [N, D], y: [M, D] -> [N, M]
Tensor pairwise_distance(const Tensor& x, const Tensor& y_in, Distance distance) {
  check_defined("pairwise_distance", x);
  check_floating("pairwise_distance", x);
  const bool self = !y_in.defined();
  const Tensor y = self ? x : y_in;
  TRIDENT_CHECK(x.dim() == 2, "pairwise_distance: x must be 2-d [N, D], got shape {}", shape_str(x.sizes()));
  TRIDENT_CHECK(y.dim() == 2, "pairwise_distance: y must be 2-d [M, D], got shape {}", shape_str(y.sizes()));
  TRIDENT_CHECK(x.size(1) == y.size(1), "pairwise_distance: embedding sizes differ: {} and {}", shape_str(x.sizes()),
                shape_str(y.sizes()));
  check_same_dtype("pairwise_distance", x, y);
  check_same_device("pairwise_distance", x, y);

  switch (distance) {
    case Distance::Dot:
      return matmul(x, y.t());
    case Distance::Cosine: {
      const Tensor xn = l2_normalize(x, 1);
      return matmul(xn, self ? xn.t() : l2_normalize(y, 1).t());
    }
    case Distance::Euclidean:
    case Distance::SquaredEuclidean:
      break;
  }

  const bool squared = distance == Distance::SquaredEuclidean;
  Tensor d;
  {
    NoGradGuard no_grad;
    const Tensor xx = sum(x * x, {1}, true);                         // [N, 1]
    const Tensor yy = self ? xx.t() : sum(y * y, {1}).unsqueeze(0);  // [1, M]
    const Tensor norms = xx + yy;                                    // [N, M]
    d = norms - matmul(x, y.t()) * 2.0;
    // Note [Rounding floor of GEMM distances]: 0 at or below the floor (which is >= 0, so this is also the clamp).
    const double floor = x.dtype() == kFloat32 ? rounding_floor<float>() : rounding_floor<double>();
    d = where(d.gt(norms * floor), d, zeros_like(d));
    if (self) {
      // The GEMM leaves rounding noise on the diagonal; a point's distance to itself is exactly 0.
      const std::int64_t n = x.size(0);
      d.view({n * n}).slice(0, 0, n * n, n + 1).zero_();
    }
    if (!squared) d = sqrt(d);
  }
  if (auto node = autograd::make_node<PairwiseEuclideanBackward>({&x, &y})) {
    node->squared = squared;
    node->x = node->save(x);
    node->y = node->save(y);
    if (!squared) node->dist = node->save(d);
    autograd::set_history(d, node);
  }
  return d;
}

}  // namespace trident
