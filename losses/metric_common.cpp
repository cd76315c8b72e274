// Shared pieces of the metric-learning losses. Contracts: losses/metric_common.h.
#include "trident/losses/metric_common.h"

#include <cmath>

#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/matmul.h"
#include "trident/ops/reduce.h"

namespace trident {

std::string to_string(const DistanceOptions& d) {
  return fmt::format("{}, normalize={}", distance_name(d.distance), d.normalize);
}

const char* reduction_name(MetricReduction r) {
  switch (r) {
    case MetricReduction::Mean:
      return "mean";
    case MetricReduction::Sum:
      return "sum";
    case MetricReduction::AvgNonZero:
      return "avg_nonzero";
  }
  return "?";
}

const char* mining_name(TripletMining m) {
  switch (m) {
    case TripletMining::All: return "all";
    case TripletMining::Hard: return "hard";
    case TripletMining::SemiHard: return "semihard";
    case TripletMining::Easy: return "easy";
    case TripletMining::BatchHard: return "batch_hard";
    case TripletMining::BatchSemiHard: return "batch_semihard";
  }
  return "?";
}

const char* mining_name(PairMining m) {
  switch (m) {
    case PairMining::All: return "all";
    case PairMining::Hard: return "hard";
  }
  return "?";
}

void check_metric_inputs(const char* op, const Tensor& embeddings, const Tensor& labels) {
  check_defined(op, embeddings, "embeddings");
  check_defined(op, labels, "labels");
  TRIDENT_CHECK(embeddings.dim() == 2, "{}: embeddings must be 2-d [B, D], got shape {}", op,
                shape_str(embeddings.sizes()));
  check_floating(op, embeddings);
  TRIDENT_CHECK(labels.dtype() == kInt64, "{}: labels must be int64, got {}", op, labels.dtype());
  const std::int64_t b = embeddings.size(0);
  TRIDENT_CHECK(labels.dim() == 1 && labels.size(0) == b, "{}: expected labels of shape [{}] for embeddings {}, got {}",
                op, b, shape_str(embeddings.sizes()), shape_str(labels.sizes()));
  TRIDENT_CHECK(b >= 2, "{}: need a batch of at least 2 embeddings, got {}", op, b);
  TRIDENT_CHECK(embeddings.device() == kCPU, "{}: metric losses run on the CPU; embeddings are on {}", op,
                embeddings.device());
  check_same_device(op, embeddings, labels);
  // x * 0 is 0 for every finite x and NaN for NaN or +-inf, so one reduction finds any non-finite value.
  NoGradGuard no_grad;
  TRIDENT_CHECK(std::isfinite(sum(embeddings.detach() * 0.0).item<double>()), "{}: embeddings contain NaN or infinity",
                op);
}

Tensor prepare_embeddings(const Tensor& x, const DistanceOptions& options) {
  if (options.normalize || options.distance == Distance::Cosine) return l2_normalize(x, 1);
  return x;
}

// e: [B, D] -> [B, B]
Tensor distance_matrix(const Tensor& e, Distance distance) {
  NoGradGuard no_grad;
  // Cosine on prepared (already normalised) embeddings is their dot product.
  return pairwise_distance(e.detach(), Tensor(), distance == Distance::Cosine ? Distance::Dot : distance);
}

// e: [B, D], d, g: [B, B] -> [B, D]. Note [Distance-matrix backward] in the header.
Tensor distance_matrix_backward(const Tensor& e, const Tensor& d, const Tensor& g, Distance distance) {
  NoGradGuard no_grad;
  const Tensor ev = e.detach();
  switch (distance) {
    case Distance::Dot:
    case Distance::Cosine:
      return matmul(g + g.t(), ev);
    case Distance::SquaredEuclidean:
    case Distance::Euclidean:
      break;
  }
  Tensor w = g;
  if (distance == Distance::Euclidean) {
    const Tensor positive = d.gt(0.0);
    w = where(positive, g / where(positive, d, ones_like(d)), zeros_like(d));
  } else {
    w = g * 2.0;
  }
  w = w + w.t();  // [B, B]: both ends of each pair move
  return ev * w.sum({1}, true) - matmul(w, ev);
}

// labels: [B] -> [B, B] bool
Tensor same_label_matrix(const Tensor& labels) { return labels.unsqueeze(1).eq(labels.unsqueeze(0)); }

}  // namespace trident
