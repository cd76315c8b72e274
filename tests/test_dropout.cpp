// dropout: identity cases, p = 1, mask statistics, determinism with a seeded Generator, gradient = mask / (1 - p).
#include <cmath>

#include "gradcheck.h"
#include "trident/ops/dropout.h"

using namespace trident;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

TEST(Dropout, IdentityWhenEvalOrPZero) {
  Tensor x = random_tensor({4, 5}, 1).set_requires_grad(true);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_TRUE(dropout(x, 1.0, false).is_same(x));
}

TEST(Dropout, POneGivesZeros) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = (random_tensor({3, 7}, 2) + 5.0).to(dt).set_requires_grad(true);
    Tensor y = dropout(x, 1.0, true);
    EXPECT_EQ(y.to_vector<double>(), std::vector<double>(21, 0.0));
    y.backward(ones_like(y));
    EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(21, 0.0));
  }
}

TEST(Dropout, MaskStatistics) {
  // n Bernoulli draws: the dropped fraction has standard deviation sqrt(p (1 - p) / n) = 0.00145 for p = 0.3,
  // n = 100000; 5 standard deviations (0.0073) make a false failure a 1-in-a-million event (and the seed is fixed).
  const std::int64_t n = 100000;
  for (double p : {0.1, 0.3, 0.5, 0.9}) {
    SCOPED_TRACE(p);
    Generator gen(123);
    const auto y = dropout(ones({n}), p, true, &gen).to_vector<float>();
    std::int64_t dropped = 0;
    for (float v : y) {
      if (v == 0.f) {
        ++dropped;
      } else {
        EXPECT_FLOAT_EQ(v, static_cast<float>(1.0 / (1.0 - p)));  // inverted dropout: kept values scaled
      }
    }
    const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(n));
    EXPECT_NEAR(static_cast<double>(dropped) / static_cast<double>(n), p, 5 * sigma);
  }
}

TEST(Dropout, DeterministicWithASeededGenerator) {
  Tensor x = random_tensor({50, 40}, 3, 0, 0, kFloat32);
  Generator a(7), b(7), c(8);
  const auto ya = dropout(x, 0.4, true, &a).to_vector<float>();
  EXPECT_EQ(ya, dropout(x, 0.4, true, &b).to_vector<float>());
  EXPECT_NE(ya, dropout(x, 0.4, true, &c).to_vector<float>());
  // The generator advanced: the next mask from it differs from the first.
  EXPECT_NE(ya, dropout(x, 0.4, true, &a).to_vector<float>());
  // The default generator follows manual_seed.
  manual_seed(99);
  const auto d1 = dropout(x, 0.4, true).to_vector<float>();
  manual_seed(99);
  EXPECT_EQ(d1, dropout(x, 0.4, true).to_vector<float>());
}

TEST(Dropout, GradientIsMaskOverKeepProbability) {
  const double p = 0.25;
  Tensor x = (random_tensor({30, 20}, 4, 1.0, 2.0)).set_requires_grad(true);  // nonzero: y = 0 means dropped
  Generator gen(5);
  Tensor y = dropout(x, p, true, &gen);
  Tensor g = random_tensor({30, 20}, 5);
  y.backward(g);
  const auto xv = x.detach().to_vector<double>(), yv = y.detach().to_vector<double>();
  const auto gv = g.to_vector<double>(), dx = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double mask = yv[i] == 0.0 ? 0.0 : 1.0;
    EXPECT_DOUBLE_EQ(yv[i], xv[i] * mask / (1 - p));
    EXPECT_DOUBLE_EQ(dx[i], gv[i] * mask / (1 - p));
  }
  EXPECT_EQ(y.grad_fn()->name(), "DropoutBackward");
}

TEST(Dropout, Gradcheck) {
  // A fresh generator with the same seed in every call: the same mask each time, so the op is a fixed linear map.
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(11);
        return dropout(in[0], 0.3, true, &gen);
      },
      {random_tensor({4, 6}, 6)}));
}

TEST(Dropout, Errors) {
  Tensor x = ones({3});
  EXPECT_THROW_MSG(dropout(x, 1.5, true), "dropout: p must lie in [0, 1], got 1.5");
  EXPECT_THROW_MSG(dropout(x, -0.1, false), "dropout: p must lie in [0, 1], got -0.1");
  EXPECT_THROW_MSG(dropout(ones({3}, {.dtype = kInt64}), 0.5, true), "dropout: expected a floating tensor");
  EXPECT_THROW_MSG(dropout(Tensor(), 0.5, true), "dropout: input is an undefined tensor");
}
