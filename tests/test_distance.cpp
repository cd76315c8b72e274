// l2_normalize and pairwise_distance: values, gradients, the zero-distance rule, errors.
#include <cmath>

#include "gradcheck.h"

using namespace trident;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {
// The same distances composed from primitive ops through an explicit [N, M, D] difference tensor (the slow, obvious
// definition) -- the oracle for the fused GEMM form.
Tensor brute_force(const Tensor& x, const Tensor& y, Distance d) {
  switch (d) {
    case Distance::Euclidean: return (x.unsqueeze(1) - y.unsqueeze(0)).pow(2.0).sum({2}).sqrt();
    case Distance::SquaredEuclidean: return (x.unsqueeze(1) - y.unsqueeze(0)).pow(2.0).sum({2});
    case Distance::Cosine: return (l2_normalize(x).unsqueeze(1) * l2_normalize(y).unsqueeze(0)).sum({2});
    case Distance::Dot: return (x.unsqueeze(1) * y.unsqueeze(0)).sum({2});
  }
  return {};
}
const Distance kAll[] = {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot};
}  // namespace

TEST(Distance, HandComputedValues) {
  Tensor x = tensor({0.0, 0.0, 3.0, 4.0}, {2, 2});
  EXPECT_EQ(pairwise_distance(x).to_vector<double>(), (std::vector<double>{0, 5, 5, 0}));
  EXPECT_EQ(pairwise_distance(x, Tensor(), Distance::SquaredEuclidean).to_vector<double>(),
            (std::vector<double>{0, 25, 25, 0}));
  Tensor y = tensor({1.0, 0.0, 0.0, 2.0, -1.0, 0.0}, {3, 2});
  auto cos = pairwise_distance(tensor({2.0, 0.0}, {1, 2}), y, Distance::Cosine).to_vector<double>();
  EXPECT_NEAR(cos[0], 1.0, 1e-15);
  EXPECT_NEAR(cos[1], 0.0, 1e-15);
  EXPECT_NEAR(cos[2], -1.0, 1e-15);
  EXPECT_EQ(pairwise_distance(tensor({2.0, 1.0}, {1, 2}), y, Distance::Dot).to_vector<double>(),
            (std::vector<double>{2, 2, -2}));
  EXPECT_TRUE(is_similarity(Distance::Cosine));
  EXPECT_FALSE(is_similarity(Distance::Euclidean));
  EXPECT_STREQ(distance_name(Distance::SquaredEuclidean), "squared_euclidean");
}

TEST(Distance, MatchesBruteForceDefinition) {
  Tensor x = random_tensor({7, 5}, 1), y = random_tensor({4, 5}, 2);
  for (Distance d : kAll) {
    auto fused = pairwise_distance(x, y, d).to_vector<double>();
    auto ref = brute_force(x, y, d).to_vector<double>();
    ASSERT_EQ(fused.size(), ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(fused[i], ref[i], 1e-12) << distance_name(d) << " " << i;
  }
}

TEST(Distance, Float32SelfDistanceHasAnExactZeroDiagonal) {
  Tensor x = random_tensor({16, 64}, 3, 10.0, 20.0, kFloat32);  // large norms: GEMM rounding would leave ~1e-2
  Tensor d = pairwise_distance(x);
  for (std::int64_t i = 0; i < 16; ++i) EXPECT_EQ(d.at<float>({i, i}), 0.f);
}

TEST(Distance, GradcheckEveryDistance) {
  Tensor x = random_tensor({5, 3}, 4), y = random_tensor({4, 3}, 5);
  for (Distance d : kAll) {
    EXPECT_TRUE(gradcheck([d](const std::vector<Tensor>& v) { return pairwise_distance(v[0], v[1], d); }, {x, y}))
        << distance_name(d);
    EXPECT_TRUE(gradcheck([d](const std::vector<Tensor>& v) { return pairwise_distance(v[0], Tensor(), d); }, {x}))
        << distance_name(d) << " (self)";
  }
}

TEST(Distance, FusedGradientEqualsComposedGradient) {
  Tensor x = random_tensor({6, 4}, 6), y = random_tensor({5, 4}, 7);
  for (Distance d : kAll) {
    Tensor w = random_tensor({6, 5}, 8);
    Tensor x1 = x.clone().set_requires_grad(), y1 = y.clone().set_requires_grad();
    Tensor x2 = x.clone().set_requires_grad(), y2 = y.clone().set_requires_grad();
    (pairwise_distance(x1, y1, d) * w).sum().backward();
    (brute_force(x2, y2, d) * w).sum().backward();
    auto a = x1.grad().to_vector<double>(), b = x2.grad().to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-10) << distance_name(d);
    a = y1.grad().to_vector<double>(), b = y2.grad().to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-10) << distance_name(d);
  }
}

TEST(Distance, DuplicatedEmbeddingsGiveFiniteGradients) {
  // Rows 0 and 2 are identical: D_02 = 0, where sqrt has no derivative. The rule: subgradient 0, never NaN.
  Tensor x = tensor({1.0, 2.0, 0.5, -1.0, 1.0, 2.0}, {3, 2}).set_requires_grad();
  Tensor d = pairwise_distance(x);
  EXPECT_EQ(d.at<double>({0, 2}), 0.0);
  d.sum().backward();
  for (double g : x.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
  // The pair (0, 2) contributes nothing: row 0's gradient is (x0 - x1)/D01 + (x0 - x1)/D10 = 2 (x0 - x1)/D01.
  const double d01 = std::sqrt(0.25 + 9.0);
  EXPECT_NEAR(x.grad().at<double>({0, 0}), 2 * 0.5 / d01, 1e-12);
  EXPECT_NEAR(x.grad().at<double>({0, 1}), 2 * 3.0 / d01, 1e-12);
}

TEST(Distance, L2Normalize) {
  Tensor x = tensor({3.0, 4.0, 0.0, 0.0}, {2, 2});
  EXPECT_EQ(l2_normalize(x).to_vector<double>(), (std::vector<double>{0.6, 0.8, 0.0, 0.0}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return l2_normalize(v[0], 1); }, {random_tensor({4, 3}, 9)}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return l2_normalize(v[0], 0); }, {random_tensor({4, 3}, 10)}));
  Tensor z = zeros({1, 3}, {.dtype = kFloat64, .requires_grad = true});
  l2_normalize(z).sum().backward();
  for (double g : z.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

TEST(Distance, Errors) {
  EXPECT_THROW_MSG(pairwise_distance(random_tensor({3}, 1)), "pairwise_distance: x must be 2-d [N, D], got shape [3]");
  EXPECT_THROW_MSG(pairwise_distance(random_tensor({3, 2}, 1), random_tensor({3, 4}, 2)),
                   "pairwise_distance: embedding sizes differ: [3, 2] and [3, 4]");
  EXPECT_THROW_MSG(pairwise_distance(tensor(std::vector<std::int64_t>{1, 2}, {1, 2})), "pairwise_distance: expected a floating");
}
