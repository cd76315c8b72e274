// Shared pieces of the metric-learning losses. Contracts: losses/metric_common.h.
#include "trident/losses/metric_common.h"

#include <algorithm>
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
    case TripletMining::All:
      return "all";
    case TripletMining::Hard:
      return "hard";
    case TripletMining::SemiHard:
      return "semihard";
    case TripletMining::Easy:
      return "easy";
    case TripletMining::BatchHard:
      return "batch_hard";
    case TripletMining::BatchSemiHard:
      return "batch_semihard";
  }
  return "?";
}

const char* mining_name(PairMining m) {
  switch (m) {
    case PairMining::All:
      return "all";
    case PairMining::Hard:
      return "hard";
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

namespace {

// Note [Memory of the B x B passes]
// At B = 8192 one B x B float32 matrix is 256 MB, so a composition of elementwise ops (each a fresh B x B
// temporary, all alive until the end of the expression) peaks at several GB and makes as many passes over memory.
// distance_matrix and distance_matrix_backward therefore make one GEMM each plus one raw pass in place (metric losses
// are CPU-only, contiguous float32/float64): the forward holds only D, the backward one extra B x B buffer.

// d <- max((xx_i + xx_j) - 2 d_ij, 0) in place, diagonal 0, then sqrt when euclidean: bit for bit the expression of
// pairwise_distance (clamp_min(xx + yy - (x y^T) * 2, 0), diagonal zeroed, sqrt), so losses and a reference built on
// pairwise_distance see the same values, ties included.
template <typename T>
void gram_to_distance(T* d, const T* xx, std::int64_t b, bool squared) {
#pragma omp parallel for schedule(static) if (b * b >= 65536)
  for (std::int64_t i = 0; i < b; ++i) {
    T* row = d + i * b;
    for (std::int64_t j = 0; j < b; ++j) {
      T v = (xx[i] + xx[j]) - row[j] * T(2);
      v = v > T(0) ? v : T(0);
      if (j == i) v = T(0);
      row[j] = squared ? v : std::sqrt(v);
    }
  }
}

// h <- w + w^T with w = G / D (0 where D = 0; euclidean), 2 G (squared) or G (dot): Note [Distance-matrix backward].
// Tiled so that the transposed reads stay in cache.
template <typename T>
void symmetric_weights(T* h, const T* g, const T* d, std::int64_t b, Distance distance) {
  auto w = [&](std::int64_t i, std::int64_t j) -> T {
    const T gij = g[i * b + j];
    switch (distance) {
      case Distance::Euclidean: {
        const T dij = d[i * b + j];
        return dij > T(0) ? gij / dij : T(0);
      }
      case Distance::SquaredEuclidean:
        return gij * T(2);
      default:
        return gij;
    }
  };
  constexpr std::int64_t kTile = 64;
  const std::int64_t tiles = (b + kTile - 1) / kTile;
#pragma omp parallel for schedule(dynamic, 1) if (b * b >= 65536)
  for (std::int64_t ti = 0; ti < tiles; ++ti)
    for (std::int64_t tj = 0; tj < tiles; ++tj)
      for (std::int64_t i = ti * kTile; i < std::min(b, (ti + 1) * kTile); ++i)
        for (std::int64_t j = tj * kTile; j < std::min(b, (tj + 1) * kTile); ++j) h[i * b + j] = w(i, j) + w(j, i);
}

// out <- e * (h 1) - out, row by row (h 1 summed in float64).
template <typename T>
void diag_minus(T* out, const T* e, const T* h, std::int64_t b, std::int64_t dim) {
#pragma omp parallel for schedule(static) if (b * b >= 65536)
  for (std::int64_t i = 0; i < b; ++i) {
    double s = 0.0;
    for (std::int64_t j = 0; j < b; ++j) s += static_cast<double>(h[i * b + j]);
    for (std::int64_t k = 0; k < dim; ++k) out[i * dim + k] = static_cast<T>(e[i * dim + k] * s) - out[i * dim + k];
  }
}

}  // namespace

// e: [B, D] -> [B, B]. Note [Memory of the B x B passes].
Tensor distance_matrix(const Tensor& e, Distance distance) {
  NoGradGuard no_grad;
  const Tensor ev = e.detach().contiguous();
  // Cosine on prepared (already normalised) embeddings is their dot product.
  if (distance == Distance::Cosine || distance == Distance::Dot) return matmul(ev, ev.t());
  const Tensor xx = sum(ev * ev, {1}, true).contiguous();  // [B, 1], as pairwise_distance computes it
  Tensor d = matmul(ev, ev.t()).contiguous();              // [B, B], overwritten in place
  const bool squared = distance == Distance::SquaredEuclidean;
  if (ev.dtype() == kFloat64)
    gram_to_distance(d.data_ptr<double>(), xx.data_ptr<double>(), ev.size(0), squared);
  else
    gram_to_distance(d.data_ptr<float>(), xx.data_ptr<float>(), ev.size(0), squared);
  return d;
}

// e: [B, D], d, g: [B, B] -> [B, D]. Note [Distance-matrix backward] in the header; Note [Memory of the B x B passes].
Tensor distance_matrix_backward(const Tensor& e, const Tensor& d, const Tensor& g, Distance distance) {
  NoGradGuard no_grad;
  const Tensor ev = e.detach().contiguous();
  const Tensor gc = g.detach().to(ev.dtype()).contiguous();
  const Tensor dc = distance == Distance::Euclidean ? d.detach().contiguous() : Tensor();
  const std::int64_t b = ev.size(0), dim = ev.size(1);
  Tensor h = empty({b, b}, {.dtype = ev.dtype(), .device = ev.device()});  // W + W^T
  const bool f64 = ev.dtype() == kFloat64;
  if (f64)
    symmetric_weights(h.data_ptr<double>(), gc.data_ptr<double>(), dc.defined() ? dc.data_ptr<double>() : nullptr, b,
                      distance);
  else
    symmetric_weights(h.data_ptr<float>(), gc.data_ptr<float>(), dc.defined() ? dc.data_ptr<float>() : nullptr, b,
                      distance);
  Tensor out = matmul(h, ev).contiguous();  // [B, D]
  if (distance == Distance::Dot || distance == Distance::Cosine) return out;
  if (f64)
    diag_minus(out.data_ptr<double>(), ev.data_ptr<double>(), h.data_ptr<double>(), b, dim);
  else
    diag_minus(out.data_ptr<float>(), ev.data_ptr<float>(), h.data_ptr<float>(), b, dim);
  return out;
}

// labels: [B] -> [B, B] bool
Tensor same_label_matrix(const Tensor& labels) { return labels.unsqueeze(1).eq(labels.unsqueeze(0)); }

}  // namespace trident
