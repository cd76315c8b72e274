// losses/quadruplet: the fused QuadrupletLoss against the same loss composed from primitive differentiable ops
// (pairwise_distance, index_select, relu, sum) on the mined indices, in float64; gradcheck of the fused node;
// no-tuple batches; statistics; errors.
#include <vector>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/losses/miners.h"
#include "trident/losses/quadruplet.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

// The oracle: the loss of quadruplet.h written with primitive ops, on the indices the miner returns.
Tensor composed_loss(const Tensor& x, const Tensor& labels, const QuadrupletLossOptions& opt) {
  const QuadrupletIndices q = mine_quadruplets_batch_hard(x.detach(), labels, opt.distance);
  const Distance dist = opt.distance.distance;
  const Tensor e = prepare_embeddings(x, opt.distance);
  const Tensor d = pairwise_distance(e, Tensor(), dist == Distance::Cosine ? Distance::Dot : dist);
  if (q.size() == 0) return sum(d) * 0.0;
  const std::int64_t b = x.size(0);
  const Tensor flat = d.reshape({b * b});
  auto pick = [&](const Tensor& i, const Tensor& j) { return index_select(flat, 0, i * static_cast<double>(b) + j); };
  const Tensor dap = pick(q.anchor, q.positive), dan = pick(q.anchor, q.negative), dlk = pick(q.l, q.k);
  const double sign = is_similarity(dist) ? -1.0 : 1.0;
  const Tensor per = relu((dap - dan) * sign + opt.margin1) + relu((dap - dlk) * sign + opt.margin2);
  switch (opt.reduction) {
    case MetricReduction::Sum:
      return sum(per);
    case MetricReduction::Mean:
      return sum(per) / static_cast<double>(q.size());
    case MetricReduction::AvgNonZero: {
      const double active = sum(per.detach().gt(0.0).to(kFloat64)).item<double>();
      return active > 0 ? sum(per) / active : sum(per) * 0.0;
    }
  }
  return Tensor();
}

// Duplicates copies random rows (within and across classes). ExactDuplicates does the same with coordinates in
// {-1, 1} (norm 2 in dimension 4): every product, sum, norm and normalisation is exact in float64, so duplicated rows
// are at distance exactly 0 in every distance.
enum Pattern { RandomLabels, OneClass, AllDistinct, TwoEach, Duplicates, ExactDuplicates, kPatterns };

struct Case {
  Tensor x, labels;
};

Case make_case(std::int64_t b, int pattern, std::uint32_t seed, std::int64_t dim = 4) {
  std::mt19937 rng(seed);
  std::vector<std::int64_t> y(static_cast<std::size_t>(b));
  for (std::int64_t i = 0; i < b; ++i) {
    switch (pattern) {
      case OneClass:
        y[i] = 3;
        break;
      case AllDistinct:
        y[i] = i;
        break;
      case TwoEach:
        y[i] = i / 2;
        break;
      default:
        y[i] = static_cast<std::int64_t>(rng() % 4);
        break;
    }
  }
  Tensor x = random_tensor({b, dim}, seed + 1);
  double* p = x.data_ptr<double>();
  if (pattern == ExactDuplicates)
    for (std::int64_t i = 0; i < b * dim; ++i) p[i] = rng() % 2 ? 1.0 : -1.0;
  if (pattern == Duplicates || pattern == ExactDuplicates) {
    for (std::int64_t i = 2; i < b; i += 3)
      for (std::int64_t j = 0; j < dim; ++j) p[i * dim + j] = p[(i - 2) * dim + j];
  }
  return {x, tensor(y, {b})};
}

const DistanceOptions kDistances[] = {
    {.distance = Distance::SquaredEuclidean, .normalize = true},
    {.distance = Distance::SquaredEuclidean, .normalize = false},
    {.distance = Distance::Euclidean, .normalize = true},
    {.distance = Distance::Euclidean, .normalize = false},
    {.distance = Distance::Cosine, .normalize = true},
    {.distance = Distance::Dot, .normalize = false},
};
const MetricReduction kReductions[] = {MetricReduction::AvgNonZero, MetricReduction::Mean, MetricReduction::Sum};

// Value and gradient of the fused loss and of the oracle on x.
struct Result {
  double value;
  Tensor grad;
};
Result run(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  Tensor leaf = x.detach().clone().set_requires_grad();
  Tensor l = f(leaf);
  l.backward();
  return {l.item<double>(), leaf.grad()};
}

// Does a mined quadruplet use a pair (a, n) or (l, k) at distance exactly 0?
bool mined_zero_distance(const Case& c, const DistanceOptions& dist) {
  const QuadrupletIndices q = mine_quadruplets_batch_hard(c.x, c.labels, dist);
  const auto d = distance_matrix(prepare_embeddings(c.x, dist), dist.distance).to_vector<double>();
  const std::int64_t b = c.x.size(0);
  const auto a = q.anchor.to_vector<std::int64_t>(), n = q.negative.to_vector<std::int64_t>(),
             l = q.l.to_vector<std::int64_t>(), k = q.k.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < a.size(); ++i)
    if (d[a[i] * b + n[i]] == 0.0 || d[l[i] * b + k[i]] == 0.0) return true;
  return false;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-12 + 1e-9 * std::abs(b); }

}  // namespace

TEST(QuadrupletLoss, EqualsComposedLoss) {
  std::int64_t with_tuples = 0, zero_distance_mined = 0;
  for (std::int64_t b : {2, 3, 5, 8, 12, 20}) {
    for (int pattern = 0; pattern < kPatterns; ++pattern) {
      const Case c = make_case(b, pattern, static_cast<std::uint32_t>(10 * b + pattern));
      for (const DistanceOptions& dist : kDistances) {
        for (MetricReduction red : kReductions) {
          // Dot on raw embeddings has a larger scale: margins to match, so some hinges are active and some not.
          const double scale = dist.distance == Distance::Dot ? 4.0 : 1.0;
          const QuadrupletLossOptions opt{
              .margin1 = 1.0 * scale, .margin2 = 0.5 * scale, .distance = dist, .reduction = red};
          QuadrupletLoss loss(opt);
          const Result fused = run([&](const Tensor& x) { return loss(x, c.labels); }, c.x);
          const Result oracle = run([&](const Tensor& x) { return composed_loss(x, c.labels, opt); }, c.x);
          const std::string what = "B=" + std::to_string(b) + " pattern " + std::to_string(pattern) + " " +
                                   to_string(dist) + " " + reduction_name(red);
          EXPECT_TRUE(close(fused.value, oracle.value)) << what << ": " << fused.value << " vs " << oracle.value;
          // Not compared: euclidean on randomly-valued duplicates. The GEMM formula gives such a pair
          // sqrt(rounding noise) ~ 3e-8 instead of 0 (only the diagonal is forced to 0), so a mined duplicate pair
          // has dL/de = G (e_i - e_j) / d_ij, evaluated as rowsum(W) e_i - (W e)_i with W ~ 1e7 G: rounding noise of
          // ~1e-8 that any two orderings of the same sums disagree in. Exactly representable duplicates
          // (ExactDuplicates: distance exactly 0, the zero-distance subgradient) are compared at 1e-9.
          if (!(pattern == Duplicates && dist.distance == Distance::Euclidean)) {
            EXPECT_TRUE(all_close(fused.grad, oracle.grad, 1e-12, 1e-9)) << what;
          }
          if (pattern == ExactDuplicates) zero_distance_mined += mined_zero_distance(c, dist);
          for (double g : fused.grad.to_vector<double>()) ASSERT_TRUE(std::isfinite(g)) << what;
          with_tuples += loss.stats().active > 0;
        }
      }
    }
  }
  EXPECT_GT(with_tuples, 100);         // the comparison is not vacuous
  EXPECT_GT(zero_distance_mined, 10);  // and the zero-distance subgradient is exercised
}

// One class, all classes distinct, B = 2, two classes (no pair (l, k) without the anchor's class), hinges that are
// all inactive: loss 0 and a gradient of exactly 0, with a graph (backward works).
TEST(QuadrupletLoss, NoTupleGivesZeroLossAndZeroGradient) {
  const std::vector<std::pair<Case, QuadrupletLossOptions>> cases = {
      {make_case(6, OneClass, 1), {}},
      {make_case(6, AllDistinct, 2), {}},
      {make_case(2, OneClass, 3), {}},
      {make_case(2, AllDistinct, 4), {}},
      {{random_tensor({6, 3}, 5), tensor(std::vector<std::int64_t>{0, 0, 0, 1, 1, 1}, {6})}, {}},
      {make_case(8, RandomLabels, 6), {.margin1 = -10.0, .margin2 = -10.0}},
  };
  for (const auto& [c, opt] : cases) {
    for (const DistanceOptions& dist : kDistances) {
      QuadrupletLossOptions o = opt;
      o.distance = dist;
      QuadrupletLoss loss(o);
      const Result r = run([&](const Tensor& x) { return loss(x, c.labels); }, c.x);
      EXPECT_EQ(r.value, 0.0);
      ASSERT_TRUE(r.grad.defined());
      for (double g : r.grad.to_vector<double>()) EXPECT_EQ(g, 0.0);
      EXPECT_EQ(loss.stats().active, 0);
    }
  }
}

// Finite differences are valid only away from the hinges' kinks and from ties in the mining (where the loss is not
// differentiable): the data are random with every hinge at least 1e-3 away from 0, checked below before the
// gradcheck (the central differences use eps = 1e-6).
TEST(QuadrupletLoss, Gradcheck) {
  for (const DistanceOptions& dist : kDistances) {
    const Case c = make_case(10, RandomLabels, 77);
    const QuadrupletLossOptions opt{.distance = dist, .reduction = MetricReduction::Mean};
    // The precondition: distances of the mined quadruplets, hinges away from 0.
    {
      const QuadrupletIndices q = mine_quadruplets_batch_hard(c.x, c.labels, dist);
      ASSERT_GT(q.size(), 0);
      const Tensor d = distance_matrix(prepare_embeddings(c.x, dist), dist.distance);
      const double sign = is_similarity(dist.distance) ? -1.0 : 1.0;
      const auto a = q.anchor.to_vector<std::int64_t>(), p = q.positive.to_vector<std::int64_t>(),
                 n = q.negative.to_vector<std::int64_t>(), l = q.l.to_vector<std::int64_t>(),
                 k = q.k.to_vector<std::int64_t>();
      const std::int64_t b = c.x.size(0);
      const auto dv = d.to_vector<double>();
      for (std::size_t i = 0; i < a.size(); ++i) {
        const double dap = dv[a[i] * b + p[i]], dan = dv[a[i] * b + n[i]], dlk = dv[l[i] * b + k[i]];
        ASSERT_GT(std::abs(sign * (dap - dan) + opt.margin1), 1e-3) << to_string(dist);
        ASSERT_GT(std::abs(sign * (dap - dlk) + opt.margin2), 1e-3) << to_string(dist);
      }
    }
    QuadrupletLoss loss(opt);
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], c.labels); }, {c.x}))
        << to_string(dist);
    EXPECT_GT(loss.stats().active, 0) << to_string(dist);
  }
}

// Float32 embeddings: the loss runs in float32 (value and gradient in float32), close to the float64 result.
TEST(QuadrupletLoss, Float32) {
  const Case c = make_case(12, TwoEach, 9);
  QuadrupletLoss loss;
  const Result r64 = run([&](const Tensor& x) { return loss(x, c.labels); }, c.x);
  Tensor x32 = c.x.to(kFloat32).set_requires_grad();
  Tensor l32 = loss(x32, c.labels);
  EXPECT_EQ(l32.dtype(), kFloat32);
  l32.backward();
  EXPECT_EQ(x32.grad().dtype(), kFloat32);
  EXPECT_NEAR(l32.item<float>(), r64.value, 1e-5);
  EXPECT_TRUE(all_close(x32.grad().to(kFloat64), r64.grad, 1e-5, 1e-4));
}

// Points 0, 1, 3, 4 with labels 0, 0, 1, 2, raw squared euclidean: quadruplets (0, 1, 2, 2, 3) and (1, 0, 2, 2, 3)
// with d_ap = 1, d_an = 9 and 4, d_lk = 1. Anchor 0: [1 - 9 + 1]+ + [1 - 1 + 0.5]+ = 0.5; anchor 1: [1 - 4 + 1]+
// + 0.5 = 0.5. Mean 0.5 over two active quadruplets.
TEST(QuadrupletLoss, ByHandAndStats) {
  const Tensor x = tensor({0.0, 1.0, 3.0, 4.0}, {4, 1});
  const Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 2}, {4});
  QuadrupletLoss loss({.distance = {.distance = Distance::SquaredEuclidean, .normalize = false}});
  EXPECT_DOUBLE_EQ(loss(x, y).item<double>(), 0.5);
  const LossStats s = loss.stats();
  EXPECT_EQ(s.tuples, 2);
  EXPECT_EQ(s.active, 2);
  EXPECT_EQ(s.active_fraction, 1.0);
  EXPECT_DOUBLE_EQ(s.mean_positive, 1.0);
  // negative ordered pairs: (0,2) 9, (0,3) 16, (1,2) 4, (1,3) 9, (2,3) 1, each twice: mean 39 / 5
  EXPECT_DOUBLE_EQ(s.mean_negative, 39.0 / 5.0);
  QuadrupletLoss sum_loss(
      {.distance = {.distance = Distance::SquaredEuclidean, .normalize = false}, .reduction = MetricReduction::Sum});
  EXPECT_DOUBLE_EQ(sum_loss(x, y).item<double>(), 1.0);
  // Before any call: no data.
  EXPECT_TRUE(std::isnan(QuadrupletLoss().stats().mean_positive));
}

TEST(QuadrupletLoss, BadInputsAreClearErrors) {
  const Tensor x = random_tensor({4, 3}, 1);
  const Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 2}, {4});
  QuadrupletLoss loss;
  EXPECT_THROW_MSG(loss(x.view({12}), y), "QuadrupletLoss: embeddings must be 2-d");
  EXPECT_THROW_MSG(loss(x, y.to(kFloat64)), "QuadrupletLoss: labels must be int64");
  EXPECT_THROW_MSG(loss(x.slice(0, 0, 1), y.slice(0, 0, 1)), "QuadrupletLoss: need a batch of at least 2");
  EXPECT_THROW_MSG(QuadrupletLoss({.margin1 = std::nan("")}), "QuadrupletLoss: margin1 must be finite");
  EXPECT_THROW_MSG(QuadrupletLoss({.margin2 = INFINITY}), "QuadrupletLoss: margin2 must be finite");
}

TEST(QuadrupletLoss, ResultDoesNotDependOnTheThreadCount) {
  // B = 256: the distance matrix's sweeps run in parallel (B^2 >= 65536); the backward is the sparse one (three
  // non-zeros per row of G).
  const Tensor labels = trident::testing::labels_of(trident::testing::random_labels(256, 20, 61));
  QuadrupletLoss loss;
  trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& e) { return loss(e, labels); },
                                                        random_tensor({256, 16}, 62));
}
