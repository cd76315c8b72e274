// Standalone miners. Contracts and semantics: losses/miners.h.
#include "trident/losses/miners.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"

namespace trident {

namespace {

// Below this batch size the O(B^3) enumerations run on one thread (the parallel region costs more than it saves).
constexpr std::int64_t kParallelBatch = 32;

// The batch as the miners see it: c[i * b + j] is the closeness-ordered value (smaller is closer): d_ij for
// distances, -s_ij for similarities. Negation is exact, so every comparison equals the one on the original value,
// and delta = c_an - c_ap equals s_ap - s_an bit for bit.
struct Batch {
  std::int64_t b = 0;
  std::vector<double> c;
  std::vector<std::int64_t> y;
  double at(std::int64_t i, std::int64_t j) const { return c[static_cast<std::size_t>(i * b + j)]; }
};

Batch make_batch(const char* op, const Tensor& d, const Tensor& labels, Distance distance) {
  check_defined(op, d, "distance matrix");
  check_defined(op, labels, "labels");
  TRIDENT_CHECK(d.dim() == 2 && d.size(0) == d.size(1), "{}: expected a square [B, B] distance matrix, got {}", op,
                shape_str(d.sizes()));
  check_floating(op, d);
  TRIDENT_CHECK(d.device() == kCPU, "{}: miners run on the CPU; the distance matrix is on {}", op, d.device());
  TRIDENT_CHECK(labels.dtype() == kInt64, "{}: labels must be int64, got {}", op, labels.dtype());
  TRIDENT_CHECK(labels.dim() == 1 && labels.size(0) == d.size(0), "{}: expected labels of shape [{}], got {}", op,
                d.size(0), shape_str(labels.sizes()));
  NoGradGuard no_grad;
  Batch batch;
  batch.b = d.size(0);
  batch.c = d.detach().to(kFloat64).contiguous().to_vector<double>();
  if (is_similarity(distance))
    for (double& v : batch.c) v = -v;
  batch.y = labels.contiguous().to_vector<std::int64_t>();
  return batch;
}

// The matrix a public miner works on: the loss's distance on the prepared embeddings, without autograd.
Tensor miner_matrix(const Tensor& embeddings, const DistanceOptions& distance) {
  NoGradGuard no_grad;
  return distance_matrix(prepare_embeddings(embeddings.detach(), distance), distance.distance);
}

Tensor index_tensor(const std::vector<std::int64_t>& v) {
  Tensor t = empty({static_cast<std::int64_t>(v.size())}, {.dtype = kInt64});
  if (!v.empty()) std::memcpy(t.data_ptr<std::int64_t>(), v.data(), v.size() * sizeof(std::int64_t));
  return t;
}

void check_margin(const char* op, const char* name, double m) {
  TRIDENT_CHECK(std::isfinite(m), "{}: {} must be finite, got {}", op, name, m);
}

// Every (a, p, n) triplet that passes `keep(c_ap, c_an)`, sorted by (a, p, n). Each anchor is enumerated twice (count,
// then fill at its offset), so the anchors can run in parallel without a shared output vector.
template <typename Keep>
TripletIndices enumerate_triplets(const Batch& batch, Keep keep) {
  const std::int64_t b = batch.b;
  std::vector<std::int64_t> offset(static_cast<std::size_t>(b + 1), 0);
  // One pass over anchor a's triplets; emit(p, n) is called for each kept one, in (p, n) order.
  auto visit = [&](std::int64_t a, auto&& emit) {
    const std::int64_t ya = batch.y[a];
    for (std::int64_t p = 0; p < b; ++p) {
      if (p == a || batch.y[p] != ya) continue;
      const double cap = batch.at(a, p);
      for (std::int64_t n = 0; n < b; ++n) {
        if (batch.y[n] == ya) continue;
        if (keep(cap, batch.at(a, n))) emit(p, n);
      }
    }
  };
#pragma omp parallel for schedule(dynamic, 1) if (b >= kParallelBatch)
  for (std::int64_t a = 0; a < b; ++a) {
    std::int64_t count = 0;
    visit(a, [&](std::int64_t, std::int64_t) { ++count; });
    offset[a + 1] = count;
  }
  std::partial_sum(offset.begin(), offset.end(), offset.begin());
  const std::int64_t total = offset[b];
  TripletIndices out{empty({total}, {.dtype = kInt64}), empty({total}, {.dtype = kInt64}),
                     empty({total}, {.dtype = kInt64})};
  if (total == 0) return out;
  std::int64_t* pa = out.anchor.data_ptr<std::int64_t>();
  std::int64_t* pp = out.positive.data_ptr<std::int64_t>();
  std::int64_t* pn = out.negative.data_ptr<std::int64_t>();
#pragma omp parallel for schedule(dynamic, 1) if (b >= kParallelBatch)
  for (std::int64_t a = 0; a < b; ++a) {
    std::int64_t t = offset[a];
    visit(a, [&](std::int64_t p, std::int64_t n) {
      pa[t] = a;
      pp[t] = p;
      pn[t] = n;
      ++t;
    });
  }
  return out;
}

// One triplet per anchor: the farthest positive (largest c) and the nearest negative (smallest c); strict comparisons
// in index order keep the lowest index among equal values.
TripletIndices batch_hard(const Batch& batch) {
  std::vector<std::int64_t> va, vp, vn;
  for (std::int64_t a = 0; a < batch.b; ++a) {
    std::int64_t p = -1, n = -1;
    for (std::int64_t j = 0; j < batch.b; ++j) {
      if (batch.y[j] == batch.y[a]) {
        if (j != a && (p < 0 || batch.at(a, j) > batch.at(a, p))) p = j;
      } else if (n < 0 || batch.at(a, j) < batch.at(a, n)) {
        n = j;
      }
    }
    if (p < 0 || n < 0) continue;
    va.push_back(a);
    vp.push_back(p);
    vn.push_back(n);
  }
  return {index_tensor(va), index_tensor(vp), index_tensor(vn)};
}

// One triplet per (a, p): the nearest negative with c_an > c_ap, else the farthest negative. Per anchor the
// negatives are sorted by (c_an, n), so "the smallest c_an > c_ap, lowest index among equals" is an upper_bound and
// "the largest c_an, lowest index among equals" is the lower_bound of the maximum: O(B log B) per anchor.
TripletIndices batch_semihard(const Batch& batch) {
  const std::int64_t b = batch.b;
  std::vector<std::int64_t> offset(static_cast<std::size_t>(b + 1), 0);
  std::vector<std::vector<std::int64_t>> pos(static_cast<std::size_t>(b)), neg(static_cast<std::size_t>(b));
#pragma omp parallel for schedule(dynamic, 1) if (b >= kParallelBatch)
  for (std::int64_t a = 0; a < b; ++a) {
    std::vector<std::int64_t> negatives, positives, picked;
    for (std::int64_t j = 0; j < b; ++j) {
      if (batch.y[j] != batch.y[a])
        negatives.push_back(j);
      else if (j != a)
        positives.push_back(j);
    }
    if (negatives.empty() || positives.empty()) continue;
    std::sort(negatives.begin(), negatives.end(), [&](std::int64_t u, std::int64_t v) {
      const double cu = batch.at(a, u), cv = batch.at(a, v);
      return cu < cv || (cu == cv && u < v);
    });
    const double cmax = batch.at(a, negatives.back());
    const auto farthest = std::lower_bound(negatives.begin(), negatives.end(), cmax,
                                           [&](std::int64_t n, double v) { return batch.at(a, n) < v; });
    for (std::int64_t p : positives) {
      const double cap = batch.at(a, p);
      auto it = std::upper_bound(negatives.begin(), negatives.end(), cap,
                                 [&](double v, std::int64_t n) { return v < batch.at(a, n); });
      picked.push_back(it != negatives.end() ? *it : *farthest);
    }
    offset[a + 1] = static_cast<std::int64_t>(positives.size());
    pos[a] = std::move(positives);
    neg[a] = std::move(picked);
  }
  std::partial_sum(offset.begin(), offset.end(), offset.begin());
  std::vector<std::int64_t> va(offset[b]), vp(offset[b]), vn(offset[b]);
  for (std::int64_t a = 0; a < b; ++a) {
    for (std::size_t i = 0; i < pos[a].size(); ++i) {
      const std::size_t t = static_cast<std::size_t>(offset[a]) + i;
      va[t] = a;
      vp[t] = pos[a][i];
      vn[t] = neg[a][i];
    }
  }
  return {index_tensor(va), index_tensor(vp), index_tensor(vn)};
}

}  // namespace

// d: [B, B], labels: [B] -> 3 x [T]
TripletIndices mine_triplets_from_matrix(const Tensor& d, const Tensor& labels, TripletMining mining, double margin,
                                         Distance distance) {
  const char* op = "mine_triplets";
  check_margin(op, "margin", margin);
  const Batch batch = make_batch(op, d, labels, distance);
  switch (mining) {
    case TripletMining::All:
      return enumerate_triplets(batch, [](double, double) { return true; });
    case TripletMining::Hard:
      return enumerate_triplets(batch, [](double cap, double can) { return can - cap <= 0.0; });
    case TripletMining::SemiHard:
      return enumerate_triplets(batch, [margin](double cap, double can) {
        const double delta = can - cap;
        return delta > 0.0 && delta <= margin;
      });
    case TripletMining::Easy:
      return enumerate_triplets(batch, [margin](double cap, double can) { return can - cap > margin; });
    case TripletMining::BatchHard:
      return batch_hard(batch);
    case TripletMining::BatchSemiHard:
      return batch_semihard(batch);
  }
  TRIDENT_CHECK(false, "{}: unknown mining {}", op, static_cast<int>(mining));
  return {};
}

// embeddings: [B, D], labels: [B] -> 3 x [T]
TripletIndices mine_triplets(const Tensor& embeddings, const Tensor& labels, TripletMining mining, double margin,
                             DistanceOptions distance) {
  check_metric_inputs("mine_triplets", embeddings, labels);
  check_margin("mine_triplets", "margin", margin);
  return mine_triplets_from_matrix(miner_matrix(embeddings, distance), labels, mining, margin, distance.distance);
}

// d: [B, B], labels: [B] -> 4 x [T]
PairIndices mine_pairs_from_matrix(const Tensor& d, const Tensor& labels, PairMining mining, double pos_margin,
                                   double neg_margin, Distance distance) {
  const char* op = "mine_pairs";
  check_margin(op, "pos_margin", pos_margin);
  check_margin(op, "neg_margin", neg_margin);
  TRIDENT_CHECK(mining == PairMining::All || mining == PairMining::Hard, "{}: unknown mining {}", op,
                static_cast<int>(mining));
  // The raw values are compared (make_batch with a distance does not negate), since the margins are given in the
  // distance's own units: a margin on a similarity is a similarity.
  const Batch batch = make_batch(op, d, labels, Distance::Euclidean);
  const bool similarity = is_similarity(distance);
  std::vector<std::int64_t> a1, p, a2, n;
  for (std::int64_t i = 0; i < batch.b; ++i) {
    for (std::int64_t j = 0; j < batch.b; ++j) {
      if (i == j) continue;
      const double x = batch.at(i, j);
      if (batch.y[i] == batch.y[j]) {
        if (mining == PairMining::All || (similarity ? x < pos_margin : x > pos_margin)) {
          a1.push_back(i);
          p.push_back(j);
        }
      } else if (mining == PairMining::All || (similarity ? x > neg_margin : x < neg_margin)) {
        a2.push_back(i);
        n.push_back(j);
      }
    }
  }
  return {index_tensor(a1), index_tensor(p), index_tensor(a2), index_tensor(n)};
}

// embeddings: [B, D], labels: [B] -> 4 x [T]
PairIndices mine_pairs(const Tensor& embeddings, const Tensor& labels, PairMining mining, double pos_margin,
                       double neg_margin, DistanceOptions distance) {
  check_metric_inputs("mine_pairs", embeddings, labels);
  return mine_pairs_from_matrix(miner_matrix(embeddings, distance), labels, mining, pos_margin, neg_margin,
                                distance.distance);
}

// d: [B, B], labels: [B] -> 5 x [T]
QuadrupletIndices mine_quadruplets_batch_hard_from_matrix(const Tensor& d, const Tensor& labels, Distance distance) {
  const Batch batch = make_batch("mine_quadruplets_batch_hard", d, labels, distance);
  const std::int64_t b = batch.b;
  // The closest ordered pair (l, k) with y_l != y_k and neither label equal to `excluded` (none: pass no class).
  // Scanning (l, k) in lexicographic order with a strict comparison keeps the lowest pair among equal values.
  struct Pair {
    std::int64_t l = -1, k = -1;
  };
  auto closest_pair = [&](bool exclude, std::int64_t excluded) {
    Pair best;
    double cbest = 0.0;
    for (std::int64_t l = 0; l < b; ++l) {
      if (exclude && batch.y[l] == excluded) continue;
      for (std::int64_t k = 0; k < b; ++k) {
        if (batch.y[k] == batch.y[l] || (exclude && batch.y[k] == excluded)) continue;
        const double c = batch.at(l, k);
        if (best.l < 0 || c < cbest) {
          best = {l, k};
          cbest = c;
        }
      }
    }
    return best;
  };
  // The closest pair without class c is the global one unless that pair involves c (its minimum over a superset is
  // in the subset, and it is also the lowest such pair there), so three scans serve every class.
  const Pair global = closest_pair(false, 0);
  Pair without_l, without_k;
  if (global.l >= 0) {
    without_l = closest_pair(true, batch.y[global.l]);
    without_k = closest_pair(true, batch.y[global.k]);
  }
  std::vector<std::int64_t> va, vp, vn, vl, vk;
  for (std::int64_t a = 0; a < b; ++a) {
    const std::int64_t ya = batch.y[a];
    const Pair pair = global.l < 0              ? Pair{}
                      : ya == batch.y[global.l] ? without_l
                      : ya == batch.y[global.k] ? without_k
                                                : global;
    if (pair.l < 0) continue;
    std::int64_t p = -1, n = -1;
    for (std::int64_t j = 0; j < b; ++j) {
      if (batch.y[j] == ya) {
        if (j != a && (p < 0 || batch.at(a, j) > batch.at(a, p))) p = j;
      } else if (n < 0 || batch.at(a, j) < batch.at(a, n)) {
        n = j;
      }
    }
    if (p < 0 || n < 0) continue;
    va.push_back(a);
    vp.push_back(p);
    vn.push_back(n);
    vl.push_back(pair.l);
    vk.push_back(pair.k);
  }
  return {index_tensor(va), index_tensor(vp), index_tensor(vn), index_tensor(vl), index_tensor(vk)};
}

// embeddings: [B, D], labels: [B] -> 5 x [T]
QuadrupletIndices mine_quadruplets_batch_hard(const Tensor& embeddings, const Tensor& labels,
                                              DistanceOptions distance) {
  check_metric_inputs("mine_quadruplets_batch_hard", embeddings, labels);
  return mine_quadruplets_batch_hard_from_matrix(miner_matrix(embeddings, distance), labels, distance.distance);
}

}  // namespace trident
