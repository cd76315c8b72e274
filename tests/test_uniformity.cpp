// losses/uniformity: uniformity_loss against the formula of Note [Uniformity over different-label pairs] by plain
// loops (value and gradient), gradchecks, the one-class case and input errors.
#include <cmath>
#include <functional>
#include <vector>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/losses/proxy.h"
#include "trident/losses/uniformity.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::labels_of;
using trident::testing::random_labels;
using trident::testing::random_tensor;

namespace {

// The loss and its gradient by loops over the pairs, on embeddings taken as they are (normalize = false).
struct Reference {
  double value;
  std::vector<double> grad;  // [B * D]
};
Reference reference(const Tensor& x, const std::vector<std::int64_t>& y, double t) {
  const std::int64_t b = x.size(0), d = x.size(1);
  const std::vector<double> v = x.contiguous().to_vector<double>();
  auto dist2 = [&](std::int64_t i, std::int64_t j) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) s += (v[i * d + k] - v[j * d + k]) * (v[i * d + k] - v[j * d + k]);
    return s;
  };
  double total = 0;
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = i + 1; j < b; ++j)
      if (y[i] != y[j]) total += std::exp(-t * dist2(i, j)), ++count;
  Reference r{std::log(total / count), std::vector<double>(v.size(), 0.0)};
  // dL/de_i = -2t sum_{j: y_j != y_i} p_ij (e_i - e_j), p_ij = exp(-t d_ij^2) / total.
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = 0; j < b; ++j) {
      if (y[i] == y[j]) continue;
      const double p = std::exp(-t * dist2(i, j)) / total;
      for (std::int64_t k = 0; k < d; ++k) r.grad[i * d + k] += -2 * t * p * (v[i * d + k] - v[j * d + k]);
    }
  return r;
}

}  // namespace

TEST(UniformityLoss, MatchesTheFormulaAndItsGradient) {
  for (double t : {0.5, 2.0, 7.0}) {
    const std::vector<std::int64_t> y = random_labels(12, 4, 3);
    const Tensor x = random_tensor({12, 5}, 11).set_requires_grad(true);
    const Tensor l = uniformity_loss(x, labels_of(y), {.t = t, .normalize = false});
    l.backward();
    const Reference r = reference(x.detach(), y, t);
    EXPECT_NEAR(l.item<double>(), r.value, 1e-12) << "t = " << t;
    EXPECT_TRUE(all_close(x.grad(), tensor(r.grad, {12, 5}), 1e-12, 1e-10)) << "t = " << t;
  }
}

TEST(UniformityLoss, NormalizeIsTheLossOfTheNormalisedEmbeddings) {
  const std::vector<std::int64_t> y = random_labels(10, 3, 5);
  const Tensor x = random_tensor({10, 4}, 13);
  const Tensor unit = l2_normalize(x, 1);
  EXPECT_NEAR(uniformity_loss(x, labels_of(y)).item<double>(), reference(unit, y, 2.0).value, 1e-12);
  // On unit vectors d^2 <= 4, so the loss lies in [-4t, 0].
  const double l = uniformity_loss(x, labels_of(y)).item<double>();
  EXPECT_LE(l, 0.0);
  EXPECT_GE(l, -8.0);
}

TEST(UniformityLoss, SpreadPointsScoreLowerThanClusteredOnes) {
  // Two classes at opposite poles vs. two classes a few degrees apart: the spread batch has the lower loss.
  const Tensor spread = tensor({1.0, 0.0, 1.0, 0.01, -1.0, 0.0, -1.0, 0.01}, {4, 2});
  const Tensor close = tensor({1.0, 0.0, 1.0, 0.01, 1.0, 0.1, 1.0, 0.11}, {4, 2});
  const Tensor y = labels_of({0, 0, 1, 1});
  EXPECT_LT(uniformity_loss(spread, y).item<double>(), uniformity_loss(close, y).item<double>() - 1.0);
}

TEST(UniformityLoss, Gradcheck) {
  const Tensor y = labels_of(random_labels(8, 3, 7));
  for (bool normalize : {true, false}) {
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& in) { return uniformity_loss(in[0], y, {.t = 2.0, .normalize = normalize}); },
        {random_tensor({8, 3}, 17)}))
        << "normalize = " << normalize;
  }
}

TEST(UniformityLoss, Float32AgreesWithFloat64) {
  const Tensor y = labels_of(random_labels(16, 4, 9));
  const Tensor x = random_tensor({16, 8}, 19);
  EXPECT_NEAR(uniformity_loss(x.to(kFloat32), y).item<double>(), uniformity_loss(x, y).item<double>(), 1e-5);
  EXPECT_EQ(uniformity_loss(x.to(kFloat32), y).dtype(), kFloat32);
}

TEST(UniformityLoss, OneClassIsZeroWithZeroGradient) {
  const Tensor x = random_tensor({5, 3}, 23).set_requires_grad(true);
  const Tensor l = uniformity_loss(x, labels_of({4, 4, 4, 4, 4}));
  l.backward();
  EXPECT_EQ(l.item<double>(), 0.0);
  EXPECT_TRUE(all_close(x.grad(), zeros_like(x), 0, 0));
}

TEST(UniformityLoss, BadInputsAreClearErrors) {
  const Tensor x = random_tensor({4, 3}, 29);
  const Tensor y = labels_of({0, 0, 1, 1});
  EXPECT_THROW_MSG(uniformity_loss(x.view({12}), y), "uniformity_loss: embeddings must be 2-d [B, D], got shape [12]");
  EXPECT_THROW_MSG(uniformity_loss(x, y.to(kFloat32)), "uniformity_loss: labels must be int64, got float32");
  EXPECT_THROW_MSG(uniformity_loss(x, labels_of({0, 1})), "uniformity_loss: expected labels of shape [4]");
  EXPECT_THROW_MSG(uniformity_loss(x.slice(0, 0, 1), y.slice(0, 0, 1)), "uniformity_loss: need a batch of at least 2");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[0] = NAN;
  EXPECT_THROW_MSG(uniformity_loss(bad, y), "uniformity_loss: embeddings contain NaN or infinity");
  EXPECT_THROW_MSG(uniformity_loss(x, y, {.t = 0.0}), "uniformity_loss: t must be a positive finite number, got 0");
  EXPECT_THROW_MSG(uniformity_loss(x, y, {.t = INFINITY}), "uniformity_loss: t must be a positive finite number");
}

TEST(UniformityLoss, AddsToAProxyLossAsItsHeaderShows) {
  // The usage line of uniformity.h: a regulariser next to a metric loss, one backward through both, whose gradient
  // is the sum of the two losses' own gradients.
  ProxyNCALoss proxy_nca(3, 4);
  const Tensor x0 = random_tensor({6, 4}, 31, 0.0, 0.0, kFloat32);
  const Tensor y = labels_of({0, 0, 1, 1, 2, 2});
  auto grad_of = [&](const std::function<Tensor(const Tensor&)>& f) {
    const Tensor x = x0.clone().set_requires_grad(true);
    f(x).backward();
    return x.grad();
  };
  const Tensor both = grad_of([&](const Tensor& x) { return proxy_nca(x, y) + 0.5 * uniformity_loss(x, y); });
  const Tensor proxy = grad_of([&](const Tensor& x) { return proxy_nca(x, y); });
  const Tensor unif = grad_of([&](const Tensor& x) { return uniformity_loss(x, y); });
  EXPECT_TRUE(all_close(both, proxy + 0.5 * unif, 1e-6, 1e-5));
  EXPECT_GT(sum(unif * unif).item<double>(), 0.0);
}
