// The quadruplet loss, fused. Contracts: losses/quadruplet.h.
#include "trident/losses/quadruplet.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/losses/miners.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"

namespace trident {

// Note [Quadruplet loss gradient]
// Let D be the B x B matrix of the loss's distance on the prepared embeddings e, and sigma = +1 for a distance,
// -1 for a similarity (so sigma D is smaller-is-closer). For a mined quadruplet q = (a, p, n, l, k),
//   h1_q = sigma (D_ap - D_an) + alpha1,   h2_q = sigma (D_ap - D_lk) + alpha2,   l_q = [h1_q]_+ + [h2_q]_+,
//   L = w sum_q l_q,   w = 1/T (Mean), 1 (Sum), 1/#{q : l_q > 0} (AvgNonZero; 0 when there is none).
// The mined indices and the AvgNonZero count are piecewise constant in e (they change only where two distances tie
// or a hinge crosses 0), so almost everywhere they are constants and
//   dL/dD_ij = w sum_q ( [h1_q > 0] sigma ([ij = ap] - [ij = an]) + [h2_q > 0] sigma ([ij = ap] - [ij = lk]) ),
// i.e. each active first hinge adds +sigma w at (a, p) and -sigma w at (a, n), each active second hinge +sigma w at
// (a, p) and -sigma w at (l, k). At a hinge's kink (h = 0) the slope taken is 0, relu's convention, so the composition
// of primitive ops gives the same gradient everywhere. G = dL/dD is not symmetric (it has entries only where the
// mined (row, column) pairs are); distance_matrix_backward is exact for any G, since it treats D_ij as a function of
// both e_i and e_j. With the scalar's incoming gradient g, dL/de = g distance_matrix_backward(e, D, G) (the shared
// DistanceMatrixLossBackward node), and the normalisation of prepare_embeddings chains through autograd before it.

QuadrupletLoss::QuadrupletLoss(QuadrupletLossOptions options) : options_(options) {
  TRIDENT_CHECK(std::isfinite(options_.margin1), "QuadrupletLoss: margin1 must be finite, got {}", options_.margin1);
  TRIDENT_CHECK(std::isfinite(options_.margin2), "QuadrupletLoss: margin2 must be finite, got {}", options_.margin2);
}

// embeddings: [B, D], labels: [B] -> []
Tensor QuadrupletLoss::operator()(const Tensor& embeddings, const Tensor& labels) {
  check_metric_inputs("QuadrupletLoss", embeddings, labels);
  const Distance distance = options_.distance.distance;
  const Tensor e = prepare_embeddings(embeddings, options_.distance);
  const Tensor d = distance_matrix(e, distance);
  const QuadrupletIndices q = mine_quadruplets_batch_hard_from_matrix(d, labels, distance);

  const std::int64_t b = d.size(0), t = q.size();
  const std::vector<double> dv = d.to(kFloat64).contiguous().to_vector<double>();
  const std::vector<std::int64_t> y = labels.contiguous().to_vector<std::int64_t>();
  auto at = [&](std::int64_t i, std::int64_t j) { return dv[static_cast<std::size_t>(i * b + j)]; };
  const double sigma = is_similarity(distance) ? -1.0 : 1.0;

  // The hinges of the Note, then the reduction's weight w.
  const std::vector<std::int64_t> qa = q.anchor.to_vector<std::int64_t>(), qp = q.positive.to_vector<std::int64_t>(),
                                  qn = q.negative.to_vector<std::int64_t>(), ql = q.l.to_vector<std::int64_t>(),
                                  qk = q.k.to_vector<std::int64_t>();
  std::vector<double> h1(static_cast<std::size_t>(t)), h2(static_cast<std::size_t>(t));
  double total = 0.0;
  std::int64_t active = 0;
  for (std::size_t i = 0; i < h1.size(); ++i) {
    h1[i] = sigma * (at(qa[i], qp[i]) - at(qa[i], qn[i])) + options_.margin1;
    h2[i] = sigma * (at(qa[i], qp[i]) - at(ql[i], qk[i])) + options_.margin2;
    const double loss = std::max(h1[i], 0.0) + std::max(h2[i], 0.0);
    total += loss;
    if (loss > 0.0) ++active;
  }
  double w = 0.0;
  switch (options_.reduction) {
    case MetricReduction::Mean:
      w = t > 0 ? 1.0 / static_cast<double>(t) : 0.0;
      break;
    case MetricReduction::Sum:
      w = 1.0;
      break;
    case MetricReduction::AvgNonZero:
      w = active > 0 ? 1.0 / static_cast<double>(active) : 0.0;
      break;
  }

  // Statistics of the batch.
  double pos_total = 0.0, neg_total = 0.0;
  std::int64_t pos_count = 0, neg_count = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    for (std::int64_t j = 0; j < b; ++j) {
      if (i == j) continue;
      if (y[i] == y[j]) {
        pos_total += at(i, j);
        ++pos_count;
      } else {
        neg_total += at(i, j);
        ++neg_count;
      }
    }
  }
  stats_ = LossStats{};
  stats_.tuples = t;
  stats_.active = active;
  if (t > 0) stats_.active_fraction = static_cast<double>(active) / static_cast<double>(t);
  stats_.mean_positive = mean_or_nan(pos_total, pos_count);
  stats_.mean_negative = mean_or_nan(neg_total, neg_count);

  Tensor out = scalar_tensor(total * w, {.dtype = e.dtype()});
  if (auto node = autograd::make_node<DistanceMatrixLossBackward>({&e})) {
    node->label = "QuadrupletLossBackward";  // backward: Note [Quadruplet loss gradient]
    // G of the Note, for an incoming gradient of 1.
    std::vector<double> g(static_cast<std::size_t>(b * b), 0.0);
    auto add = [&](std::int64_t i, std::int64_t j, double v) { g[static_cast<std::size_t>(i * b + j)] += v; };
    for (std::size_t i = 0; i < h1.size(); ++i) {
      if (h1[i] > 0.0) {
        add(qa[i], qp[i], sigma * w);
        add(qa[i], qn[i], -sigma * w);
      }
      if (h2[i] > 0.0) {
        add(qa[i], qp[i], sigma * w);
        add(ql[i], qk[i], -sigma * w);
      }
    }
    Tensor gt = empty({b, b}, {.dtype = kFloat64});
    std::memcpy(gt.data_ptr<double>(), g.data(), g.size() * sizeof(double));
    node->distance = distance;
    node->emb = node->save(e);
    node->dist = node->save(d);
    node->dldd = node->save(gt.to(e.dtype()));
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
