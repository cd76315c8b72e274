// losses/contrastive: the fused ContrastiveLoss against hand-computed values and against the same loss composed from
// primitive differentiable ops (the oracle below), plus gradchecks of the fused node and input errors.
#include <algorithm>
#include <random>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/core/threads.h"
#include "trident/losses/contrastive.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::labels_of;
using trident::testing::random_labels;
using trident::testing::random_tensor;
using trident::testing::sorted_distances;

namespace {

const Distance kDistances[] = {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot};
const MetricReduction kReductions[] = {MetricReduction::AvgNonZero, MetricReduction::Mean, MetricReduction::Sum};

// The oracle: the loss of contrastive.h composed from differentiable primitives (l2_normalize, pairwise_distance,
// index_select, relu, mul, sum), with the pair lists, the mining and the reduction counts built by plain loops.
// Autograd through it gives the reference gradient.
Tensor oracle(const Tensor& x, const std::vector<std::int64_t>& y, const ContrastiveOptions& o,
              const PairIndices* pairs = nullptr) {
  const Distance dist = o.distance.distance;
  const bool sim = is_similarity(dist);
  const Tensor e = o.distance.normalize && dist != Distance::Cosine ? l2_normalize(x, 1) : x;
  const Tensor d = pairwise_distance(e, Tensor(), dist);  // cosine: pairwise_distance normalises itself
  const std::int64_t b = x.size(0);
  const Tensor flat = d.reshape({b * b});
  const std::vector<double> dv = d.detach().to_vector<double>();

  std::vector<std::int64_t> pos, neg;  // flat indices i * b + j
  if (pairs == nullptr) {
    for (std::int64_t i = 0; i < b; ++i)
      for (std::int64_t j = 0; j < b; ++j)
        if (i != j) (y[i] == y[j] ? pos : neg).push_back(i * b + j);
  } else {
    auto add = [&](const Tensor& first, const Tensor& second, std::vector<std::int64_t>& out) {
      if (!first.defined()) return;
      const auto f = first.to_vector<std::int64_t>(), s = second.to_vector<std::int64_t>();
      for (std::size_t k = 0; k < f.size(); ++k) out.push_back(f[k] * b + s[k]);
    };
    add(pairs->a1, pairs->p, pos);
    add(pairs->a2, pairs->n, neg);
  }
  auto part = [&](std::vector<std::int64_t> idx, bool positive) -> Tensor {
    const double m = positive ? o.pos_margin : o.neg_margin;
    // h = +-(d - m): + for positive distances and negative similarities.
    const double sign = positive != sim ? 1.0 : -1.0;
    if (o.mining == PairMining::Hard) {
      std::vector<std::int64_t> kept;
      for (auto k : idx)
        if (sign * (dv[static_cast<std::size_t>(k)] - m) > 0.0) kept.push_back(k);
      idx = kept;
    }
    if (idx.empty()) return sum(flat) * 0.0;  // 0, still connected to the graph
    const Tensor dk = index_select(flat, 0, tensor(idx, {static_cast<std::int64_t>(idx.size())}));
    Tensor l = relu(positive != sim ? dk - m : m - dk);
    if (o.squared) l = l * l * 0.5;
    std::int64_t count = static_cast<std::int64_t>(idx.size());
    if (o.reduction == MetricReduction::AvgNonZero) {
      count = 0;
      for (double v : l.detach().to_vector<double>()) count += v > 0.0;
    }
    if (o.reduction == MetricReduction::Sum) return sum(l);
    if (count == 0) return sum(l) * 0.0;
    return sum(l) / static_cast<double>(count);
  };
  return part(pos, true) + part(neg, false);
}

// Off-diagonal values of the distance matrix the loss sees, sorted.
// Margins at the given quantiles of the batch's distances, so that some hinges are active and some are not.
ContrastiveOptions with_quantile_margins(ContrastiveOptions o, const Tensor& x) {
  const auto v = sorted_distances(x, o.distance);
  const bool sim = is_similarity(o.distance.distance);
  // Halfway between two neighbours, so that no pair sits exactly on a kink.
  auto mid = [&](double f) {
    const auto k = static_cast<std::size_t>(f * static_cast<double>(v.size() - 1));
    return 0.5 * (v[k] + v[k + 1]);
  };
  o.pos_margin = sim ? mid(0.6) : mid(0.35);
  o.neg_margin = sim ? mid(0.35) : mid(0.6);
  return o;
}

std::string describe(const ContrastiveOptions& o) {
  return fmt::format("{}, squared={}, mining={}, reduction={}, margins=({}, {})", to_string(o.distance), o.squared,
                     mining_name(o.mining), reduction_name(o.reduction), o.pos_margin, o.neg_margin);
}

// Loss value and gradient of the fused loss and of the oracle agree to 1e-9 relative.
void expect_matches_oracle(const Tensor& x0, const std::vector<std::int64_t>& y, const ContrastiveOptions& o,
                           const PairIndices* pairs = nullptr) {
  const Tensor labels = labels_of(y);
  Tensor x = x0.detach().clone().set_requires_grad();
  ContrastiveLoss loss(o);
  Tensor mine = pairs ? loss(x, labels, *pairs) : loss(x, labels);
  mine.backward();
  const Tensor gm = x.grad();
  Tensor xr = x0.detach().clone().set_requires_grad();
  Tensor ref = oracle(xr, y, o, pairs);
  ref.backward();
  ASSERT_TRUE(xr.grad().defined());
  EXPECT_TRUE(all_close(mine, ref, 1e-15, 1e-9)) << describe(o);
  EXPECT_TRUE(all_close(gm, xr.grad(), 1e-15, 1e-9)) << describe(o);
  for (double v : gm.to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << describe(o);
}

// Every combination of distance, normalisation, squared, mining and reduction.
void sweep(const Tensor& x, const std::vector<std::int64_t>& y, bool quantile_margins = true) {
  for (Distance dist : kDistances)
    for (bool normalize : {true, false})
      for (bool squared : {false, true})
        for (PairMining mining : {PairMining::All, PairMining::Hard})
          for (MetricReduction red : kReductions) {
            ContrastiveOptions o{.distance = {.distance = dist, .normalize = normalize},
                                 .squared = squared,
                                 .mining = mining,
                                 .reduction = red};
            if (quantile_margins) o = with_quantile_margins(o, x);
            expect_matches_oracle(x, y, o);
          }
}

// Four points on a line (normalize off, euclidean, margins 0 and 1):
// x = 0, 0.3 (class 0), 0.9, 1.4 (class 1). Positive distances 0.3, 0.5; negative 0.9, 1.4, 0.6, 1.1.
const std::vector<std::int64_t> kLineLabels{0, 0, 1, 1};
Tensor line_points() { return tensor({0.0, 0.3, 0.9, 1.4}, {4, 1}); }

}  // namespace

TEST(ContrastiveLoss, HandComputedValuesGradientAndStats) {
  // Each unordered pair counts twice (ordered pairs). Positive losses 0.3, 0.3, 0.5, 0.5; negative losses
  // [1 - d]_+ = 0.1, 0.1 (d = 0.9), 0.4, 0.4 (d = 0.6), and 0 for d = 1.4 and 1.1.
  Tensor x = line_points().set_requires_grad();
  ContrastiveLoss loss({.distance = {.normalize = false}});
  Tensor l = loss(x, labels_of(kLineLabels));
  EXPECT_NEAR(l.item<double>(), 1.6 / 4 + 1.0 / 4, 1e-15);  // avg_nonzero: 4 non-zero of each kind
  l.backward();
  // dL/dx = (1/4) sum over active pairs of dl/dx: x0: -2 (pos) + 2 (neg with x2) -> 0; x1: +2 + 2 -> 1;
  // x2: -2 (pos) - 2 - 2 (neg) -> -1.5; x3: +2 -> 0.5.
  EXPECT_TRUE(all_close(x.grad(), tensor({0.0, 1.0, -1.5, 0.5}, {4, 1}), 1e-15, 0.0));
  const LossStats s = loss.stats();
  EXPECT_EQ(s.tuples, 12);
  EXPECT_EQ(s.active, 8);
  EXPECT_NEAR(s.active_fraction, 8.0 / 12.0, 1e-15);
  EXPECT_NEAR(s.mean_positive, 0.4, 1e-15);
  EXPECT_NEAR(s.mean_negative, 1.0, 1e-15);

  ContrastiveLoss mean_loss({.distance = {.normalize = false}, .reduction = MetricReduction::Mean});
  EXPECT_NEAR(mean_loss(line_points(), labels_of(kLineLabels)).item<double>(), 1.6 / 4 + 1.0 / 8, 1e-15);
  ContrastiveLoss sum_loss({.distance = {.normalize = false}, .reduction = MetricReduction::Sum});
  EXPECT_NEAR(sum_loss(line_points(), labels_of(kLineLabels)).item<double>(), 1.6 + 1.0, 1e-15);
  // Hard mining keeps the 8 active pairs, so Mean divides the negatives by 4.
  ContrastiveLoss hard(
      {.distance = {.normalize = false}, .mining = PairMining::Hard, .reduction = MetricReduction::Mean});
  EXPECT_NEAR(hard(line_points(), labels_of(kLineLabels)).item<double>(), 1.6 / 4 + 1.0 / 4, 1e-15);
  EXPECT_EQ(hard.stats().tuples, 8);
  EXPECT_EQ(hard.stats().active, 8);
  // Hadsell et al.: 1/2 d^2 for positives, 1/2 [1 - d]_+^2 for negatives.
  ContrastiveLoss hadsell({.distance = {.normalize = false}, .squared = true});
  EXPECT_NEAR(hadsell(line_points(), labels_of(kLineLabels)).item<double>(),
              0.5 * (2 * 0.09 + 2 * 0.25) / 4 + 0.5 * (2 * 0.01 + 2 * 0.16) / 4, 1e-15);
}

TEST(ContrastiveLoss, CosineFlipsTheComparisons) {
  // Unit vectors at angles 0, 60 (class 0) and 90, 180 degrees (class 1): s = cos of the angle between them.
  // pos_margin 1, neg_margin 0: positives [1 - s]_+, negatives [s - 0]_+.
  const double h = std::sqrt(3.0) / 2;
  Tensor x = tensor({1.0, 0.0, 0.5, h, 0.0, 1.0, -1.0, 0.0}, {4, 2});
  ContrastiveLoss loss({.pos_margin = 1.0, .neg_margin = 0.0, .distance = {.distance = Distance::Cosine}});
  // Positives: s(0,1) = 0.5 -> 0.5 (twice); s(2,3) = 0 -> 1 (twice): avg_nonzero 0.75.
  // Negatives: s(0,2) = 0, s(0,3) = -1, s(1,2) = h -> h (twice), s(1,3) = -0.5: one non-zero pair kind: h.
  EXPECT_NEAR(loss(x, labels_of(kLineLabels)).item<double>(), 0.75 + h, 1e-15);
  EXPECT_NEAR(loss.stats().mean_positive, 0.25, 1e-15);
}

TEST(ContrastiveLoss, MatchesComposedOracleOnRandomBatches) {
  sweep(random_tensor({12, 5}, 1), random_labels(12, 4, 2));
  sweep(random_tensor({9, 3}, 3), random_labels(9, 2, 4));
}

TEST(ContrastiveLoss, MatchesOracleWithDefaultMargins) {
  for (Distance dist : kDistances)
    for (MetricReduction red : kReductions)
      expect_matches_oracle(random_tensor({10, 4}, 5), random_labels(10, 3, 6),
                            {.distance = {.distance = dist}, .reduction = red});
}

TEST(ContrastiveLoss, BatchOfTwo) {
  sweep(random_tensor({2, 3}, 7), {4, 4});
  sweep(random_tensor({2, 3}, 8), {4, 9});
}

TEST(ContrastiveLoss, DuplicatedEmbeddingsGiveFiniteGradients) {
  // Integer coordinates: |x_i|^2 + |x_j|^2 - 2 x_i.x_j is exact, so duplicates are at distance exactly 0 (the
  // subgradient 0 of Note [Zero distance]).
  Tensor x =
      tensor({1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 0.0, 1.0, 1.0}, {6, 3});
  for (const auto& y : {std::vector<std::int64_t>{0, 0, 1, 1, 1, 2}, std::vector<std::int64_t>{0, 1, 0, 1, 0, 1}})
    for (Distance dist : kDistances)
      for (bool squared : {false, true})
        for (MetricReduction red : kReductions) {
          expect_matches_oracle(
              x, y, {.distance = {.distance = dist, .normalize = false}, .squared = squared, .reduction = red});
          // Normalised duplicates may sit at a rounding-sized distance instead of 0: still finite.
          expect_matches_oracle(x, y, {.distance = {.distance = dist}, .squared = squared, .reduction = red});
        }
}

TEST(ContrastiveLoss, OneClassAndAllDistinct) {
  sweep(random_tensor({6, 4}, 9), {3, 3, 3, 3, 3, 3});
  sweep(random_tensor({6, 4}, 10), {0, 1, 2, 3, 4, 5});
  // No pair has a non-zero loss: the loss is 0 and the gradient exactly 0.
  for (const auto& y : {std::vector<std::int64_t>{3, 3, 3, 3, 3, 3}, std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}}) {
    for (MetricReduction red : kReductions) {
      Tensor x = random_tensor({6, 4}, 11).set_requires_grad();
      // Normalised: d <= 2, so pos_margin 2.5 silences positives and neg_margin 0 negatives.
      ContrastiveLoss loss({.pos_margin = 2.5, .neg_margin = 0.0, .reduction = red});
      Tensor l = loss(x, labels_of(y));
      EXPECT_EQ(l.item<double>(), 0.0);
      l.backward();
      for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
      EXPECT_EQ(loss.stats().active, 0);
    }
  }
  ContrastiveLoss loss;
  loss(random_tensor({3, 2}, 12), labels_of({1, 1, 1}));
  EXPECT_TRUE(std::isnan(loss.stats().mean_negative));
  EXPECT_FALSE(std::isnan(loss.stats().mean_positive));
}

TEST(ContrastiveLoss, GivenPairsMatchOracle) {
  const Tensor x = random_tensor({8, 4}, 13);
  const std::vector<std::int64_t> y{0, 0, 1, 1, 2, 2, 0, 1};
  // A subset of the pairs, with a repeated pair and both orders of another.
  PairIndices pairs{labels_of({0, 0, 1, 2, 2, 6}), labels_of({1, 1, 6, 3, 7, 0}), labels_of({0, 2, 5, 5, 7}),
                    labels_of({2, 0, 1, 0, 4})};
  for (Distance dist : kDistances)
    for (bool squared : {false, true})
      for (PairMining mining : {PairMining::All, PairMining::Hard})
        for (MetricReduction red : kReductions) {
          ContrastiveOptions o{.distance = {.distance = dist}, .squared = squared, .mining = mining, .reduction = red};
          expect_matches_oracle(x, y, with_quantile_margins(o, x), &pairs);
        }
  // No pairs at all: loss 0, gradient exactly 0.
  Tensor xg = x.clone().set_requires_grad();
  ContrastiveLoss loss;
  Tensor l = loss(xg, labels_of(y), PairIndices{});
  EXPECT_EQ(l.item<double>(), 0.0);
  l.backward();
  for (double v : xg.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(loss.stats().tuples, 0);
  EXPECT_TRUE(std::isnan(loss.stats().active_fraction));
}

// Central differences measure the gradient only where the loss is smooth: a hinge at its kink (h = 0), a pair
// whose membership in the non-zero count changes, or a zero euclidean distance would make them average two slopes.
// The margins sit halfway between two neighbouring distances of the batch (with_quantile_margins) and the points
// are distinct, so every h stays farther than half a distance spacing (asserted > 1e-4) from 0, and eps = 1e-6
// moves no pair across a kink.
TEST(ContrastiveLoss, GradcheckOfTheFusedNode) {
  const Tensor x = random_tensor({8, 3}, 14);
  const Tensor labels = labels_of({0, 0, 1, 1, 2, 2, 0, 1});
  for (Distance dist : kDistances)
    for (bool normalize : {false, true})
      for (bool squared : {false, true})
        for (MetricReduction red : kReductions) {
          ContrastiveOptions o{
              .distance = {.distance = dist, .normalize = normalize}, .squared = squared, .reduction = red};
          o = with_quantile_margins(o, x);
          const auto v = sorted_distances(x, o.distance);
          double gap = 1e300;
          for (double d : v) gap = std::min({gap, std::abs(d - o.pos_margin), std::abs(d - o.neg_margin)});
          ASSERT_GT(gap, 1e-4) << describe(o);
          ContrastiveLoss loss(o);
          EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], labels); }, {x}))
              << describe(o);
        }
}

TEST(ContrastiveLoss, Float32AgreesWithFloat64) {
  const Tensor x = random_tensor({16, 8}, 15);
  const Tensor labels = labels_of(random_labels(16, 4, 16));
  for (Distance dist : kDistances) {
    const ContrastiveOptions o = with_quantile_margins({.distance = {.distance = dist}}, x);
    ContrastiveLoss loss(o);
    Tensor x64 = x.clone().set_requires_grad(), x32 = x.to(kFloat32).set_requires_grad();
    Tensor l64 = loss(x64, labels), l32 = loss(x32, labels);
    EXPECT_EQ(l32.dtype(), kFloat32);
    l64.backward();
    l32.backward();
    EXPECT_EQ(x32.grad().dtype(), kFloat32);
    EXPECT_TRUE(all_close(l32, l64, 1e-5, 1e-5)) << distance_name(dist);
    EXPECT_TRUE(all_close(x32.grad(), x64.grad(), 1e-5, 1e-4)) << distance_name(dist);
  }
}

TEST(ContrastiveLoss, ResultDoesNotDependOnTheThreadCount) {
  // 200 x 200 pairs: above the parallel threshold.
  const Tensor labels = labels_of(random_labels(200, 20, 18));
  ContrastiveLoss loss;
  trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& x) { return loss(x, labels); },
                                                        random_tensor({200, 16}, 17));
}

TEST(ContrastiveLoss, BadInputsAreClearErrors) {
  const Tensor x = random_tensor({4, 3}, 19);
  const Tensor y = labels_of({0, 0, 1, 1});
  ContrastiveLoss loss;
  EXPECT_THROW_MSG(loss(x.view({12}), y), "ContrastiveLoss: embeddings must be 2-d [B, D], got shape [12]");
  EXPECT_THROW_MSG(loss(x, y.to(kFloat64)), "ContrastiveLoss: labels must be int64, got float64");
  EXPECT_THROW_MSG(loss(x, labels_of({0, 1, 1})), "ContrastiveLoss: expected labels of shape [4]");
  EXPECT_THROW_MSG(loss(x.slice(0, 0, 1), y.slice(0, 0, 1)), "ContrastiveLoss: need a batch of at least 2");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[2] = std::nan("");
  EXPECT_THROW_MSG(loss(bad, y), "ContrastiveLoss: embeddings contain NaN or infinity");
  EXPECT_THROW_MSG(ContrastiveLoss({.neg_margin = std::nan("")}),
                   "ContrastiveLoss: neg_margin must be finite, got nan");
  EXPECT_THROW_MSG(ContrastiveLoss({.pos_margin = INFINITY}), "ContrastiveLoss: pos_margin must be finite, got inf");

  EXPECT_THROW_MSG(loss(x, y, PairIndices{labels_of({0}), labels_of({1, 0}), Tensor(), Tensor()}),
                   "ContrastiveLoss: pairs.a1 and pairs.p must have the same length, got 1 and 2");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{Tensor(), Tensor(), labels_of({0}), Tensor()}),
                   "ContrastiveLoss: pairs.a2 and pairs.n must have the same length, got 1 and 0");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{labels_of({0}), labels_of({4}), Tensor(), Tensor()}),
                   "ContrastiveLoss: pairs.p[0] = 4 is out of range [0, 4)");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{labels_of({-1}), labels_of({0}), Tensor(), Tensor()}),
                   "ContrastiveLoss: pairs.a1[0] = -1 is out of range [0, 4)");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{tensor({0.0}), labels_of({1}), Tensor(), Tensor()}),
                   "ContrastiveLoss: pairs.a1 must be int64, got float64");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{labels_of({0, 1}).view({1, 2}), labels_of({1}), Tensor(), Tensor()}),
                   "ContrastiveLoss: pairs.a1 must be 1-d [T], got shape [1, 2]");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{labels_of({0, 1}), labels_of({1, 2}), Tensor(), Tensor()}),
                   "ContrastiveLoss: positive pair 1 (1, 2) has different labels 0 and 1");
  EXPECT_THROW_MSG(loss(x, y, PairIndices{Tensor(), Tensor(), labels_of({3}), labels_of({2})}),
                   "ContrastiveLoss: negative pair 0 (3, 2) has the same label 1");
}
