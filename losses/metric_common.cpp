// Shared pieces of the metric-learning losses. Contracts: losses/metric_common.h.
#include "trident/losses/metric_common.h"

#include <omp.h>

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
// distance_matrix and distance_matrix_backward therefore work in raw passes (metric losses are CPU-only, contiguous
// float32/float64): the forward is one GEMM and one pass in place, holding only D; the backward one pass that writes
// the weights W (its one extra B x B buffer) with their row and column sums, and two GEMMs (Note [Dense
// distance-matrix backward]) -- or no B x B buffer at all when G is sparse (Note [Sparse distance-matrix backward]).

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

// w <- the weights of G row by row (contiguous, so the loop vectorises, divisions included), with the row sums
// w 1 and the column sums w^T 1 (float64; per-thread column buffers, added at the end in thread order, so that the
// bits do not change from run to run at a given thread count). Note [Dense distance-matrix backward] says why
// W + W^T is never formed.
template <typename T, Distance kDist>
void weights_and_sums(T* w, const T* g, const T* d, std::int64_t b, std::vector<double>& row_sum,
                      std::vector<double>& col_sum) {
  row_sum.assign(static_cast<std::size_t>(b), 0.0);
  col_sum.assign(static_cast<std::size_t>(b), 0.0);
  const bool parallel = b * b >= 65536;
  std::vector<std::vector<double>> thread_cols(static_cast<std::size_t>(parallel ? omp_get_max_threads() : 1));
#pragma omp parallel if (parallel)
  {
    std::vector<double>& cols = thread_cols[static_cast<std::size_t>(omp_get_thread_num())];
    cols.assign(static_cast<std::size_t>(b), 0.0);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < b; ++i) {
      const T* gi = g + i * b;
      T* wi = w + i * b;
      if constexpr (kDist == Distance::Euclidean) {
        const T* di = d + i * b;
        for (std::int64_t j = 0; j < b; ++j) wi[j] = pair_weight<T, kDist>(gi[j], di[j]);
      } else {
        for (std::int64_t j = 0; j < b; ++j) wi[j] = pair_weight<T, kDist>(gi[j], T(0));
      }
      double r = 0.0;
      for (std::int64_t j = 0; j < b; ++j) {
        r += static_cast<double>(wi[j]);
        cols[static_cast<std::size_t>(j)] += static_cast<double>(wi[j]);
      }
      row_sum[static_cast<std::size_t>(i)] = r;
    }
  }
  for (const std::vector<double>& cols : thread_cols) {
    if (cols.empty()) continue;  // a thread the runtime did not start
    for (std::int64_t j = 0; j < b; ++j) col_sum[static_cast<std::size_t>(j)] += cols[static_cast<std::size_t>(j)];
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
  // Note [Dense distance-matrix backward]
  // (W + W^T) e = W e + W^T e: two GEMMs (oneDNN reads the transposed view by its strides) instead of forming
  // W + W^T, whose transposed half is a strided pass over B^2 elements -- at B = 2048 that pass alone cost more than
  // both GEMMs (its column stride of 8 KiB maps every element of a column to the same cache set).
  Tensor w = empty({b, b}, {.dtype = ev.dtype(), .device = ev.device()});
  std::vector<double> row_sum, col_sum;
  weights_and_sums<T, kDist>(w.data_ptr<T>(), g, d, b, row_sum, col_sum);
  out = (matmul(w, ev) + matmul(w.t(), ev)).contiguous();  // [B, D]
  if constexpr (kDist == Distance::Euclidean || kDist == Distance::SquaredEuclidean) {
    T* o = out.data_ptr<T>();
#pragma omp parallel for schedule(static) if (b * dim >= 65536)
    for (std::int64_t i = 0; i < b; ++i) {
      const T s = static_cast<T>(row_sum[static_cast<std::size_t>(i)] + col_sum[static_cast<std::size_t>(i)]);
      for (std::int64_t k = 0; k < dim; ++k) o[i * dim + k] = e[i * dim + k] * s - o[i * dim + k];
    }
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
