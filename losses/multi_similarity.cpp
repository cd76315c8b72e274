// Multi-similarity loss: one fused autograd node on the prepared embeddings. Contracts: losses/multi_similarity.h.
//
// The forward computes D = distance_matrix(e) (similarities for cosine and dot) and, in one pass over its rows
// (OpenMP; one row is one anchor), the miner, the loss and G = dL/dD (Note [Multi-similarity gradient]); the node keeps
// e, D and G, and its backward is g distance_matrix_backward(e, D, G).
#include "trident/losses/multi_similarity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "trident/backends/cpu/loops.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"

namespace trident {

using autograd::Node;

namespace {

constexpr const char* kOp = "MultiSimilarityLoss";

// Note [Multi-similarity gradient]
// For anchor a write each kept pair's exponent as x_j = k_j (D_aj - lambda) with
//   k = -alpha (positive, similarity),  +alpha (positive, distance),  +beta (negative, similarity),  -beta (negative,
//   distance),
// so that L_a = 1/alpha LSE_P + 1/beta LSE_N with LSE_S = log(1 + sum_{j in S} e^{x_j}) = log(e^0 + sum e^{x_j}).
// Stable evaluation: m = max(0, max_j x_j), Z = e^{-m} + sum_j e^{x_j - m}, LSE = m + log Z (log1p(sum e^{x_j}) when
// m = 0, which keeps the digits of a small sum). Its derivative is a softmax over the terms, the implicit 1 included:
//   d LSE / dx_j = e^{x_j - m} / Z =: w_j   (in (0, 1), never overflowing).
// Hence, with the mined sets held fixed (the miner's choice is piecewise constant in the embeddings, as the index
// tensors of pytorch-metric-learning's miner are constants for its autograd),
//   dL_a/dD_aj = (1/alpha) k_j w_j = -w_j or +w_j for positives (similarity / distance), and
//              = (1/beta) k_j w_j  = +w_j or -w_j for negatives,
// and L = 1/B sum_a L_a gives G_aj = dL/dD_aj = +-w_j / B for kept pairs, 0 elsewhere (the diagonal included). Row a of
// G depends only on row a of D. Then dL/de = distance_matrix_backward(e, D, G) (Note [Distance-matrix backward]).

struct Params {
  double alpha, beta, base, epsilon;
  bool mine, similarity;
};

struct RowResult {
  double loss = 0.0;
  std::int64_t kept = 0, active = 0;
  std::int64_t pos = 0, neg = 0;  // all positive / negative pairs of this anchor
  double pos_d = 0.0, neg_d = 0.0;
};

// log(1 + sum_j e^{x_j}) over the listed exponents, and e^{x_j - m} into ex; returns LSE and sets z = Z.
double log1p_sum_exp(const std::vector<double>& x, std::vector<double>& ex, double& z) {
  double m = 0.0;
  for (double v : x) m = std::max(m, v);
  double s = 0.0;
  ex.resize(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) s += ex[k] = std::exp(x[k] - m);
  z = std::exp(-m) + s;
  return m == 0.0 ? std::log1p(s) : m + std::log(z);
}

template <typename T>
void multi_similarity_rows(const T* d, const std::int64_t* y, std::int64_t b, const Params& p, T* g,
                           std::vector<RowResult>& rows) {
  const bool parallel = b * b >= cpu::kParallelGrain;
  const T eps = static_cast<T>(p.epsilon);
  const T inf = std::numeric_limits<T>::infinity();
#pragma omp parallel if (parallel)
  {
    std::vector<double> xp, xn, ep, en;  // exponents and e^{x - m} of the kept pairs of one anchor
    std::vector<std::int64_t> jp, jn;    // their columns
#pragma omp for schedule(static)
    for (std::int64_t a = 0; a < b; ++a) {
      RowResult r;
      const T* da = d + a * b;
      T* ga = g + a * b;
      T min_pos = inf, max_pos = -inf, min_neg = inf, max_neg = -inf;
      for (std::int64_t j = 0; j < b; ++j) {
        ga[j] = T(0);
        if (j == a) continue;
        const T v = da[j];
        if (y[j] == y[a]) {
          min_pos = std::min(min_pos, v);
          max_pos = std::max(max_pos, v);
          ++r.pos;
          r.pos_d += static_cast<double>(v);
        } else {
          min_neg = std::min(min_neg, v);
          max_neg = std::max(max_neg, v);
          ++r.neg;
          r.neg_d += static_cast<double>(v);
        }
      }
      xp.clear();
      xn.clear();
      jp.clear();
      jn.clear();
      for (std::int64_t j = 0; j < b; ++j) {
        if (j == a) continue;
        const T v = da[j];
        const double dv = static_cast<double>(v);
        if (y[j] == y[a]) {
          // The miner's comparisons in T, as pytorch-metric-learning evaluates them on the matrix's dtype.
          const bool keep = !p.mine || (p.similarity ? T(v - eps) < max_neg : T(v + eps) > min_neg);
          if (!keep) continue;
          xp.push_back(p.similarity ? p.alpha * (p.base - dv) : p.alpha * (dv - p.base));
          jp.push_back(j);
        } else {
          const bool keep = !p.mine || (p.similarity ? T(v + eps) > min_pos : T(v - eps) < max_pos);
          if (!keep) continue;
          xn.push_back(p.similarity ? p.beta * (dv - p.base) : p.beta * (p.base - dv));
          jn.push_back(j);
        }
      }
      const double inv_b = 1.0 / static_cast<double>(b);
      double zp = 1.0, zn = 1.0;
      if (!xp.empty()) r.loss += log1p_sum_exp(xp, ep, zp) / p.alpha;
      if (!xn.empty()) r.loss += log1p_sum_exp(xn, en, zn) / p.beta;
      const double sign_p = p.similarity ? -1.0 : 1.0;  // Note [Multi-similarity gradient]
      for (std::size_t k = 0; k < jp.size(); ++k) {
        ga[jp[k]] = static_cast<T>(sign_p * ep[k] / zp * inv_b);
        r.active += ep[k] > 0.0;
      }
      for (std::size_t k = 0; k < jn.size(); ++k) {
        ga[jn[k]] = static_cast<T>(-sign_p * en[k] / zn * inv_b);
        r.active += en[k] > 0.0;
      }
      r.kept = static_cast<std::int64_t>(jp.size() + jn.size());
      rows[static_cast<std::size_t>(a)] = r;
    }
  }
}

}  // namespace

MultiSimilarityLoss::MultiSimilarityLoss(MultiSimilarityOptions options) : options_(options) {
  const MultiSimilarityOptions& o = options_;
  TRIDENT_CHECK(std::isfinite(o.alpha) && o.alpha > 0, "{}: alpha must be positive and finite, got {}", kOp, o.alpha);
  TRIDENT_CHECK(std::isfinite(o.beta) && o.beta > 0, "{}: beta must be positive and finite, got {}", kOp, o.beta);
  TRIDENT_CHECK(std::isfinite(o.base), "{}: base (lambda) must be finite, got {}", kOp, o.base);
  TRIDENT_CHECK(std::isfinite(o.epsilon), "{}: epsilon must be finite, got {}", kOp, o.epsilon);
}

// embeddings: [B, D], labels: [B] -> []
Tensor MultiSimilarityLoss::operator()(const Tensor& embeddings, const Tensor& labels) {
  check_metric_inputs(kOp, embeddings, labels);
  const Distance distance = options_.distance.distance;
  const Tensor e = prepare_embeddings(embeddings, options_.distance);
  const Tensor d = distance_matrix(e, distance).contiguous();
  const Tensor y = labels.contiguous();
  const std::int64_t b = d.size(0);
  Tensor g = empty(d.sizes(), {.dtype = d.dtype(), .device = d.device()});
  const Params p{options_.alpha,   options_.beta, options_.base,
                 options_.epsilon, options_.mine, is_similarity(distance)};
  std::vector<RowResult> rows(static_cast<std::size_t>(b));
  if (d.dtype() == kFloat64)
    multi_similarity_rows(d.data_ptr<double>(), y.data_ptr<std::int64_t>(), b, p, g.data_ptr<double>(), rows);
  else
    multi_similarity_rows(d.data_ptr<float>(), y.data_ptr<std::int64_t>(), b, p, g.data_ptr<float>(), rows);

  // Summed in row order: the result does not depend on the thread count.
  RowResult total;
  for (const RowResult& r : rows) {
    total.loss += r.loss;
    total.kept += r.kept;
    total.active += r.active;
    total.pos += r.pos;
    total.neg += r.neg;
    total.pos_d += r.pos_d;
    total.neg_d += r.neg_d;
  }
  stats_ = LossStats{};
  stats_.tuples = total.kept;
  stats_.active = total.active;
  stats_.active_fraction = mean_or_nan(static_cast<double>(total.active), total.kept);
  stats_.mean_positive = mean_or_nan(total.pos_d, total.pos);
  stats_.mean_negative = mean_or_nan(total.neg_d, total.neg);

  Tensor out = scalar_tensor(total.loss / static_cast<double>(b), {.dtype = e.dtype()});
  if (auto node = autograd::make_node<DistanceMatrixLossBackward>({&e})) {
    node->label = "MultiSimilarityLossBackward";  // backward: Note [Multi-similarity gradient]
    node->distance = distance;
    node->emb = node->save(e);
    node->dist = node->save(d);
    node->dldd = node->save(g);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
