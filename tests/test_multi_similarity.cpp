// losses/multi_similarity: the fused MultiSimilarityLoss against hand-computed values and against the same loss
// composed from primitive differentiable ops (the oracle below), plus gradchecks of the fused node and input errors.
#include <algorithm>
#include <limits>
#include <random>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/core/threads.h"
#include "trident/losses/multi_similarity.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::labels_of;
using trident::testing::random_labels;
using trident::testing::random_tensor;
using trident::testing::sorted_distances;

namespace {

const Distance kDistances[] = {Distance::Cosine, Distance::Dot, Distance::Euclidean, Distance::SquaredEuclidean};

// Which pairs of anchor a the miner keeps, by plain loops over the matrix values (multi_similarity.h).
struct Mined {
  std::vector<std::int64_t> pos, neg;  // columns
};
Mined mine_row(const std::vector<double>& dv, const std::vector<std::int64_t>& y, std::int64_t a,
               const MultiSimilarityOptions& o) {
  const auto b = static_cast<std::int64_t>(y.size());
  const bool sim = is_similarity(o.distance.distance);
  const double inf = std::numeric_limits<double>::infinity();
  double min_pos = inf, max_pos = -inf, min_neg = inf, max_neg = -inf;
  auto at = [&](std::int64_t j) { return dv[static_cast<std::size_t>(a * b + j)]; };
  for (std::int64_t j = 0; j < b; ++j) {
    if (j == a) continue;
    if (y[j] == y[a]) {
      min_pos = std::min(min_pos, at(j));
      max_pos = std::max(max_pos, at(j));
    } else {
      min_neg = std::min(min_neg, at(j));
      max_neg = std::max(max_neg, at(j));
    }
  }
  Mined m;
  for (std::int64_t j = 0; j < b; ++j) {
    if (j == a) continue;
    const double v = at(j), eps = o.epsilon;
    if (y[j] == y[a]) {
      if (!o.mine || (sim ? v - eps < max_neg : v + eps > min_neg)) m.pos.push_back(j);
    } else {
      if (!o.mine || (sim ? v + eps > min_pos : v - eps < max_pos)) m.neg.push_back(j);
    }
  }
  return m;
}

// The oracle: the loss composed from differentiable primitives (l2_normalize, pairwise_distance, index_select, mul,
// cat, logsumexp), the mined columns chosen by plain loops. Autograd through it gives the reference gradient.
Tensor oracle(const Tensor& x, const std::vector<std::int64_t>& y, const MultiSimilarityOptions& o) {
  const Distance dist = o.distance.distance;
  const bool sim = is_similarity(dist);
  const Tensor e = o.distance.normalize && dist != Distance::Cosine ? l2_normalize(x, 1) : x;
  const Tensor d = pairwise_distance(e, Tensor(), dist);  // cosine: pairwise_distance normalises itself
  const std::int64_t b = x.size(0);
  const Tensor flat = d.reshape({b * b});
  const std::vector<double> dv = d.detach().to_vector<double>();
  Tensor total = sum(flat) * 0.0;
  // 1/scale log(1 + sum e^{scale * sign * (v - base)}) over the columns, the 1 as an explicit 0 exponent.
  auto term = [&](std::int64_t a, const std::vector<std::int64_t>& cols, double scale, double sign) {
    std::vector<std::int64_t> idx;
    for (auto j : cols) idx.push_back(a * b + j);
    const Tensor v = index_select(flat, 0, tensor(idx, {static_cast<std::int64_t>(idx.size())}));
    const Tensor xs = (v - o.base) * (scale * sign);
    return logsumexp(cat({xs, zeros({1}, {.dtype = kFloat64})}), {0}) / scale;
  };
  for (std::int64_t a = 0; a < b; ++a) {
    const Mined m = mine_row(dv, y, a, o);
    if (!m.pos.empty()) total = total + term(a, m.pos, o.alpha, sim ? -1.0 : 1.0);
    if (!m.neg.empty()) total = total + term(a, m.neg, o.beta, sim ? 1.0 : -1.0);
  }
  return total / static_cast<double>(b);
}

// lambda at the median of the batch's distances (so the exponents have both signs) and epsilon a tenth of their
// spread (so the miner keeps some pairs and drops others), whatever the distance's scale.
MultiSimilarityOptions scaled_to_batch(MultiSimilarityOptions o, const Tensor& x) {
  const auto v = sorted_distances(x, o.distance);
  o.base = v[v.size() / 2];
  o.epsilon = 0.1 * (v.back() - v.front());
  return o;
}

std::string describe(const MultiSimilarityOptions& o) {
  return fmt::format("{}, mine={}, alpha={}, beta={}, base={}, epsilon={}", to_string(o.distance), o.mine, o.alpha,
                     o.beta, o.base, o.epsilon);
}

void expect_matches_oracle(const Tensor& x0, const std::vector<std::int64_t>& y, const MultiSimilarityOptions& o) {
  Tensor x = x0.detach().clone().set_requires_grad();
  MultiSimilarityLoss loss(o);
  Tensor mine = loss(x, labels_of(y));
  mine.backward();
  Tensor xr = x0.detach().clone().set_requires_grad();
  Tensor ref = oracle(xr, y, o);
  ref.backward();
  EXPECT_TRUE(all_close(mine, ref, 1e-15, 1e-9)) << describe(o);
  EXPECT_TRUE(all_close(x.grad(), xr.grad(), 1e-15, 1e-9)) << describe(o);
  for (double v : x.grad().to_vector<double>()) ASSERT_TRUE(std::isfinite(v)) << describe(o);
}

void sweep(const Tensor& x, const std::vector<std::int64_t>& y) {
  for (Distance dist : kDistances)
    for (bool normalize : {true, false})
      for (bool mine : {true, false})
        for (auto [alpha, beta] : {std::pair{2.0, 50.0}, std::pair{1.0, 3.0}}) {
          MultiSimilarityOptions o{
              .alpha = alpha, .beta = beta, .mine = mine, .distance = {.distance = dist, .normalize = normalize}};
          expect_matches_oracle(x, y, scaled_to_batch(o, x));
        }
}

// Unit vectors at 0 and 60 degrees (class 0), 90 and 180 degrees (class 1).
const std::vector<std::int64_t> kLabels{0, 0, 1, 1};
Tensor four_points() {
  const double h = std::sqrt(3.0) / 2;
  return tensor({1.0, 0.0, 0.5, h, 0.0, 1.0, -1.0, 0.0}, {4, 2});
}

}  // namespace

TEST(MultiSimilarityLoss, HandComputedWithTheMiner) {
  // s01 = 0.5, s02 = 0, s03 = -1, s12 = h, s13 = -0.5, s23 = 0 (h = sqrt(3)/2); epsilon 0.1.
  // Anchor 0: min pos 0.5, max neg 0: positive kept iff 0.5 - 0.1 < 0 (no); negatives iff s + 0.1 > 0.5 (no): L_0 = 0.
  // Anchor 1: max neg h: positive 0 kept (0.4 < h); negatives: 2 (h + 0.1 > 0.5), not 3 (-0.4).
  // Anchor 2: positive 3 kept (-0.1 < h); negatives 0 (0.1 > 0) and 1 (h + 0.1 > 0).
  // Anchor 3: max neg -0.5: positive 2 not kept (-0.1 < -0.5 fails); min pos 0: negatives -0.9, -0.4 not > 0: L_3 = 0.
  const double h = std::sqrt(3.0) / 2;
  const double l1 = 0.5 * std::log(1 + std::exp(-2 * (0.5 - 0.5))) + 0.02 * std::log(1 + std::exp(50 * (h - 0.5)));
  const double l2 = 0.5 * std::log(1 + std::exp(-2 * (0.0 - 0.5))) +
                    0.02 * std::log(1 + std::exp(50 * (0.0 - 0.5)) + std::exp(50 * (h - 0.5)));
  MultiSimilarityLoss loss;
  Tensor x = four_points().set_requires_grad();
  Tensor l = loss(x, labels_of(kLabels));
  EXPECT_NEAR(l.item<double>(), (l1 + l2) / 4, 1e-14);
  const LossStats s = loss.stats();
  EXPECT_EQ(s.tuples, 5);
  EXPECT_EQ(s.active, 5);
  EXPECT_NEAR(s.mean_positive, 0.25, 1e-15);
  EXPECT_NEAR(s.mean_negative, (h - 1.5) / 4, 1e-15);
  l.backward();
  for (double v : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));

  // Without the miner every pair counts: anchor 0 has positive 1 and negatives 2, 3.
  MultiSimilarityLoss all({.mine = false});
  const double l0 = 0.5 * std::log(1 + std::exp(-2 * (0.5 - 0.5))) +
                    0.02 * std::log(1 + std::exp(50 * (0.0 - 0.5)) + std::exp(50 * (-1.0 - 0.5)));
  const double l1a = 0.5 * std::log(1 + std::exp(-2 * (0.5 - 0.5))) +
                     0.02 * std::log(1 + std::exp(50 * (h - 0.5)) + std::exp(50 * (-0.5 - 0.5)));
  const double l3 = 0.5 * std::log(1 + std::exp(-2 * (0.0 - 0.5))) +
                    0.02 * std::log(1 + std::exp(50 * (-1.0 - 0.5)) + std::exp(50 * (-0.5 - 0.5)));
  const double l2a = 0.5 * std::log(1 + std::exp(-2 * (0.0 - 0.5))) +
                     0.02 * std::log(1 + std::exp(50 * (0.0 - 0.5)) + std::exp(50 * (h - 0.5)));
  EXPECT_NEAR(all(four_points(), labels_of(kLabels)).item<double>(), (l0 + l1a + l2a + l3) / 4, 1e-14);
  EXPECT_EQ(all.stats().tuples, 12);
}

TEST(MultiSimilarityLoss, LargeExponentsDoNotOverflow) {
  // Dot products of size ~100 with beta = 50: e^{5000} overflows, the max-subtracted log-sum-exp does not.
  Tensor x = (random_tensor({6, 4}, 1) * 10.0).set_requires_grad();
  MultiSimilarityLoss loss({.mine = false, .distance = {.distance = Distance::Dot, .normalize = false}});
  Tensor l = loss(x, labels_of({0, 0, 1, 1, 2, 2}));
  EXPECT_TRUE(std::isfinite(l.item<double>()));
  EXPECT_GT(l.item<double>(), 100.0);
  l.backward();
  for (double v : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
  expect_matches_oracle(x.detach(), {0, 0, 1, 1, 2, 2},
                        {.mine = false, .distance = {.distance = Distance::Dot, .normalize = false}});
}

TEST(MultiSimilarityLoss, MatchesComposedOracleOnRandomBatches) {
  sweep(random_tensor({12, 5}, 2), random_labels(12, 4, 3));
  sweep(random_tensor({9, 3}, 4), random_labels(9, 2, 5));
}

TEST(MultiSimilarityLoss, MatchesOracleWithDefaultOptions) {
  for (std::uint32_t seed = 0; seed < 4; ++seed)
    expect_matches_oracle(random_tensor({16, 6}, 10 + seed), random_labels(16, 4, 20 + seed), {});
}

TEST(MultiSimilarityLoss, BatchOfTwo) {
  sweep(random_tensor({2, 3}, 6), {4, 4});
  sweep(random_tensor({2, 3}, 7), {4, 9});
}

TEST(MultiSimilarityLoss, DuplicatedEmbeddingsGiveFiniteGradients) {
  // Integer coordinates: duplicates are at euclidean distance exactly 0 (Note [Zero distance]).
  Tensor x =
      tensor({1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 0.0, 1.0, 1.0}, {6, 3});
  for (const auto& y : {std::vector<std::int64_t>{0, 0, 1, 1, 1, 2}, std::vector<std::int64_t>{0, 1, 0, 1, 0, 1}})
    for (Distance dist : kDistances)
      for (bool normalize : {false, true})
        for (bool mine : {true, false})
          expect_matches_oracle(x, y, {.mine = mine, .distance = {.distance = dist, .normalize = normalize}});
}

TEST(MultiSimilarityLoss, OneClassAndAllDistinct) {
  // With the miner, an anchor needs both a positive and a negative: loss 0 and gradient exactly 0.
  for (const auto& y : {std::vector<std::int64_t>{3, 3, 3, 3, 3}, std::vector<std::int64_t>{0, 1, 2, 3, 4}}) {
    for (Distance dist : kDistances) {
      Tensor x = random_tensor({5, 4}, 8).set_requires_grad();
      MultiSimilarityLoss loss({.distance = {.distance = dist}});
      Tensor l = loss(x, labels_of(y));
      EXPECT_EQ(l.item<double>(), 0.0);
      l.backward();
      for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
      EXPECT_EQ(loss.stats().tuples, 0);
      EXPECT_TRUE(std::isnan(loss.stats().active_fraction));
    }
    // Without it, the pairs of the one kind present still count.
    sweep(random_tensor({5, 4}, 9), y);
  }
}

// Central differences measure the gradient only where the loss is smooth. The log-sum-exps are smooth; the miner's
// choice is a step function of the similarities (a pair entering or leaving the mined set changes the loss by a
// finite amount), and euclidean distances have a kink at 0. The data are random (distinct points) and the test asserts
// that every miner comparison is farther than 1e-4 from its threshold, so eps = 1e-6 changes no mined set.
TEST(MultiSimilarityLoss, GradcheckOfTheFusedNode) {
  const Tensor x = random_tensor({8, 3}, 30);
  const std::vector<std::int64_t> y{0, 0, 1, 1, 2, 2, 0, 1};
  for (Distance dist : kDistances)
    for (bool normalize : {false, true})
      for (bool mine : {true, false}) {
        MultiSimilarityOptions o = scaled_to_batch(
            {.alpha = 2.0, .beta = 5.0, .mine = mine, .distance = {.distance = dist, .normalize = normalize}}, x);
        if (mine) {
          // Distance of each comparison to its threshold, with the same per-anchor extremes as the miner.
          const Tensor d = distance_matrix(prepare_embeddings(x, o.distance), dist);
          const auto dv = d.to_vector<double>();
          const std::int64_t b = 8;
          double gap = 1e300;
          for (std::int64_t a = 0; a < b; ++a) {
            double min_pos = 1e300, max_pos = -1e300, min_neg = 1e300, max_neg = -1e300;
            for (std::int64_t j = 0; j < b; ++j) {
              if (j == a) continue;
              const double v = dv[static_cast<std::size_t>(a * b + j)];
              if (y[j] == y[a]) {
                min_pos = std::min(min_pos, v);
                max_pos = std::max(max_pos, v);
              } else {
                min_neg = std::min(min_neg, v);
                max_neg = std::max(max_neg, v);
              }
            }
            for (std::int64_t j = 0; j < b; ++j) {
              if (j == a) continue;
              const double v = dv[static_cast<std::size_t>(a * b + j)];
              const bool sim = is_similarity(dist);
              const double threshold = y[j] == y[a] ? (sim ? max_neg + o.epsilon : min_neg - o.epsilon)
                                                    : (sim ? min_pos - o.epsilon : max_pos + o.epsilon);
              gap = std::min(gap, std::abs(v - threshold));
            }
          }
          ASSERT_GT(gap, 1e-4) << describe(o);
        }
        MultiSimilarityLoss loss(o);
        EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], labels_of(y)); }, {x}))
            << describe(o);
      }
}

TEST(MultiSimilarityLoss, Float32AgreesWithFloat64) {
  const Tensor x = random_tensor({16, 8}, 31);
  const Tensor labels = labels_of(random_labels(16, 4, 32));
  for (Distance dist : kDistances) {
    MultiSimilarityLoss loss(scaled_to_batch({.distance = {.distance = dist}}, x));
    Tensor x64 = x.clone().set_requires_grad(), x32 = x.to(kFloat32).set_requires_grad();
    Tensor l64 = loss(x64, labels);
    const std::int64_t mined64 = loss.stats().tuples;
    Tensor l32 = loss(x32, labels);
    EXPECT_EQ(l32.dtype(), kFloat32);
    EXPECT_EQ(loss.stats().tuples, mined64);  // the same pairs mined in both precisions, or the values differ
    l64.backward();
    l32.backward();
    EXPECT_EQ(x32.grad().dtype(), kFloat32);
    EXPECT_TRUE(all_close(l32, l64, 1e-5, 1e-4)) << distance_name(dist);
    EXPECT_TRUE(all_close(x32.grad(), x64.grad(), 1e-5, 1e-3)) << distance_name(dist);
  }
}

TEST(MultiSimilarityLoss, ResultDoesNotDependOnTheThreadCount) {
  // 200 x 200 pairs: above the parallel threshold.
  const Tensor labels = labels_of(random_labels(200, 20, 34));
  MultiSimilarityLoss loss;
  trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& x) { return loss(x, labels); },
                                                        random_tensor({200, 16}, 33));
}

TEST(MultiSimilarityLoss, BadInputsAreClearErrors) {
  const Tensor x = random_tensor({4, 3}, 35);
  const Tensor y = labels_of({0, 0, 1, 1});
  MultiSimilarityLoss loss;
  EXPECT_THROW_MSG(loss(x.view({12}), y), "MultiSimilarityLoss: embeddings must be 2-d [B, D], got shape [12]");
  EXPECT_THROW_MSG(loss(x, y.to(kFloat32)), "MultiSimilarityLoss: labels must be int64, got float32");
  EXPECT_THROW_MSG(loss(x, labels_of({0, 1})), "MultiSimilarityLoss: expected labels of shape [4]");
  EXPECT_THROW_MSG(loss(x.slice(0, 0, 1), y.slice(0, 0, 1)), "MultiSimilarityLoss: need a batch of at least 2");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[0] = INFINITY;
  EXPECT_THROW_MSG(loss(bad, y), "MultiSimilarityLoss: embeddings contain NaN or infinity");
  EXPECT_THROW_MSG(MultiSimilarityLoss({.alpha = 0.0}),
                   "MultiSimilarityLoss: alpha must be positive and finite, got 0");
  EXPECT_THROW_MSG(MultiSimilarityLoss({.beta = -1.0}),
                   "MultiSimilarityLoss: beta must be positive and finite, got -1");
  EXPECT_THROW_MSG(MultiSimilarityLoss({.base = std::nan("")}), "MultiSimilarityLoss: base (lambda) must be finite");
  EXPECT_THROW_MSG(MultiSimilarityLoss({.epsilon = INFINITY}), "MultiSimilarityLoss: epsilon must be finite, got inf");
}
