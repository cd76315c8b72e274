// Fused triplet margin loss. Contracts and semantics: losses/triplet.h, METRIC_LEARNING.md "TripletMarginLoss".
//
// One autograd node on the prepared embeddings e. The forward computes the distance matrix D = distance_matrix(e)
// and, in the same pass over the triplets, the loss and G = dL/dD (B x B); the backward is
// distance_matrix_backward(e, D, G) times the incoming gradient. Work is split over anchors (OpenMP): everything an
// anchor's triplets contribute lands in row a of G, which only that anchor's iteration writes (swap is the one
// exception, see TripletKernel::stream_anchor).
#include "trident/losses/triplet.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"

namespace trident {

using autograd::Node;

namespace {

constexpr const char* kOp = "TripletMarginLoss";

// Note [Distances and similarities in one code path]
// The kernel works on d'_ij = sign * D_ij with sign = +1 for distances and -1 for similarities, so "closer" is always
// "smaller d'". Negation is exact in floating point, so every comparison and every per-triplet value is bit-for-bit
// the one the METRIC_LEARNING.md formulas give on the original values:
//   delta = d'_an - d'_ap = -s_an + s_ap = s_ap - s_an,
//   x     = (d'_ap - d'_an) + m = (s_an - s_ap) + m,
//   swap  min(d'_an, d'_pn) = -max(s_an, s_pn),
// and dL/dD = sign * dL/dD'. All predicates are evaluated in float64 from the stored values, in exactly these forms
// (delta = v - d, x = (d - v) + m), so that mining and "loss > 0" decisions match a reference that evaluates the same
// expressions, ties included.

// The reduction's factor: L = factor * (sum of the per-triplet losses). Counts are constants for the gradient.
double reduction_factor(MetricReduction r, std::int64_t mined, std::int64_t active) {
  switch (r) {
    case MetricReduction::Sum:
      return 1.0;
    case MetricReduction::Mean:
      return mined > 0 ? 1.0 / static_cast<double>(mined) : 0.0;
    case MetricReduction::AvgNonZero:
      return active > 0 ? 1.0 / static_cast<double>(active) : 0.0;
  }
  return 0.0;
}

// Note [Soft margin]
// l(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): e^-|x| <= 1, so nothing overflows, and log1p keeps the small
// values exact. dl/dx = sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) for x < 0 (again e^-|x| only).
inline double softplus_value(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }
inline double sigmoid_value(double x) {
  const double e = std::exp(-std::abs(x));
  return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// Number of leading elements of a[0, n) for which pred holds, for a predicate that holds on a prefix (true...true
// false...false). Branch-free binary search (Note [Batched binary search]) for L queries q[0, L) at once.
// Invariant: a[0, base) all satisfy pred and the first failing index lies in [base, base + len].
template <int L, typename Pred>
inline void count_prefix(const double* a, std::int64_t n, const double* q, std::int64_t* out, Pred pred) {
  std::int64_t base[L];
  for (int k = 0; k < L; ++k) base[k] = 0;
  if (n == 0) {
    for (int k = 0; k < L; ++k) out[k] = 0;
    return;
  }
  std::int64_t len = n;
  while (len > 1) {
    const std::int64_t half = len / 2;
    for (int k = 0; k < L; ++k) base[k] = pred(a[base[k] + half], q[k]) ? base[k] + half : base[k];
    len -= half;
  }
  for (int k = 0; k < L; ++k) out[k] = base[k] + (pred(a[base[k]], q[k]) ? 1 : 0);
}
// Note [Batched binary search]
// The window method does one to three binary searches per (anchor, negative) pair: B^2 of them. A search over the
// anchor's P positives is log P dependent loads, and a branching search mispredicts about half its branches. The
// searches of one anchor all run over the same array with the same length, so L of them advance in lockstep: the
// step sizes are equal, the selects compile to conditional moves, and the L independent load chains overlap.

template <typename T>
struct TripletKernel {
  const T* dist = nullptr;               // D [B, B], contiguous
  const std::int64_t* labels = nullptr;  // [B]
  std::int64_t b = 0;
  double sign = 1.0;  // Note [Distances and similarities in one code path]
  double margin = 0.0;
  TripletMarginOptions opt;
  T* grad = nullptr;       // G' = d(sum of losses)/dD' [B, B], row a written by anchor a only
  T* swap_grad = nullptr;  // swap only: the d_pn entries, written atomically by every anchor

  double d(std::int64_t i, std::int64_t j) const { return sign * static_cast<double>(dist[i * b + j]); }

  // Is (a, p, n) mined, given delta = v - dp (v = d'_an, dp = d'_ap)? The table of METRIC_LEARNING.md.
  bool mined(double dp, double v) const {
    const double delta = v - dp;
    switch (opt.mining) {
      case TripletMining::Hard:
        return delta <= 0.0;
      case TripletMining::SemiHard:
        return delta > 0.0 && delta <= margin;
      case TripletMining::Easy:
        return delta > margin;
      default:
        return true;
    }
  }

  struct Totals {
    double loss = 0.0;
    std::int64_t mined = 0, active = 0;
  };

  // Note [All triplets by sorted prefix sums]
  // The hinge without swap, for the window minings (All, Hard, SemiHard, Easy). Fix an anchor a; let its positives
  // sorted by distance be d_1 <= ... <= d_P (prefix sums S_k = d_1 + ... + d_k), and take one negative n, v = d_an.
  // Each condition on a triplet (a, p, n) is monotone in d = d_ap for fixed v:
  //   active   x = (d - v) + m > 0      false ... true      (x is non-decreasing in d, rounding included)
  //   hard     delta = v - d <= 0        false ... true
  //   semihard 0 < delta                 true ... false;  delta <= m   false ... true
  //   easy     delta > m                 true ... false
  // so the positives that n forms a mined triplet with are one index range [lo, hi) of the sorted order, and those
  // whose triplet is also active are [l, hi) with l = max(lo, first active index): each boundary is one binary
  // search with the exact predicate (so ties are decided as the formulas decide them). Over that range
  //   sum_{k in [l, hi)} ((d_k - v) + m) = (S_hi - S_l) + (hi - l)(m - v),
  //   d/dd_an of it = -(hi - l),                             -> G'[a][n] = -(number of positives whose window holds n)
  //   d/dd_ak of it = 1 for every k in [l, hi)               -> G'[a][p_k] = number of negatives whose range holds k,
  // the last gathered for all negatives at once with a difference array over the sorted positions (+1 at l, -1 at
  // hi, then a running sum). mined += hi - lo, active += hi - l. Per anchor: a sort of the P positives and
  // O(N log P) searches, so O(B^2 log B) time and O(B) scratch in all.
  // (METRIC_LEARNING.md states the method with the roles swapped -- sort the negatives, search per positive. Both
  // give the same sums; sorting the positives is cheaper, since a batch has far fewer positives than negatives per
  // anchor (PK batches: K - 1 against B - K), and needs no index map for G'[a][n].)
  Totals window_anchor(std::int64_t a, std::vector<std::pair<double, std::int64_t>>& pos, std::vector<double>& ds,
                       std::vector<double>& prefix, std::vector<std::int64_t>& diff,
                       std::vector<std::int64_t>& negs) const {
    Totals t;
    T* row = grad + a * b;
    std::fill(row, row + b, T(0));
    pos.clear();
    negs.clear();
    for (std::int64_t j = 0; j < b; ++j) {
      if (j == a) continue;
      if (labels[j] == labels[a])
        pos.emplace_back(d(a, j), j);
      else
        negs.push_back(j);
    }
    const std::int64_t np = static_cast<std::int64_t>(pos.size());
    if (np == 0 || negs.empty()) return t;
    std::sort(pos.begin(), pos.end());
    ds.resize(np);
    prefix.assign(np + 1, 0.0);
    diff.assign(np + 1, 0);
    for (std::int64_t k = 0; k < np; ++k) {
      ds[k] = pos[k].first;
      prefix[k + 1] = prefix[k] + ds[k];
    }
    const double m = margin;
    const TripletMining mining = opt.mining;
    constexpr int L = 8;
    const std::int64_t nn = static_cast<std::int64_t>(negs.size());
    for (std::int64_t c = 0; c < nn; c += L) {
      double v[L];
      std::int64_t lo[L], hi[L], act[L];
      for (int k = 0; k < L; ++k) v[k] = d(a, negs[std::min(c + k, nn - 1)]);  // the tail repeats the last one
      // act: positions below it are inactive (x <= 0), i.e. the count of the prefix where !(x > 0).
      count_prefix<L>(ds.data(), np, v, act, [m](double dp, double q) { return !((dp - q) + m > 0.0); });
      switch (mining) {
        case TripletMining::All:
          for (int k = 0; k < L; ++k) lo[k] = 0, hi[k] = np;
          break;
        case TripletMining::Hard:
          count_prefix<L>(ds.data(), np, v, lo, [](double dp, double q) { return !(q - dp <= 0.0); });
          for (int k = 0; k < L; ++k) hi[k] = np;
          break;
        case TripletMining::SemiHard:
          count_prefix<L>(ds.data(), np, v, lo, [m](double dp, double q) { return !(q - dp <= m); });
          count_prefix<L>(ds.data(), np, v, hi, [](double dp, double q) { return q - dp > 0.0; });
          break;
        case TripletMining::Easy:
          count_prefix<L>(ds.data(), np, v, hi, [m](double dp, double q) { return q - dp > m; });
          for (int k = 0; k < L; ++k) lo[k] = 0;
          break;
        default:
          break;
      }
      for (int k = 0; k < L && c + k < nn; ++k) {
        if (hi[k] <= lo[k]) continue;
        t.mined += hi[k] - lo[k];
        const std::int64_t l = std::max(lo[k], act[k]);
        if (hi[k] <= l) continue;
        const std::int64_t count = hi[k] - l;
        t.active += count;
        t.loss += (prefix[hi[k]] - prefix[l]) + static_cast<double>(count) * (m - v[k]);
        row[negs[c + k]] = static_cast<T>(-count);
        diff[l] += 1;
        diff[hi[k]] -= 1;
      }
    }
    std::int64_t running = 0;
    for (std::int64_t k = 0; k < np; ++k) {
      running += diff[k];
      row[pos[k].second] = static_cast<T>(running);
    }
    return t;
  }

  // One triplet of the streaming path: adds its loss and its gradient. Per triplet
  //   x = (d'_ap - d'_neg) + m, d'_neg = d'_an, or d'_pn when swap and d'_pn < d'_an;
  //   hinge: l = [x]_+, dl/dx = 1 if x > 0 else 0 (0 at the kink, as relu);  soft: Note [Soft margin];
  //   dl/dd'_ap = dl/dx, dl/dd'_neg = -dl/dx.
  // row is row a of G' in float64 (the anchor's own accumulator); the d'_pn entries go to swap_grad.
  void triplet(std::int64_t a, std::int64_t p, std::int64_t n, double* row, Totals& t) const {
    const double dp = d(a, p);
    double dn = d(a, n);
    bool pick_pn = false;
    if (opt.swap) {
      const double dpn = d(p, n);
      if (dpn < dn) {
        dn = dpn;
        pick_pn = true;
      }
    }
    const double x = (dp - dn) + margin;
    double l, g;
    if (opt.soft) {
      l = softplus_value(x);
      g = sigmoid_value(x);
    } else {
      l = x > 0.0 ? x : 0.0;
      g = x > 0.0 ? 1.0 : 0.0;
    }
    ++t.mined;
    if (l > 0.0) ++t.active;
    t.loss += l;
    if (g == 0.0) return;
    row[p] += g;
    if (!pick_pn) {
      row[n] -= g;
    } else {
      // Anchors on several threads can reach the same (p, n): an atomic add, whose order (and so the last bit of
      // the swap gradient) can change from run to run. Only the swap option takes this path.
      T& slot = swap_grad[p * b + n];
#pragma omp atomic
      slot -= static_cast<T>(g);
    }
  }

  void store_row(std::int64_t a, std::vector<double>& row) const {
    T* out = grad + a * b;
    for (std::int64_t j = 0; j < b; ++j) {
      out[j] = static_cast<T>(row[j]);
      row[j] = 0.0;
    }
  }
};

// Note [Batch-hard and batch-semihard selection]
// BatchHard: per anchor, one pass over its row: the farthest positive (largest d') and the nearest negative
// (smallest d'), strict comparisons, so ties go to the lowest index. O(B) per anchor.
// BatchSemiHard: per (a, p), the nearest negative with d'_an > d'_ap, else the farthest negative. With the
// positives sorted by d' (ties by index), negative n qualifies for exactly the positions k < c(n), c(n) = the number
// of positives with d'_ap < d'_an (one binary search). Keep, per c, the best negative with that c (smallest d',
// then lowest index); the choice for position k is the best over c in (k, P], a running minimum from the top.
// O(P log P + N log P) per anchor instead of O(P N).

template <typename T>
void run_anchors(TripletKernel<T>& K, typename TripletKernel<T>::Totals& totals,
                 const std::vector<std::int64_t>* groups, const std::vector<std::int64_t>* group_start,
                 const std::int64_t* tp, const std::int64_t* tn) {
  using Totals = typename TripletKernel<T>::Totals;
  const std::int64_t b = K.b;
  const TripletMining mining = K.opt.mining;
  const bool window = groups == nullptr && !K.opt.soft && !K.opt.swap &&
                      (mining == TripletMining::All || mining == TripletMining::Hard ||
                       mining == TripletMining::SemiHard || mining == TripletMining::Easy);
  // Each anchor's loss is kept and the anchors are added in order afterwards, so that the value has the same bits
  // whatever the thread count and the dynamic schedule (an OpenMP reduction would add the threads' partial sums in
  // an order that changes from run to run). The counts are integers: their reduction is exact.
  std::vector<double> anchor_loss(static_cast<std::size_t>(b), 0.0);
  std::int64_t mined = 0, active = 0;
#pragma omp parallel reduction(+ : mined, active) if (b >= 128)
  {
    std::vector<std::pair<double, std::int64_t>> pos;
    std::vector<double> ds, prefix, row;
    std::vector<std::int64_t> diff, negs, posi, count_at;
    std::vector<std::pair<double, std::int64_t>> best;
    if (!window) row.assign(b, 0.0);
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t a = 0; a < b; ++a) {
      Totals t;
      if (window) {
        t = K.window_anchor(a, pos, ds, prefix, diff, negs);
      } else if (groups != nullptr) {
        // Explicit triplets, grouped by anchor.
        for (std::int64_t k = (*group_start)[a]; k < (*group_start)[a + 1]; ++k) {
          const std::int64_t i = (*groups)[k];
          K.triplet(a, tp[i], tn[i], row.data(), t);
        }
        K.store_row(a, row);
      } else {
        posi.clear();
        negs.clear();
        for (std::int64_t j = 0; j < b; ++j) {
          if (j == a) continue;
          (K.labels[j] == K.labels[a] ? posi : negs).push_back(j);
        }
        if (!posi.empty() && !negs.empty()) {
          if (mining == TripletMining::BatchHard) {
            std::int64_t p = posi[0], n = negs[0];
            for (std::int64_t j : posi)
              if (K.d(a, j) > K.d(a, p)) p = j;
            for (std::int64_t j : negs)
              if (K.d(a, j) < K.d(a, n)) n = j;
            K.triplet(a, p, n, row.data(), t);
          } else if (mining == TripletMining::BatchSemiHard) {
            // Note [Batch-hard and batch-semihard selection]
            pos.clear();
            for (std::int64_t j : posi) pos.emplace_back(K.d(a, j), j);
            std::sort(pos.begin(), pos.end());
            const std::int64_t np = static_cast<std::int64_t>(pos.size());
            ds.resize(np);
            for (std::int64_t k = 0; k < np; ++k) ds[k] = pos[k].first;
            const double none = std::numeric_limits<double>::infinity();
            best.assign(np + 1, {none, -1});  // best[c]: smallest (d', index) among negatives with count c
            std::int64_t farthest = negs[0];
            for (std::int64_t n : negs) {
              const double v = K.d(a, n);
              if (v > K.d(a, farthest)) farthest = n;
              std::int64_t c;
              count_prefix<1>(ds.data(), np, &v, &c, [](double dp, double q) { return dp < q; });
              if (best[c].second < 0 || std::make_pair(v, n) < best[c]) best[c] = {v, n};
            }
            std::pair<double, std::int64_t> run{none, -1};
            for (std::int64_t k = np - 1; k >= 0; --k) {
              if (best[k + 1].second >= 0 && (run.second < 0 || best[k + 1] < run)) run = best[k + 1];
              K.triplet(a, pos[k].second, run.second >= 0 ? run.second : farthest, row.data(), t);
            }
          } else {
            // Window minings with soft or swap: every (p, n), O(P N) per anchor.
            for (std::int64_t p : posi) {
              const double dp = K.d(a, p);
              for (std::int64_t n : negs)
                if (K.mined(dp, K.d(a, n))) K.triplet(a, p, n, row.data(), t);
            }
          }
        }
        K.store_row(a, row);
      }
      anchor_loss[static_cast<std::size_t>(a)] = t.loss;
      mined += t.mined;
      active += t.active;
    }
  }
  double loss = 0.0;
  for (const double l : anchor_loss) loss += l;
  totals.loss = loss;
  totals.mined = mined;
  totals.active = active;
}

// Mean d over ordered pairs i != j with equal / different labels (NaN where there is none).
template <typename T>
void pair_means(const T* dist, const std::int64_t* labels, std::int64_t b, LossStats& s) {
  double ps = 0.0, ns = 0.0;
  std::int64_t pc = 0, nc = 0;
#pragma omp parallel for reduction(+ : ps, ns, pc, nc) schedule(static) if (b * b >= 65536)
  for (std::int64_t i = 0; i < b; ++i) {
    for (std::int64_t j = 0; j < b; ++j) {
      if (j == i) continue;
      const double v = static_cast<double>(dist[i * b + j]);
      if (labels[i] == labels[j])
        ps += v, ++pc;
      else
        ns += v, ++nc;
    }
  }
  if (pc > 0) s.mean_positive = ps / static_cast<double>(pc);
  if (nc > 0) s.mean_negative = ns / static_cast<double>(nc);
}

// The triplets of an explicit TripletIndices, checked, as anchor-grouped triplet numbers (a counting sort).
struct Grouped {
  std::vector<std::int64_t> order, start;
  Tensor p, n;  // contiguous int64 copies
};

Grouped group_triplets(const TripletIndices& tr, const Tensor& labels, std::int64_t b) {
  const char* names[3] = {"anchor", "positive", "negative"};
  const Tensor* parts[3] = {&tr.anchor, &tr.positive, &tr.negative};
  for (int k = 0; k < 3; ++k) {
    TRIDENT_CHECK(parts[k]->defined(), "{}: triplets.{} is an undefined tensor", kOp, names[k]);
    TRIDENT_CHECK(parts[k]->dtype() == kInt64, "{}: triplets.{} must be int64, got {}", kOp, names[k],
                  parts[k]->dtype());
    TRIDENT_CHECK(parts[k]->dim() == 1, "{}: triplets.{} must be 1-d [T], got shape {}", kOp, names[k],
                  shape_str(parts[k]->sizes()));
    TRIDENT_CHECK(parts[k]->device() == kCPU, "{}: triplets.{} must be on the CPU, got {}", kOp, names[k],
                  parts[k]->device());
  }
  const std::int64_t t = tr.anchor.size(0);
  TRIDENT_CHECK(tr.positive.size(0) == t && tr.negative.size(0) == t,
                "{}: triplets.anchor, positive, negative must have the same length, got {}, {}, {}", kOp, t,
                tr.positive.size(0), tr.negative.size(0));
  const Tensor a = tr.anchor.contiguous();
  Grouped g{{}, {}, tr.positive.contiguous(), tr.negative.contiguous()};
  const std::int64_t *pa = a.data_ptr<std::int64_t>(), *pp = g.p.data_ptr<std::int64_t>(),
                     *pn = g.n.data_ptr<std::int64_t>();
  const Tensor lc = labels.contiguous();
  const std::int64_t* y = lc.data_ptr<std::int64_t>();
  g.start.assign(b + 1, 0);
  for (std::int64_t i = 0; i < t; ++i) {
    for (int k = 0; k < 3; ++k) {
      const std::int64_t v = (k == 0 ? pa : k == 1 ? pp : pn)[i];
      TRIDENT_CHECK(v >= 0 && v < b, "{}: triplets.{}[{}] = {} is out of range [0, {})", kOp, names[k], i, v, b);
    }
    TRIDENT_CHECK(pp[i] != pa[i], "{}: triplet {} is not valid: positive {} is the anchor itself", kOp, i, pp[i]);
    TRIDENT_CHECK(y[pp[i]] == y[pa[i]], "{}: triplet {} is not valid: positive {} has label {}, anchor {} has {}", kOp,
                  i, pp[i], y[pp[i]], pa[i], y[pa[i]]);
    TRIDENT_CHECK(y[pn[i]] != y[pa[i]], "{}: triplet {} is not valid: negative {} has the anchor's label {}", kOp, i,
                  pn[i], y[pa[i]]);
    ++g.start[pa[i] + 1];
  }
  for (std::int64_t i = 0; i < b; ++i) g.start[i + 1] += g.start[i];
  g.order.resize(t);
  std::vector<std::int64_t> fill(g.start.begin(), g.start.end() - 1);
  for (std::int64_t i = 0; i < t; ++i) g.order[fill[pa[i]]++] = i;
  return g;
}

// Note [Triplet loss backward]
// The forward leaves G' = d(sum of per-triplet losses)/dD' (Notes above) and the factor f of the reduction, so
//   dL/dD = sign * f * G'   (Note [Distances and similarities in one code path]),
// and dL/de = distance_matrix_backward(e, D, dL/dD) (Note [Distance-matrix backward] in metric_common.h). That map is
// linear in its G argument, so the incoming gradient (a scalar) and sign * f scale its [B, D] result rather than
// the B x B matrix. When G' is zero (nothing active) or f = 0, the gradient is exactly zero.
// grad: [] -> dL/de: [B, D]
struct TripletMarginBackward final : Node {
  Distance distance = Distance::Euclidean;
  double coefficient = 0.0;    // sign * f
  bool zero = false;           // nothing contributes: the gradient is exactly 0
  std::size_t embeddings = 0;  // saved: e (the distance gradient is linear in it)
  std::size_t dist = 0;        // saved: D (euclidean only: W = G / D); unused otherwise
  std::size_t grad_dist = 0;   // saved: G' [B, B]
  std::string name() const override { return "TripletMarginBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor e = saved(embeddings);
    if (zero) return {zeros_like(e)};
    const Tensor d = distance == Distance::Euclidean ? saved(dist) : Tensor();
    const Tensor ge = distance_matrix_backward(e, d, saved(grad_dist), distance);
    return {mul(mul(ge, grad), coefficient)};
  }
};

}  // namespace

TripletMarginLoss::TripletMarginLoss(TripletMarginOptions options) : options_(options) {
  TRIDENT_CHECK(std::isfinite(options_.margin), "{}: margin must be finite, got {}", kOp, options_.margin);
}

Tensor TripletMarginLoss::operator()(const Tensor& embeddings, const Tensor& labels) {
  return forward(embeddings, labels, nullptr);
}

Tensor TripletMarginLoss::operator()(const Tensor& embeddings, const Tensor& labels, const TripletIndices& triplets) {
  return forward(embeddings, labels, &triplets);
}

// embeddings: [B, D], labels: [B] (, triplets: 3 x [T]) -> []
Tensor TripletMarginLoss::forward(const Tensor& embeddings, const Tensor& labels, const TripletIndices* triplets) {
  check_metric_inputs(kOp, embeddings, labels);
  TRIDENT_CHECK(embeddings.dtype() == kFloat32 || embeddings.dtype() == kFloat64,
                "{}: embeddings must be float32 or float64, got {}", kOp, embeddings.dtype());
  const std::int64_t b = embeddings.size(0);
  Grouped grouped;
  if (triplets != nullptr) grouped = group_triplets(*triplets, labels, b);

  const Tensor e = prepare_embeddings(embeddings, options_.distance);
  const Distance distance = options_.distance.distance;
  const Tensor dist = distance_matrix(e, distance).contiguous();  // [B, B]
  const Tensor y = labels.contiguous();
  Tensor g = empty({b, b}, {.dtype = e.dtype(), .device = e.device()});  // G' [B, B]
  Tensor swap_g;
  const double sign = is_similarity(distance) ? -1.0 : 1.0;

  typename TripletKernel<double>::Totals totals;
  LossStats stats;
  auto run = [&]<typename T>(T) {
    TripletKernel<T> k;
    k.dist = dist.data_ptr<T>();
    k.labels = y.data_ptr<std::int64_t>();
    k.b = b;
    k.sign = sign;
    k.margin = options_.margin;
    k.opt = options_;
    k.grad = g.data_ptr<T>();
    if (options_.swap) {
      swap_g = zeros({b, b}, {.dtype = e.dtype()});
      k.swap_grad = swap_g.data_ptr<T>();
    }
    typename TripletKernel<T>::Totals t;
    if (triplets != nullptr)
      run_anchors<T>(k, t, &grouped.order, &grouped.start, grouped.p.data_ptr<std::int64_t>(),
                     grouped.n.data_ptr<std::int64_t>());
    else
      run_anchors<T>(k, t, nullptr, nullptr, nullptr, nullptr);
    if (options_.swap) {
      T* out = k.grad;
      const T* add_in = k.swap_grad;
      const std::int64_t total = b * b;
#pragma omp parallel for schedule(static) if (total >= 65536)
      for (std::int64_t i = 0; i < total; ++i) out[i] += add_in[i];
      swap_g = Tensor();
    }
    totals.loss = t.loss;
    totals.mined = t.mined;
    totals.active = t.active;
    pair_means<T>(k.dist, k.labels, b, stats);
  };
  if (e.dtype() == kFloat64)
    run(double{});
  else
    run(float{});

  stats.tuples = totals.mined;
  stats.active = totals.active;
  if (totals.mined > 0) stats.active_fraction = static_cast<double>(totals.active) / static_cast<double>(totals.mined);
  stats_ = stats;

  const double factor = reduction_factor(options_.reduction, totals.mined, totals.active);
  Tensor out = full({}, totals.loss * factor, {.dtype = e.dtype(), .device = e.device()});
  if (auto node = autograd::make_node<TripletMarginBackward>({&e})) {
    node->distance = distance;
    node->coefficient = sign * factor;
    // Hinge: G' is non-zero iff a triplet is active; soft: iff one is mined (sigmoid > 0).
    node->zero = factor == 0.0 || (options_.soft ? totals.mined == 0 : totals.active == 0);
    node->embeddings = node->save(e);
    if (!node->zero) {
      if (distance == Distance::Euclidean) node->dist = node->save(dist);
      node->grad_dist = node->save(g);
    }
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
