// losses/triplet: the fused TripletMarginLoss against the same loss composed from primitive differentiable ops.
//
// The oracle enumerates triplets with plain loops (O(B^3)) on the float64 distance matrix of pairwise_distance,
// evaluating the METRIC_LEARNING.md conditions in the same floating-point forms as the kernel (delta = d_an - d_ap or
// s_ap - s_an; x = (d_ap - d_an) + m or (s_an - s_ap) + m), then builds index tensors and computes the loss with
// index_select / where / relu / softplus / sum, so autograd gives the reference gradient.
#include <array>
#include <random>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/losses/triplet.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::labels_of;
using trident::testing::random_tensor;

namespace {

const Distance kDistances[] = {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot};
const TripletMining kMinings[] = {TripletMining::All,  TripletMining::Hard,      TripletMining::SemiHard,
                                  TripletMining::Easy, TripletMining::BatchHard, TripletMining::BatchSemiHard};
const MetricReduction kReductions[] = {MetricReduction::Mean, MetricReduction::Sum, MetricReduction::AvgNonZero};

using Triplet = std::array<std::int64_t, 3>;

// The oracle's distance matrix: pairwise_distance on the prepared embeddings (cosine = dot of normalised rows).
Tensor oracle_distances(const Tensor& x, const DistanceOptions& d) {
  const Tensor e = prepare_embeddings(x, d);
  return pairwise_distance(e, Tensor(), d.distance == Distance::Cosine ? Distance::Dot : d.distance);
}

// All mined triplets, by brute force. dist: [B * B] values; sim: larger is closer.
std::vector<Triplet> mine(const std::vector<double>& dist, const std::vector<std::int64_t>& y, TripletMining mining,
                          double m, bool sim) {
  const auto b = static_cast<std::int64_t>(y.size());
  auto D = [&](std::int64_t i, std::int64_t j) { return dist[static_cast<std::size_t>(i * b + j)]; };
  // "closer(u, v)": u is strictly closer than v.
  auto closer = [&](double u, double v) { return sim ? u > v : u < v; };
  std::vector<Triplet> out;
  for (std::int64_t a = 0; a < b; ++a) {
    std::vector<std::int64_t> pos, neg;
    for (std::int64_t j = 0; j < b; ++j) {
      if (j != a && y[j] == y[a]) pos.push_back(j);
      if (y[j] != y[a]) neg.push_back(j);
    }
    if (pos.empty() || neg.empty()) continue;
    if (mining == TripletMining::BatchHard) {
      std::int64_t p = pos[0], n = neg[0];
      for (std::int64_t j : pos)
        if (closer(D(a, p), D(a, j))) p = j;  // farthest positive, lowest index on ties
      for (std::int64_t j : neg)
        if (closer(D(a, j), D(a, n))) n = j;  // nearest negative
      out.push_back({a, p, n});
      continue;
    }
    for (std::int64_t p : pos) {
      if (mining == TripletMining::BatchSemiHard) {
        std::int64_t best = -1, far = neg[0];
        for (std::int64_t n : neg) {
          if (closer(D(a, far), D(a, n))) far = n;
          if (closer(D(a, p), D(a, n)) && (best < 0 || closer(D(a, n), D(a, best)))) best = n;
        }
        out.push_back({a, p, best >= 0 ? best : far});
        continue;
      }
      for (std::int64_t n : neg) {
        const double delta = sim ? D(a, p) - D(a, n) : D(a, n) - D(a, p);
        bool take = true;
        if (mining == TripletMining::Hard) take = delta <= 0.0;
        if (mining == TripletMining::SemiHard) take = delta > 0.0 && delta <= m;
        if (mining == TripletMining::Easy) take = delta > m;
        if (take) out.push_back({a, p, n});
      }
    }
  }
  return out;
}

struct Reference {
  Tensor loss;  // undefined when no triplet is mined
  std::int64_t mined = 0, active = 0;
};

// The loss from primitive ops on x (which requires grad), for the given triplets.
Reference composed_loss(const Tensor& x, const std::vector<Triplet>& tr, const TripletMarginOptions& o) {
  Reference r;
  const bool sim = is_similarity(o.distance.distance);
  const Tensor D = oracle_distances(x, o.distance);
  const std::int64_t b = D.size(0);
  r.mined = static_cast<std::int64_t>(tr.size());
  if (tr.empty()) return r;
  std::vector<std::int64_t> iap, ian, ipn;
  for (const auto& t : tr) {
    iap.push_back(t[0] * b + t[1]);
    ian.push_back(t[0] * b + t[2]);
    ipn.push_back(t[1] * b + t[2]);
  }
  const Tensor flat = D.reshape({b * b});
  const Tensor dap = index_select(flat, 0, labels_of(iap));
  Tensor dan = index_select(flat, 0, labels_of(ian));
  if (o.swap) {
    const Tensor dpn = index_select(flat, 0, labels_of(ipn));
    dan = where(sim ? gt(dpn, dan) : lt(dpn, dan), dpn, dan);  // the harder view; d_an kept at a tie
  }
  const Tensor xv = add(sim ? sub(dan, dap) : sub(dap, dan), o.margin);
  const Tensor l = o.soft ? softplus(xv) : relu(xv);
  for (double v : l.detach().to_vector<double>()) r.active += v > 0.0;
  double factor = 1.0;
  if (o.reduction == MetricReduction::Mean) factor = 1.0 / static_cast<double>(r.mined);
  if (o.reduction == MetricReduction::AvgNonZero) factor = r.active > 0 ? 1.0 / static_cast<double>(r.active) : 0.0;
  r.loss = mul(sum(l), factor);
  return r;
}

std::string describe(const TripletMarginOptions& o) {
  return fmt::format("mining={} distance={} reduction={} soft={} swap={} margin={}", mining_name(o.mining),
                     to_string(o.distance), reduction_name(o.reduction), o.soft, o.swap, o.margin);
}

bool all_zero(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (v != 0.0) return false;
  return true;
}

// Fused vs composed on one batch: value, gradient and counts; explicit triplets (when given) instead of mining.
void expect_matches_oracle(const Tensor& x0, const std::vector<std::int64_t>& y, const TripletMarginOptions& o,
                           const std::string& what, const std::vector<Triplet>* explicit_triplets = nullptr) {
  SCOPED_TRACE(what + ": " + describe(o));
  const Tensor labels = labels_of(y);
  Tensor x = x0.detach().clone().set_requires_grad();
  TripletMarginLoss loss(o);
  Tensor l;
  if (explicit_triplets) {
    std::vector<std::int64_t> a, p, n;
    for (const auto& t : *explicit_triplets) a.push_back(t[0]), p.push_back(t[1]), n.push_back(t[2]);
    l = loss(x, labels, {labels_of(a), labels_of(p), labels_of(n)});
  } else {
    l = loss(x, labels);
  }
  ASSERT_EQ(l.dim(), 0);
  l.backward();
  const Tensor grad = x.grad().defined() ? x.grad() : zeros_like(x);
  for (double v : grad.to_vector<double>()) ASSERT_TRUE(std::isfinite(v));

  Tensor xr = x0.detach().clone().set_requires_grad();
  std::vector<Triplet> tr;
  if (explicit_triplets) {
    tr = *explicit_triplets;
  } else {
    NoGradGuard no_grad;
    tr = mine(oracle_distances(xr, o.distance).to_vector<double>(), y, o.mining, o.margin,
              is_similarity(o.distance.distance));
  }
  const Reference ref = composed_loss(xr, tr, o);
  EXPECT_EQ(loss.stats().tuples, ref.mined);
  EXPECT_EQ(loss.stats().active, ref.active);
  if (!ref.loss.defined() || ref.loss.item<double>() == 0.0) {
    EXPECT_EQ(l.item<double>(), 0.0);
    // A zero loss means no triplet, no active one (hinge), or a zero reduction factor: the gradient is exactly 0.
    EXPECT_TRUE(all_zero(grad));
    if (!ref.loss.defined()) return;
  }
  ref.loss.backward();
  const double expected = ref.loss.item<double>();
  EXPECT_NEAR(l.item<double>(), expected, 1e-9 * std::abs(expected) + 1e-14);
  const Tensor ref_grad = xr.grad().defined() ? xr.grad() : zeros_like(xr);
  EXPECT_TRUE(all_close(grad, ref_grad, 1e-12, 1e-9));
}

// Every option combination on one batch.
void sweep(const Tensor& x, const std::vector<std::int64_t>& y, const std::string& what, double margin = 0.2) {
  for (TripletMining mining : kMinings)
    for (Distance dist : kDistances)
      for (bool normalize : {true, false})
        for (MetricReduction red : kReductions)
          for (bool soft : {false, true})
            for (bool swap : {false, true})
              expect_matches_oracle(x, y,
                                    {.margin = margin,
                                     .mining = mining,
                                     .distance = {.distance = dist, .normalize = normalize},
                                     .soft = soft,
                                     .swap = swap,
                                     .reduction = red},
                                    what);
}

std::vector<std::int64_t> random_labels(std::int64_t b, std::int64_t classes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int64_t> y(static_cast<std::size_t>(b));
  for (auto& v : y) v = static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(classes)) * 7 - 3;
  return y;
}

}  // namespace

TEST(TripletMarginLoss, HandComputed) {
  // 1-d points 0, 1 (class 0) and 3 (class 1), euclidean, margin 2: triplet (0, 1, 2) has x = 1 - 3 + 2 = 0 (mined,
  // not active); (1, 0, 2) has x = 1 - 2 + 2 = 1.
  const Tensor x = tensor({0.0, 1.0, 3.0}, {3, 1});
  const Tensor y = labels_of({5, 5, 9});
  auto make = [](MetricReduction r) {
    return TripletMarginLoss({.margin = 2.0, .distance = {.normalize = false}, .reduction = r});
  };
  TripletMarginLoss sum_loss = make(MetricReduction::Sum);
  EXPECT_DOUBLE_EQ(sum_loss(x, y).item<double>(), 1.0);
  EXPECT_EQ(sum_loss.stats().tuples, 2);
  EXPECT_EQ(sum_loss.stats().active, 1);
  EXPECT_DOUBLE_EQ(sum_loss.stats().active_fraction, 0.5);
  EXPECT_DOUBLE_EQ(sum_loss.stats().mean_positive, 1.0);
  EXPECT_DOUBLE_EQ(sum_loss.stats().mean_negative, 2.5);  // (3 + 2 + 3 + 2) / 4
  EXPECT_DOUBLE_EQ(make(MetricReduction::Mean)(x, y).item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(make(MetricReduction::AvgNonZero)(x, y).item<double>(), 1.0);
  // Gradient of x_1 - (x_2 - x_1)... : L = d(1,0) - d(1,2) + 2 = (x1 - x0) - (x2 - x1) + 2.
  Tensor xg = x.clone().set_requires_grad();
  make(MetricReduction::Sum)(xg, y).backward();
  EXPECT_EQ(xg.grad().to_vector<double>(), (std::vector<double>{-1.0, 2.0, -1.0}));
  // Cosine flips the comparison: [s_an - s_ap + m]_+.
  const Tensor c = tensor({1.0, 0.0, 0.6, 0.8, 0.0, 1.0}, {3, 2});  // s01 = 0.6, s02 = 0, s12 = 0.8
  TripletMarginLoss cos({.margin = 0.5, .distance = {.distance = Distance::Cosine}, .reduction = MetricReduction::Sum});
  // (0, 1, 2): 0 - 0.6 + 0.5 < 0; (1, 0, 2): 0.8 - 0.6 + 0.5 = 0.7.
  EXPECT_NEAR(cos(c, y).item<double>(), 0.7, 1e-15);
  EXPECT_EQ(cos.stats().active, 1);
}

TEST(TripletMarginLoss, MatchesComposedLossOnRandomBatches) {
  sweep(random_tensor({12, 5}, 1), random_labels(12, 3, 2), "random 12x5, 3 classes");
  sweep(random_tensor({9, 3}, 3), random_labels(9, 4, 4), "random 9x3, 4 classes", 0.7);
}

TEST(TripletMarginLoss, DuplicatedEmbeddingsGiveFiniteMatchingGradients) {
  // Rows 5..8 copy rows 0..3 (same labels: zero-distance positives); row 9 copies row 4 with another label (a
  // zero-distance negative).
  const Tensor base = random_tensor({5, 4}, 5);
  const Tensor x = cat({base, base.slice(0, 0, 4), base.slice(0, 4, 5)}, 0).contiguous();
  sweep(x, {0, 1, 0, 2, 1, 0, 1, 0, 2, 2}, "duplicates");
}

TEST(TripletMarginLoss, TiesAreDecidedAsTheFormulas) {
  // Integer points with normalisation off: squared euclidean and dot distances are small integers, so equal
  // distances (argmax / argmin ties), delta == 0 and delta == margin (margin 1) occur exactly.
  const Tensor x =
      tensor(std::vector<double>{0, 0, 1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 1, 1, 2, 2, 2, 1, 0, 0, 1, 2, 2}, {12, 2});
  const std::vector<std::int64_t> y{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  sweep(x, y, "integer grid", 1.0);
  sweep(x, y, "integer grid, margin 0", 0.0);
}

TEST(TripletMarginLoss, NoTripletGivesZeroLossAndExactlyZeroGradient) {
  const Tensor x = random_tensor({6, 3}, 7);
  sweep(x, {4, 4, 4, 4, 4, 4}, "one class");
  sweep(x, {0, 1, 2, 3, 4, 5}, "all distinct");
  sweep(random_tensor({2, 3}, 8), {1, 1}, "B = 2, one class");
  sweep(random_tensor({2, 3}, 8), {1, 2}, "B = 2, two classes");
  // And explicitly: the loss is 0 and every gradient entry is exactly 0.
  Tensor xs = random_tensor({2, 3}, 9).set_requires_grad();
  TripletMarginLoss loss;
  Tensor l = loss(xs, labels_of({0, 1}));
  EXPECT_EQ(l.item<double>(), 0.0);
  l.backward();
  EXPECT_TRUE(all_zero(xs.grad()));
  EXPECT_EQ(loss.stats().tuples, 0);
  EXPECT_TRUE(std::isnan(loss.stats().active_fraction));
  EXPECT_TRUE(std::isnan(loss.stats().mean_positive));
}

TEST(TripletMarginLoss, ExplicitTripletsMatchComposedLoss) {
  const Tensor x = random_tensor({10, 4}, 10);
  const std::vector<std::int64_t> y = random_labels(10, 3, 11);
  std::vector<Triplet> all;
  {
    NoGradGuard no_grad;
    all = mine(oracle_distances(x, {}).to_vector<double>(), y, TripletMining::All, 0.2, false);
  }
  ASSERT_GT(all.size(), 20u);
  std::mt19937 rng(12);
  std::vector<Triplet> some;  // a random subset, with repeats, in random order
  for (int i = 0; i < 40; ++i) some.push_back(all[rng() % all.size()]);
  const std::vector<Triplet> none;
  for (Distance dist : kDistances)
    for (MetricReduction red : kReductions)
      for (bool soft : {false, true})
        for (bool swap : {false, true}) {
          const TripletMarginOptions o{.mining = TripletMining::BatchHard,  // ignored with explicit triplets
                                       .distance = {.distance = dist},
                                       .soft = soft,
                                       .swap = swap,
                                       .reduction = red};
          expect_matches_oracle(x, y, o, "explicit subset", &some);
          expect_matches_oracle(x, y, o, "explicit, empty", &none);
        }
}

TEST(TripletMarginLoss, StatsMatchBruteForce) {
  const Tensor x = random_tensor({11, 4}, 13);
  const std::vector<std::int64_t> y = random_labels(11, 3, 14);
  for (Distance dist : kDistances) {
    TripletMarginLoss loss({.distance = {.distance = dist}});
    loss(x, labels_of(y));
    const std::vector<double> d = oracle_distances(x, {.distance = dist}).to_vector<double>();
    double ps = 0, ns = 0;
    int pc = 0, nc = 0;
    for (int i = 0; i < 11; ++i)
      for (int j = 0; j < 11; ++j) {
        if (i == j) continue;
        (y[i] == y[j] ? ps : ns) += d[i * 11 + j];
        (y[i] == y[j] ? pc : nc) += 1;
      }
    EXPECT_NEAR(loss.stats().mean_positive, ps / pc, 1e-12) << distance_name(dist);
    EXPECT_NEAR(loss.stats().mean_negative, ns / nc, 1e-12) << distance_name(dist);
    EXPECT_DOUBLE_EQ(loss.stats().active_fraction,
                     static_cast<double>(loss.stats().active) / static_cast<double>(loss.stats().tuples));
  }
}

// The smallest distance of any decision of the loss from its switch point on this batch: hinge and soft argument x,
// delta against 0 and the margin (window minings), distance gaps among an anchor's positives and among its negatives
// (argmax / argmin and semihard choices), and d_pn against d_an (swap).
double distance_from_kinks(const Tensor& x, const std::vector<std::int64_t>& y, const TripletMarginOptions& o) {
  NoGradGuard no_grad;
  const std::vector<double> d = oracle_distances(x, o.distance).to_vector<double>();
  const auto b = static_cast<std::int64_t>(y.size());
  const double s = is_similarity(o.distance.distance) ? -1.0 : 1.0;
  auto D = [&](std::int64_t i, std::int64_t j) { return s * d[static_cast<std::size_t>(i * b + j)]; };
  double gap = INFINITY;
  for (std::int64_t a = 0; a < b; ++a)
    for (std::int64_t i = 0; i < b; ++i)
      for (std::int64_t j = 0; j < b; ++j) {
        if (i == a || j == a || i == j) continue;
        gap = std::min(gap, std::abs(D(a, i) - D(a, j)));  // every decision compares two distances from a ...
        if (y[i] == y[a] && y[j] != y[a]) {
          const double delta = D(a, j) - D(a, i);
          gap = std::min({gap, std::abs(delta - o.margin), std::abs(D(i, j) - D(a, j))});  // ... or these
        }
      }
  return gap;
}

TEST(TripletMarginLoss, GradcheckOnWellSeparatedData) {
  // The loss is piecewise smooth: its derivative jumps where a hinge argument crosses 0, a delta crosses 0 or the
  // margin, a farthest / nearest choice switches, or swap's min switches. A central difference that straddles such
  // a point measures neither side's derivative, so the data are chosen (and checked) to keep every one of these
  // quantities at least 1e-3 away from its switch point, far beyond the step 1e-6.
  const Tensor x = random_tensor({7, 3}, 21);
  const std::vector<std::int64_t> y{0, 0, 0, 1, 1, 2, 2};
  for (TripletMining mining : kMinings)
    for (Distance dist : kDistances)
      for (bool soft : {false, true})
        for (bool swap : {false, true}) {
          const TripletMarginOptions o{.margin = 0.3,
                                       .mining = mining,
                                       .distance = {.distance = dist},
                                       .soft = soft,
                                       .swap = swap,
                                       .reduction = MetricReduction::Mean};
          SCOPED_TRACE(describe(o));
          ASSERT_GT(distance_from_kinks(x, y, o), 1e-3);
          TripletMarginLoss loss(o);
          EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], labels_of(y)); }, {x}));
        }
}

TEST(TripletMarginLoss, Float32MatchesFloat64) {
  const Tensor x = random_tensor({64, 8}, 30);
  const Tensor y = labels_of(random_labels(64, 8, 31));
  for (TripletMining mining : kMinings)
    for (Distance dist : kDistances) {
      const TripletMarginOptions o{.mining = mining, .distance = {.distance = dist}, .reduction = MetricReduction::Sum};
      TripletMarginLoss l64(o), l32(o);
      Tensor x64 = x.clone().set_requires_grad(), x32 = x.to(kFloat32).set_requires_grad();
      Tensor a = l64(x64, y), b = l32(x32, y);
      EXPECT_EQ(b.dtype(), kFloat32);
      EXPECT_NEAR(b.item<double>(), a.item<double>(), 1e-4 * std::abs(a.item<double>()) + 1e-5)
          << mining_name(mining) << " " << distance_name(dist);
      a.backward();
      b.backward();
      EXPECT_TRUE(all_close(x32.grad().to(kFloat64), x64.grad(), 1e-3, 1e-3));
    }
}

TEST(TripletMarginLoss, BadInputsAreClearErrors) {
  EXPECT_THROW_MSG(TripletMarginLoss({.margin = INFINITY}), "TripletMarginLoss: margin must be finite, got inf");
  TripletMarginLoss loss;
  const Tensor x = random_tensor({4, 3}, 40);
  const Tensor y = labels_of({0, 0, 1, 1});
  EXPECT_THROW_MSG(loss(x.view({12}), y), "TripletMarginLoss: embeddings must be 2-d [B, D], got shape [12]");
  EXPECT_THROW_MSG(loss(x, y.to(kFloat64)), "TripletMarginLoss: labels must be int64, got float64");
  EXPECT_THROW_MSG(loss(x, y.slice(0, 0, 3)),
                   "TripletMarginLoss: expected labels of shape [4] for embeddings [4, 3], got [3]");
  EXPECT_THROW_MSG(loss(x.slice(0, 0, 1), y.slice(0, 0, 1)),
                   "TripletMarginLoss: need a batch of at least 2 embeddings, got 1");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[2] = std::nan("");
  EXPECT_THROW_MSG(loss(bad, y), "TripletMarginLoss: embeddings contain NaN or infinity");

  auto idx = [](std::vector<std::int64_t> v) { return labels_of(v); };
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({1}).to(kFloat32), idx({2})}),
                   "TripletMarginLoss: triplets.positive must be int64, got float32");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({1}), Tensor()}),
                   "TripletMarginLoss: triplets.negative is an undefined tensor");
  EXPECT_THROW_MSG(loss(x, y, {idx({0, 1}), idx({1}), idx({2})}),
                   "TripletMarginLoss: triplets.anchor, positive, negative must have the same length, got 2, 1, 1");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}).view({1, 1}), idx({1}), idx({2})}),
                   "TripletMarginLoss: triplets.anchor must be 1-d [T], got shape [1, 1]");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({1}), idx({4})}),
                   "TripletMarginLoss: triplets.negative[0] = 4 is out of range [0, 4)");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({-1}), idx({2})}),
                   "TripletMarginLoss: triplets.positive[0] = -1 is out of range [0, 4)");
  EXPECT_THROW_MSG(loss(x, y, {idx({0, 0}), idx({1, 2}), idx({2, 3})}),
                   "TripletMarginLoss: triplet 1 is not valid: positive 2 has label 1, anchor 0 has 0");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({1}), idx({1})}),
                   "TripletMarginLoss: triplet 0 is not valid: negative 1 has the anchor's label 0");
  EXPECT_THROW_MSG(loss(x, y, {idx({0}), idx({0}), idx({2})}),
                   "TripletMarginLoss: triplet 0 is not valid: positive 0 is the anchor itself");
}

TEST(TripletMarginLoss, ResultDoesNotDependOnTheThreadCount) {
  // B = 200: above the parallel thresholds of the miners (32) and of the anchors' sweep (128); below that of the dense
  // backward (256, see expect_same_bits_on_1_and_2_threads).
  const Tensor labels = labels_of(trident::testing::random_labels(200, 20, 51));
  const Tensor x = random_tensor({200, 16}, 52);
  for (TripletMining mining : kMinings) {
    SCOPED_TRACE(static_cast<int>(mining));
    TripletMarginLoss loss({.mining = mining});
    trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& e) { return loss(e, labels); }, x);
  }
}
