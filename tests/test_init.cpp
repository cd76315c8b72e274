// nn::init (nn/init.h): gains, fans, the bounds and statistics of every initialiser, reproducibility from a
// Generator, and the default initialisation of the layers (PyTorch's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gradcheck.h"
#include "trident/trident.h"

namespace trident {
namespace {

namespace init = nn::init;

struct Stats {
  double mean = 0, var = 0, max_abs = 0, min = 0, max = 0;
};

Stats stats_of(const Tensor& t) {
  const auto v = t.to_vector<double>();
  Stats s;
  s.min = s.max = v.empty() ? 0 : v[0];
  for (double x : v) {
    s.mean += x;
    s.max_abs = std::max(s.max_abs, std::abs(x));
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.var += (x - s.mean) * (x - s.mean);
  s.var /= static_cast<double>(v.size() - 1);
  return s;
}

// Tolerances below are many standard errors wide for n = 10^6 samples: the sample variance of U(-b, b) has a
// relative standard error of 0.89 / sqrt(n) ~ 0.1%, that of a normal sqrt(2 / n) ~ 0.14%; both are tested to 1%.
// The mean is tested to 6 standard errors (std / sqrt(n)).
constexpr std::int64_t kRows = 1000, kCols = 1000;
constexpr double kN = static_cast<double>(kRows * kCols);

// ---- gains and fans -------------------------------------------------------------------------------------------------

TEST(Init, CalculateGain) {
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::Linear), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::Conv2d), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::Sigmoid), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::Tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::ReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::SELU), 0.75);
  // leaky_relu: sqrt(2 / (1 + slope^2)); the default slope is 0.01 (PyTorch's param=None).
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::LeakyReLU), std::sqrt(2.0 / (1.0 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::LeakyReLU, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
}

TEST(Init, FanOfLinearAndConvWeights) {
  nn::Linear fc(784, 256);
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(fc.weight), (std::pair<std::int64_t, std::int64_t>{784, 256}));
  nn::Conv2d conv(3, 32, 5);  // weight [32, 3, 5, 5]
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(conv.weight), (std::pair<std::int64_t, std::int64_t>{75, 800}));
  nn::Conv2d grouped(4, 8, {3, 2}, {.groups = 2});  // weight [8, 2, 3, 2]
  EXPECT_EQ(grouped.weight.sizes(), (Shape{8, 2, 3, 2}));
  EXPECT_EQ(init::calculate_fan_in_and_fan_out(grouped.weight), (std::pair<std::int64_t, std::int64_t>{12, 48}));
  EXPECT_THROW_MSG(init::calculate_fan_in_and_fan_out(zeros({5})),
                   "calculate_fan_in_and_fan_out: fan in and fan out need a tensor of at least 2 dims, got shape [5]");
}

// ---- bounds and statistics ------------------------------------------------------------------------------------------

TEST(Init, KaimingUniformBoundAndVariance) {
  // fan_in = kCols; leaky_relu with a = 0: gain sqrt(2), bound = sqrt(6 / fan_in).
  const Tensor w = empty({kRows, kCols}, {.dtype = kFloat64});
  init::kaiming_uniform_(w);
  const double bound = std::sqrt(6.0 / kCols);
  const Stats s = stats_of(w);
  EXPECT_LE(s.max_abs, bound);
  EXPECT_GT(s.max_abs, 0.999 * bound);  // the range is used up to its end
  EXPECT_NEAR(s.var, bound * bound / 3.0, 0.01 * bound * bound / 3.0);
  EXPECT_NEAR(s.mean, 0.0, 6.0 * bound / std::sqrt(3.0 * kN));
  // mode fan_out with ReLU on a [rows, cols, 2] tensor: fan_out = rows * 2.
  const Tensor w3 = empty({kRows, 10, 2}, {.dtype = kFloat64});
  init::kaiming_uniform_(w3, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
  EXPECT_LE(stats_of(w3).max_abs, std::sqrt(6.0 / (kRows * 2)));
  EXPECT_GT(stats_of(w3).max_abs, 0.99 * std::sqrt(6.0 / (kRows * 2)));
}

TEST(Init, KaimingNormalVariance) {
  const Tensor w = empty({kRows, kCols}, {.dtype = kFloat64});
  init::kaiming_normal_(w, 0.0, init::FanMode::FanIn, init::Nonlinearity::ReLU);
  const double var = 2.0 / kCols;  // gain^2 / fan_in
  const Stats s = stats_of(w);
  EXPECT_NEAR(s.var, var, 0.01 * var);
  EXPECT_NEAR(s.mean, 0.0, 6.0 * std::sqrt(var / kN));
  // fan_out, leaky_relu with slope 0.2.
  init::kaiming_normal_(w, 0.2, init::FanMode::FanOut);
  const double var2 = 2.0 / (1.0 + 0.04) / kRows;
  EXPECT_NEAR(stats_of(w).var, var2, 0.01 * var2);
}

TEST(Init, XavierBoundsAndVariance) {
  const Tensor w = empty({kRows, kCols / 2}, {.dtype = kFloat64});
  init::xavier_uniform_(w, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / (kRows + kCols / 2));
  const Stats s = stats_of(w);
  EXPECT_LE(s.max_abs, bound);
  EXPECT_GT(s.max_abs, 0.999 * bound);
  EXPECT_NEAR(s.var, bound * bound / 3.0, 0.01 * bound * bound / 3.0);
  init::xavier_normal_(w);
  const double var = 2.0 / (kRows + kCols / 2);
  EXPECT_NEAR(stats_of(w).var, var, 0.01 * var);
}

TEST(Init, UniformNormalConstant) {
  const Tensor w = empty({kRows, kCols});
  init::uniform_(w, -2.0, 3.0);
  Stats s = stats_of(w);
  EXPECT_GE(s.min, -2.0);
  EXPECT_LT(s.max, 3.0);
  EXPECT_NEAR(s.mean, 0.5, 6.0 * 5.0 / std::sqrt(12.0 * kN));
  init::normal_(w, 1.5, 0.5);
  s = stats_of(w);
  EXPECT_NEAR(s.mean, 1.5, 6.0 * 0.5 / std::sqrt(kN));
  EXPECT_NEAR(s.var, 0.25, 0.01 * 0.25);
  init::constant_(w, 0.25);
  s = stats_of(w);
  EXPECT_EQ(s.min, 0.25);
  EXPECT_EQ(s.max, 0.25);
  init::ones_(w);
  EXPECT_EQ(stats_of(w).min, 1.0);
  init::zeros_(w);
  EXPECT_EQ(stats_of(w).max_abs, 0.0);
}

TEST(Init, WritesThroughViews) {
  // A column of a matrix: only its elements change.
  const Tensor m = zeros({4, 3}, {.dtype = kFloat64});
  init::constant_(m.slice(1, 1, 2), 7.0);
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{0, 7, 0, 0, 7, 0, 0, 7, 0, 0, 7, 0}));
  init::uniform_(m.slice(1, 0, 1), 1.0, 2.0);
  const auto v = m.to_vector<double>();
  for (int r = 0; r < 4; ++r) {
    EXPECT_GE(v[r * 3], 1.0);
    EXPECT_EQ(v[r * 3 + 2], 0.0);
  }
}

// ---- parameters, generators, errors -----------------------------------------------------------------------------

TEST(Init, WorksOnParametersInGradModeAndKeepsThemLeaves) {
  Tensor p = empty({10, 10}).set_requires_grad(true);
  ASSERT_TRUE(is_grad_enabled());
  init::kaiming_uniform_(p);
  init::zeros_(p);
  init::normal_(p);
  EXPECT_TRUE(p.requires_grad());
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(is_grad_enabled());
}

TEST(Init, GeneratorReproducesValues) {
  Generator g1(42), g2(42), g3(43);
  const Tensor a = empty({5, 10}), b = empty({5, 10}), c = empty({5, 10});
  init::kaiming_uniform_(a, 0.0, init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, &g1);
  init::kaiming_uniform_(b, 0.0, init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, &g2);
  init::kaiming_uniform_(c, 0.0, init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, &g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  // The default generator: manual_seed reproduces a whole model.
  manual_seed(7);
  nn::Linear l1(20, 30);
  manual_seed(7);
  nn::Linear l2(20, 30);
  EXPECT_EQ(l1.weight.to_vector<float>(), l2.weight.to_vector<float>());
  EXPECT_EQ(l1.bias.to_vector<float>(), l2.bias.to_vector<float>());
  // reset_parameters with a generator.
  Generator g4(5), g5(5);
  l1.reset_parameters(&g4);
  l2.reset_parameters(&g5);
  EXPECT_EQ(l1.weight.to_vector<float>(), l2.weight.to_vector<float>());
}

TEST(Init, Errors) {
  EXPECT_THROW_MSG(init::uniform_(zeros({3}, {.dtype = kInt64})), "uniform_: expected a floating tensor");
  EXPECT_THROW_MSG(init::uniform_(zeros({3}), 1.0, 0.0), "uniform_: expected a <= b, got a = 1, b = 0");
  EXPECT_THROW_MSG(init::normal_(zeros({3}), 0.0, -1.0), "normal_: expected std >= 0, got -1");
  EXPECT_THROW_MSG(init::kaiming_uniform_(zeros({3})), "fan in and fan out need a tensor of at least 2 dims");
  EXPECT_THROW_MSG(init::xavier_normal_(zeros({3})), "fan in and fan out need a tensor of at least 2 dims");
  EXPECT_THROW_MSG(init::kaiming_normal_(zeros({0, 3}), 0.0, init::FanMode::FanOut), "kaiming_normal_: the fan");
  EXPECT_THROW_MSG(init::zeros_(Tensor()), "constant_: undefined tensor");
}

// ---- default initialisation of the layers (PyTorch's) ---------------------------------------------------------------

TEST(Init, LinearDefaultIsKaimingUniformWithSqrt5) {
  // kaiming_uniform_(a = sqrt(5)) gives bound = sqrt(3) * sqrt(2 / 6) / sqrt(fan_in) = 1 / sqrt(fan_in), the same
  // bound as the bias. Compared in float32, the parameters' dtype.
  nn::Linear fc(784, 1000);
  const float bound = static_cast<float>(1.0 / std::sqrt(784.0));
  const Stats w = stats_of(fc.weight), b = stats_of(fc.bias);
  EXPECT_LE(w.max_abs, bound);
  EXPECT_GT(w.max_abs, 0.999 * bound);
  EXPECT_NEAR(w.var, bound * bound / 3.0, 0.01 * bound * bound / 3.0);
  EXPECT_LE(b.max_abs, bound);
  EXPECT_GT(b.max_abs, 0.9 * bound);  // 1000 draws from U(-bound, bound)
}

TEST(Init, Conv2dDefaultUsesFanInOverGroups) {
  nn::Conv2d conv(64, 128, 3, {.groups = 2});  // fan_in = 32 * 9
  const float bound = static_cast<float>(1.0 / std::sqrt(32.0 * 9.0));
  const Stats w = stats_of(conv.weight), b = stats_of(conv.bias);
  EXPECT_LE(w.max_abs, bound);
  EXPECT_GT(w.max_abs, 0.999 * bound);
  EXPECT_NEAR(w.var, bound * bound / 3.0, 0.02 * bound * bound / 3.0);  // 36864 draws: relative SE 0.5%
  EXPECT_LE(b.max_abs, bound);
}

TEST(Init, BatchNormAndEmbeddingDefaults) {
  nn::BatchNorm2d bn(16);
  EXPECT_EQ(bn.weight.to_vector<float>(), std::vector<float>(16, 1.f));
  EXPECT_EQ(bn.bias.to_vector<float>(), std::vector<float>(16, 0.f));
  EXPECT_EQ(bn.running_mean.to_vector<float>(), std::vector<float>(16, 0.f));
  EXPECT_EQ(bn.running_var.to_vector<float>(), std::vector<float>(16, 1.f));
  EXPECT_EQ(bn.num_batches_tracked.item<std::int64_t>(), 0);
  nn::Embedding emb(1000, 1000);  // N(0, 1)
  const Stats s = stats_of(emb.weight);
  EXPECT_NEAR(s.mean, 0.0, 6.0 / std::sqrt(kN));
  EXPECT_NEAR(s.var, 1.0, 0.01);
}

}  // namespace
}  // namespace trident
