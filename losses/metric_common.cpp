// Shared pieces of the metric-learning losses. Contracts: losses/metric_common.h.
#include "trident/losses/metric_common.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

// d <- max((xx_i + xx_j) - 2 d_ij, 0) in place (0 below the rounding floor), diagonal 0, then sqrt when euclidean: bit
// for bit the expression of pairwise_distance (clamp_min(xx + yy - (x y^T) * 2, 0), diagonal zeroed, sqrt), so losses
// and a reference built on pairwise_distance see the same values, ties included.
template <typename T>
void gram_to_distance(T* d, const T* xx, std::int64_t b, bool squared) {
#pragma omp parallel for schedule(static) if (b * b >= 65536)
  for (std::int64_t i = 0; i < b; ++i) {
    T* row = d + i * b;
    for (std::int64_t j = 0; j < b; ++j) {
      const T norms = xx[i] + xx[j];
      T v = norms - row[j] * T(2);
      v = v > norms * rounding_floor<T>() ? v : T(0);  // Note [Rounding floor of GEMM distances]
      if (j == i) v = T(0);
      row[j] = squared ? v : std::sqrt(v);
    }
  }
}

// The weight w_ij of one entry of G (Note [Distance-matrix backward]): G / D (0 where D = 0) for euclidean, 2 G for
// squared euclidean, G for dot and cosine. A template parameter, so the per-element loops carry no switch.
template <typename T, Distance kDist>
inline T pair_weight(T gij, T dij) {
  if constexpr (kDist == Distance::Euclidean) return dij > T(0) ? gij / dij : T(0);
  if constexpr (kDist == Distance::SquaredEuclidean) return gij * T(2);
  return gij;
}

// h <- w + w^T: Note [Distance-matrix backward]. Each tile pair (ti <= tj) fills both h_ij and h_ji, so every weight
// is computed once; tiles keep the transposed reads in cache.
template <typename T, Distance kDist>
void symmetric_weights(T* h, const T* g, const T* d, std::int64_t b) {
  constexpr std::int64_t kTile = 64;
  const std::int64_t tiles = (b + kTile - 1) / kTile;
  auto dist = [&](std::int64_t idx) { return d != nullptr ? d[idx] : T(0); };
#pragma omp parallel for schedule(dynamic, 1) if (b * b >= 65536)
  for (std::int64_t ti = 0; ti < tiles; ++ti) {
    for (std::int64_t tj = ti; tj < tiles; ++tj) {
      for (std::int64_t i = ti * kTile; i < std::min(b, (ti + 1) * kTile); ++i) {
        for (std::int64_t j = std::max(tj * kTile, i); j < std::min(b, (tj + 1) * kTile); ++j) {
          const T v = pair_weight<T, kDist>(g[i * b + j], dist(i * b + j)) +
                      pair_weight<T, kDist>(g[j * b + i], dist(j * b + i));
          h[i * b + j] = v;
          h[j * b + i] = v;
        }
      }
    }
  }
}

// Note [Sparse distance-matrix backward]
// Batch-hard mining gives G two non-zero entries per row (the anchor's hardest positive and negative), quadruplets
// three: the dense backward (a B x B pass to build W + W^T, a [B, B] x [B, D] GEMM) then does O(B^2 D) work for O(B D)
// of information. One read-only scan of G finds its non-zeros; when there are at most kSparseFactor * B of them,
// each non-zero (i, j) with weight w = pair_weight(g_ij, d_ij) adds directly (Note [Distance-matrix backward]):
//   euclidean / squared:  out_i += w (e_i - e_j),  out_j += w (e_j - e_i)
//   dot / cosine:         out_i += w e_j,          out_j += w e_i
// The scan gives up as soon as the count passes the limit (dense G: within the first rows). Returns false then.
constexpr std::int64_t kSparseFactor = 8;

template <typename T, Distance kDist>
bool sparse_backward(T* out, const T* e, const T* g, const T* d, std::int64_t b, std::int64_t dim) {
  struct Entry {
    std::int64_t i, j;
    T w;
  };
  std::vector<Entry> entries;
  const std::int64_t limit = kSparseFactor * b;
  for (std::int64_t i = 0; i < b; ++i) {
    const T* row = g + i * b;
    for (std::int64_t j = 0; j < b; ++j) {
      if (row[j] == T(0)) continue;  // the diagonal counts: for dot, d_ii = |e_i|^2
      if (static_cast<std::int64_t>(entries.size()) == limit) return false;
      entries.push_back({i, j, pair_weight<T, kDist>(row[j], d != nullptr ? d[i * b + j] : T(0))});
    }
  }
  std::fill(out, out + b * dim, T(0));
  for (const Entry& en : entries) {
    T* oi = out + en.i * dim;
    T* oj = out + en.j * dim;
    const T* ei = e + en.i * dim;
    const T* ej = e + en.j * dim;
    if constexpr (kDist == Distance::Euclidean || kDist == Distance::SquaredEuclidean) {
      for (std::int64_t k = 0; k < dim; ++k) {
        const T diff = en.w * (ei[k] - ej[k]);
        oi[k] += diff;
        oj[k] -= diff;
      }
    } else {
      for (std::int64_t k = 0; k < dim; ++k) {
        oi[k] += en.w * ej[k];
        oj[k] += en.w * ei[k];
      }
    }
  }
  return true;
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

namespace {

template <typename T, Distance kDist>
Tensor distance_matrix_backward_impl(const Tensor& ev, const Tensor& dc, const Tensor& gc) {
  const std::int64_t b = ev.size(0), dim = ev.size(1);
  const T* e = ev.data_ptr<T>();
  const T* g = gc.data_ptr<T>();
  const T* d = dc.defined() ? dc.data_ptr<T>() : nullptr;
  Tensor out = empty({b, dim}, {.dtype = ev.dtype(), .device = ev.device()});
  if (sparse_backward<T, kDist>(out.data_ptr<T>(), e, g, d, b, dim)) return out;  // Note [Sparse distance-matrix ...]
  Tensor h = empty({b, b}, {.dtype = ev.dtype(), .device = ev.device()});         // W + W^T
  symmetric_weights<T, kDist>(h.data_ptr<T>(), g, d, b);
  out = matmul(h, ev).contiguous();  // [B, D]
  if constexpr (kDist == Distance::Euclidean || kDist == Distance::SquaredEuclidean) {
    diag_minus(out.data_ptr<T>(), e, h.data_ptr<T>(), b, dim);
  }
  return out;
}

template <typename T>
Tensor distance_matrix_backward_typed(const Tensor& ev, const Tensor& dc, const Tensor& gc, Distance distance) {
  switch (distance) {
    case Distance::Euclidean:
      return distance_matrix_backward_impl<T, Distance::Euclidean>(ev, dc, gc);
    case Distance::SquaredEuclidean:
      return distance_matrix_backward_impl<T, Distance::SquaredEuclidean>(ev, dc, gc);
    case Distance::Cosine:
    case Distance::Dot:
      break;
  }
  return distance_matrix_backward_impl<T, Distance::Dot>(ev, dc, gc);
}

}  // namespace

// e: [B, D], d, g: [B, B] -> [B, D]. Note [Distance-matrix backward] in the header; Note [Memory of the B x B passes].
Tensor distance_matrix_backward(const Tensor& e, const Tensor& d, const Tensor& g, Distance distance) {
  NoGradGuard no_grad;
  const Tensor ev = e.detach().contiguous();
  const Tensor gc = g.detach().to(ev.dtype()).contiguous();
  const Tensor dc = distance == Distance::Euclidean ? d.detach().to(ev.dtype()).contiguous() : Tensor();
  return ev.dtype() == kFloat64 ? distance_matrix_backward_typed<double>(ev, dc, gc, distance)
                                : distance_matrix_backward_typed<float>(ev, dc, gc, distance);
}

// labels: [B] -> [B, B] bool
Tensor same_label_matrix(const Tensor& labels) { return labels.unsqueeze(1).eq(labels.unsqueeze(0)); }

}  // namespace trident
