// Contrastive loss: one fused autograd node on the prepared embeddings. Contracts: losses/contrastive.h.
//
// The forward computes D = distance_matrix(e) and, in one pass over its rows (OpenMP), the loss and G = dL/dD
// (Note [Contrastive gradient]); the node keeps e, D and G, and its backward is g distance_matrix_backward(e, D, G).
#include "trident/losses/contrastive.h"

#include <cmath>
#include <vector>

#include "trident/backends/cpu/loops.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"

namespace trident {

using autograd::Node;

namespace {

constexpr const char* kOp = "ContrastiveLoss";

// Note [Contrastive gradient]
// Let P and N be the kept positive and negative pairs (a pair listed twice is there twice), l the loss of one pair
// (the table in contrastive.h) and
//   L = c_P sum_{(i,j) in P} l_ij + c_N sum_{(i,j) in N} l_ij,
// with c = 1 / #{pairs of the part with l > 0} (AvgNonZero), 1 / #{pairs of the part} (Mean), 1 (Sum), and c = 0
// for a part without pairs. The counts are piecewise constant in the embeddings (they change only where a hinge
// argument h crosses 0, where l is 0 and continuous), so c is a constant for the derivative, as it is for
// pytorch-metric-learning's autograd. With s_h = dh/dD_ij, +1 for a positive pair of a distance and a negative pair of
// a similarity, -1 for the other two,
//   dl/dD_ij = s_h          (plain)       or   s_h * h   (squared: d(h^2 / 2)/dh = h)      when h > 0,
//   dl/dD_ij = 0                                                                           when h <= 0
// (at h = 0 this is relu's convention, gradient 0; the squared form is 0 there anyway). Hence
//   G_ij = dL/dD_ij = c_{part of (i,j)} * sum over the copies of (i, j) in the lists of dl/dD_ij,
// zero on the diagonal and for pairs not kept; (i, j) and (j, i) are two pairs with their own entries. Then
// dL/de = distance_matrix_backward(e, D, G) (Note [Distance-matrix backward] in metric_common.h).

// The loss of one pair and its derivative with respect to the matrix entry; the header's table.
struct PairHinge {
  double pos_margin = 0.0, neg_margin = 1.0;
  bool similarity = false, squared = false;

  struct Term {
    double loss = 0.0, grad = 0.0;
    bool active = false;  // h > 0
  };
  Term operator()(bool positive, double d) const {
    double h, slope;
    if (positive) {
      h = similarity ? pos_margin - d : d - pos_margin;
      slope = similarity ? -1.0 : 1.0;
    } else {
      h = similarity ? d - neg_margin : neg_margin - d;
      slope = similarity ? 1.0 : -1.0;
    }
    if (!(h > 0.0)) return {};
    if (squared) return {0.5 * h * h, slope * h, true};
    return {h, slope, true};
  }
};

// What the pairs of one kind (positive or negative) contribute.
struct PartSums {
  std::int64_t kept = 0;     // pairs kept after mining
  std::int64_t nonzero = 0;  // of those, with l > 0
  double loss = 0.0;         // sum of l over the kept pairs
  std::int64_t batch = 0;    // all pairs of this kind in the batch (for the stats)
  double batch_d = 0.0;      // sum of their D

  void add(const PartSums& o) {
    kept += o.kept;
    nonzero += o.nonzero;
    loss += o.loss;
    batch += o.batch;
    batch_d += o.batch_d;
  }
  // The factor c of Note [Contrastive gradient].
  double scale(MetricReduction r) const {
    switch (r) {
      case MetricReduction::Sum:
        return 1.0;
      case MetricReduction::Mean:
        return kept > 0 ? 1.0 / static_cast<double>(kept) : 0.0;
      case MetricReduction::AvgNonZero:
        return nonzero > 0 ? 1.0 / static_cast<double>(nonzero) : 0.0;
    }
    return 0.0;
  }
};

struct RowSums {
  PartSums pos, neg;
};

// The columns [j0, j1) of row i (the diagonal excluded by the caller), written without branches so that the
// compiler can vectorise it (the sums are then formed in a fixed lane order: still independent of the thread count).
// Same terms as PairHinge: h = sgn (d - m) with sgn = +1 for positive distances and negative similarities, -1 else.
template <typename T>
void row_span(const T* di, const std::int64_t* y, std::int64_t yi, std::int64_t j0, std::int64_t j1,
              const PairHinge& hinge, bool hard, T* gi, RowSums& r) {
  const double pm = hinge.pos_margin, nm = hinge.neg_margin;
  const bool sim = hinge.similarity, squared = hinge.squared;
  // Counts are summed as doubles (exact below 2^53): they vectorise better than 64-bit integer masks.
  double loss_p = 0, loss_n = 0, d_p = 0, d_n = 0, n_p = 0, act_p = 0, act_n = 0, nz_p = 0, nz_n = 0;
#pragma omp simd reduction(+ : loss_p, loss_n, d_p, d_n, n_p, act_p, act_n, nz_p, nz_n)
  for (std::int64_t j = j0; j < j1; ++j) {
    const bool same = y[j] == yi;
    const double dij = static_cast<double>(di[j]);
    const double sgn = same != sim ? 1.0 : -1.0;
    const double h = sgn * (dij - (same ? pm : nm));
    const bool active = h > 0.0;
    const double l = active ? (squared ? 0.5 * h * h : h) : 0.0;
    gi[j] = static_cast<T>(active ? (squared ? sgn * h : sgn) : 0.0);
    const double in_p = same ? 1.0 : 0.0, a = active ? 1.0 : 0.0, nz = l > 0.0 ? 1.0 : 0.0;
    loss_p += in_p * l;
    loss_n += l - in_p * l;
    d_p += in_p * dij;
    d_n += dij - in_p * dij;
    n_p += in_p;
    act_p += in_p * a;
    act_n += a - in_p * a;
    nz_p += in_p * nz;
    nz_n += nz - in_p * nz;
  }
  const auto count = [](double c) { return static_cast<std::int64_t>(c); };
  const std::int64_t span = j1 - j0, pos = count(n_p);
  r.pos.loss += loss_p;
  r.neg.loss += loss_n;
  r.pos.batch_d += d_p;
  r.neg.batch_d += d_n;
  r.pos.batch += pos;
  r.neg.batch += span - pos;
  // Hard mining keeps the active pairs (h > 0); All keeps every pair. Pairs not kept have l = 0 and G = 0 already.
  r.pos.kept += hard ? count(act_p) : pos;
  r.neg.kept += hard ? count(act_n) : span - pos;
  r.pos.nonzero += count(nz_p);
  r.neg.nonzero += count(nz_n);
}

// Every ordered pair i != j. d, g: [b, b] row-major; g receives dl/dD unscaled (0 where not kept). One RowSums per
// row, summed afterwards in row order, so the result does not depend on the thread count.
template <typename T>
void all_pairs_rows(const T* d, const std::int64_t* y, std::int64_t b, const PairHinge& hinge, bool hard, T* g,
                    std::vector<RowSums>& rows) {
  const bool parallel = b * b >= cpu::kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t i = 0; i < b; ++i) {
    RowSums r;
    const T* di = d + i * b;
    T* gi = g + i * b;
    row_span(di, y, y[i], 0, i, hinge, hard, gi, r);
    row_span(di, y, y[i], i + 1, b, hinge, hard, gi, r);
    gi[i] = T(0);
    rows[static_cast<std::size_t>(i)] = r;
  }
}

// Multiplies G's entries by the factor of their part: c_pos where y_i == y_j, c_neg elsewhere.
template <typename T>
void scale_rows(const std::int64_t* y, std::int64_t b, double c_pos, double c_neg, T* g) {
  const bool parallel = b * b >= cpu::kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t i = 0; i < b; ++i) {
    T* gi = g + i * b;
    const T cp = static_cast<T>(c_pos), cn = static_cast<T>(c_neg);
    for (std::int64_t j = 0; j < b; ++j) gi[j] *= y[i] == y[j] ? cp : cn;
  }
}

// The sums over the whole batch, for the stats, when the pairs come from a list.
template <typename T>
void batch_sums(const T* d, const std::int64_t* y, std::int64_t b, RowSums& out) {
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = 0; j < b; ++j) {
      if (j == i) continue;
      PartSums& part = y[i] == y[j] ? out.pos : out.neg;
      ++part.batch;
      part.batch_d += static_cast<double>(d[i * b + j]);
    }
}

// The listed pairs (checked: in range, labels consistent). g must be zero on entry; copies of a pair accumulate.
template <typename T>
void listed_pairs(const T* d, std::int64_t b, const PairHinge& hinge, bool hard, bool positive, const Tensor& first,
                  const Tensor& second, T* g, PartSums& part) {
  if (!first.defined() || first.numel() == 0) return;
  const std::int64_t* a = first.data_ptr<std::int64_t>();
  const std::int64_t* o = second.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < first.numel(); ++k) {
    const std::int64_t idx = a[k] * b + o[k];
    const PairHinge::Term t = hinge(positive, static_cast<double>(d[idx]));
    if (hard && !t.active) continue;
    ++part.kept;
    part.loss += t.loss;
    if (t.loss > 0.0) ++part.nonzero;
    g[idx] = static_cast<T>(static_cast<double>(g[idx]) + t.grad);
  }
}

// An index list of the PairIndices: undefined (empty) or int64 [T] on the CPU with values in [0, b). Returns it
// contiguous.
Tensor checked_index(const Tensor& t, const char* name, std::int64_t b) {
  if (!t.defined()) return t;
  TRIDENT_CHECK(t.dtype() == kInt64, "{}: pairs.{} must be int64, got {}", kOp, name, t.dtype());
  TRIDENT_CHECK(t.dim() == 1, "{}: pairs.{} must be 1-d [T], got shape {}", kOp, name, shape_str(t.sizes()));
  TRIDENT_CHECK(t.device() == kCPU, "{}: pairs.{} must be on the CPU, got {}", kOp, name, t.device());
  const Tensor c = t.contiguous();
  const std::int64_t* p = c.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < c.numel(); ++k)
    TRIDENT_CHECK(p[k] >= 0 && p[k] < b, "{}: pairs.{}[{}] = {} is out of range [0, {})", kOp, name, k, p[k], b);
  return c;
}

std::int64_t list_size(const Tensor& t) { return t.defined() ? t.numel() : 0; }

// Checks the pair lists against the batch and returns them contiguous.
PairIndices checked_pairs(const PairIndices& pairs, const Tensor& labels) {
  const std::int64_t b = labels.size(0);
  PairIndices c{checked_index(pairs.a1, "a1", b), checked_index(pairs.p, "p", b), checked_index(pairs.a2, "a2", b),
                checked_index(pairs.n, "n", b)};
  TRIDENT_CHECK(list_size(c.a1) == list_size(c.p), "{}: pairs.a1 and pairs.p must have the same length, got {} and {}",
                kOp, list_size(c.a1), list_size(c.p));
  TRIDENT_CHECK(list_size(c.a2) == list_size(c.n), "{}: pairs.a2 and pairs.n must have the same length, got {} and {}",
                kOp, list_size(c.a2), list_size(c.n));
  const std::int64_t* y = labels.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < list_size(c.a1); ++k) {
    const std::int64_t i = c.a1.data_ptr<std::int64_t>()[k], j = c.p.data_ptr<std::int64_t>()[k];
    TRIDENT_CHECK(y[i] == y[j], "{}: positive pair {} ({}, {}) has different labels {} and {}", kOp, k, i, j, y[i],
                  y[j]);
  }
  for (std::int64_t k = 0; k < list_size(c.a2); ++k) {
    const std::int64_t i = c.a2.data_ptr<std::int64_t>()[k], j = c.n.data_ptr<std::int64_t>()[k];
    TRIDENT_CHECK(y[i] != y[j], "{}: negative pair {} ({}, {}) has the same label {}", kOp, k, i, j, y[i]);
  }
  return c;
}

// Fills g (dL/dD, Note [Contrastive gradient]) and returns the sums of both parts.
template <typename T>
RowSums contrastive_forward(const Tensor& d, const Tensor& labels, const PairIndices* pairs, const PairHinge& hinge,
                            const ContrastiveOptions& o, Tensor& g) {
  const std::int64_t b = d.size(0);
  const T* dp = d.data_ptr<T>();
  const std::int64_t* y = labels.data_ptr<std::int64_t>();
  T* gp = g.data_ptr<T>();
  const bool hard = o.mining == PairMining::Hard;
  RowSums total;
  if (pairs == nullptr) {
    std::vector<RowSums> rows(static_cast<std::size_t>(b));
    all_pairs_rows(dp, y, b, hinge, hard, gp, rows);
    for (const RowSums& r : rows) {
      total.pos.add(r.pos);
      total.neg.add(r.neg);
    }
  } else {
    g.zero_();
    listed_pairs(dp, b, hinge, hard, true, pairs->a1, pairs->p, gp, total.pos);
    listed_pairs(dp, b, hinge, hard, false, pairs->a2, pairs->n, gp, total.neg);
    batch_sums(dp, y, b, total);
  }
  scale_rows(y, b, total.pos.scale(o.reduction), total.neg.scale(o.reduction), gp);
  return total;
}

}  // namespace

ContrastiveLoss::ContrastiveLoss(ContrastiveOptions options) : options_(options) {
  TRIDENT_CHECK(std::isfinite(options_.pos_margin), "{}: pos_margin must be finite, got {}", kOp, options_.pos_margin);
  TRIDENT_CHECK(std::isfinite(options_.neg_margin), "{}: neg_margin must be finite, got {}", kOp, options_.neg_margin);
}

// embeddings: [B, D], labels: [B] -> []
Tensor ContrastiveLoss::operator()(const Tensor& embeddings, const Tensor& labels) {
  check_metric_inputs(kOp, embeddings, labels);
  return forward(embeddings, labels, nullptr);
}

// embeddings: [B, D], labels: [B], pairs: four int64 [T] lists -> []
Tensor ContrastiveLoss::operator()(const Tensor& embeddings, const Tensor& labels, const PairIndices& pairs) {
  check_metric_inputs(kOp, embeddings, labels);
  const PairIndices checked = checked_pairs(pairs, labels.contiguous());
  return forward(embeddings, labels, &checked);
}

Tensor ContrastiveLoss::forward(const Tensor& embeddings, const Tensor& labels, const PairIndices* pairs) {
  const Distance distance = options_.distance.distance;
  const Tensor e = prepare_embeddings(embeddings, options_.distance);
  const Tensor d = distance_matrix(e, distance).contiguous();
  const Tensor y = labels.contiguous();
  Tensor g = empty(d.sizes(), {.dtype = d.dtype(), .device = d.device()});
  const PairHinge hinge{options_.pos_margin, options_.neg_margin, is_similarity(distance), options_.squared};
  const RowSums sums = d.dtype() == kFloat64 ? contrastive_forward<double>(d, y, pairs, hinge, options_, g)
                                             : contrastive_forward<float>(d, y, pairs, hinge, options_, g);

  const double value =
      sums.pos.loss * sums.pos.scale(options_.reduction) + sums.neg.loss * sums.neg.scale(options_.reduction);
  stats_ = LossStats{};
  stats_.tuples = sums.pos.kept + sums.neg.kept;
  stats_.active = sums.pos.nonzero + sums.neg.nonzero;
  stats_.active_fraction = mean_or_nan(static_cast<double>(stats_.active), stats_.tuples);
  stats_.mean_positive = mean_or_nan(sums.pos.batch_d, sums.pos.batch);
  stats_.mean_negative = mean_or_nan(sums.neg.batch_d, sums.neg.batch);

  Tensor out = scalar_tensor(value, {.dtype = e.dtype()});
  if (auto node = autograd::make_node<DistanceMatrixLossBackward>({&e})) {
    node->label = "ContrastiveLossBackward";  // backward: Note [Contrastive gradient]
    node->distance = distance;
    node->emb = node->save(e);
    node->dist = node->save(d);
    node->dldd = node->save(g);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
