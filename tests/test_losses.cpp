// Classification and regression losses (losses/classification.h): hand-computed values, the fused cross-entropy
// against its composition from primitive ops, gradchecks of every loss, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/losses/classification.h"
#include "trident/trident.h"

namespace trident {
namespace {

using testing::gradcheck;
using testing::random_tensor;

// Class indices as an int64 tensor.
Tensor labels(std::vector<std::int64_t> v) { return tensor(v); }

const Tensor kTarget3 = labels({2, 0, 1, 1});  // 4 samples, 3 classes

// ---- hand-computed values
// ---------------------------------------------------------------------------------------------

TEST(CrossEntropy, HandComputed) {
  // Row 0: softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6, target 2 -> -log(1/2). Row 1: uniform logits, target 0 -> log 3.
  const Tensor logits = tensor({0.0, std::log(2.0), std::log(3.0), 5.0, 5.0, 5.0}, {2, 3});
  const Tensor target = labels({2, 0});
  const double l0 = std::log(2.0), l1 = std::log(3.0);
  EXPECT_NEAR(cross_entropy(logits, target).item<double>(), (l0 + l1) / 2, 1e-15);
  EXPECT_NEAR(cross_entropy(logits, target, 0.0, Reduction::Sum).item<double>(), l0 + l1, 1e-15);
  const auto none = cross_entropy(logits, target, 0.0, Reduction::None);
  ASSERT_EQ(none.sizes(), (Shape{2}));
  EXPECT_NEAR(none.at<double>({0}), l0, 1e-15);
  EXPECT_NEAR(none.at<double>({1}), l1, 1e-15);
  // Label smoothing 0.3: q = 0.7 one_hot + 0.1; row 0: -(0.7 log(1/2) + 0.1 (log(1/6) + log(2/6) + log(3/6))).
  const double s0 = -(0.7 * std::log(0.5) + 0.1 * (std::log(1.0 / 6) + std::log(2.0 / 6) + std::log(3.0 / 6)));
  const double s1 = std::log(3.0);  // uniform p: every log p_c = -log 3 and q sums to 1
  EXPECT_NEAR(cross_entropy(logits, target, 0.3, Reduction::None).at<double>({0}), s0, 1e-15);
  EXPECT_NEAR(cross_entropy(logits, target, 0.3).item<double>(), (s0 + s1) / 2, 1e-15);
  // Backward of the mean: (p - one_hot) / N.
  const Tensor x = logits.clone().set_requires_grad(true);
  cross_entropy(x, target).backward();
  const auto g = x.grad().to_vector<double>();
  const std::vector<double> want = {1.0 / 12, 2.0 / 12, (3.0 / 6 - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-15) << i;
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  const Tensor logits = tensor({1000.0, 0.0, -1000.0, 0.0}, {2, 2});
  const Tensor target = labels({1, 0});
  const auto l = cross_entropy(logits, target, 0.0, Reduction::None).to_vector<double>();
  EXPECT_DOUBLE_EQ(l[0], 1000.0);
  EXPECT_DOUBLE_EQ(l[1], 1000.0);
  // float32 agrees with float64.
  const Tensor x = random_tensor({6, 4}, 3) * 10.0;
  const Tensor t = labels({0, 1, 2, 3, 3, 0});
  EXPECT_NEAR(cross_entropy(x.to(kFloat32), t, 0.1).item<double>(), cross_entropy(x, t, 0.1).item<double>(), 1e-5);
}

TEST(NllLoss, HandComputed) {
  const Tensor lp = tensor({-0.1, -2.0, -3.0, -0.5, -0.25, -4.0}, {2, 3});
  const Tensor target = labels({1, 0});
  EXPECT_DOUBLE_EQ(nll_loss(lp, target).item<double>(), (2.0 + 0.5) / 2);
  EXPECT_DOUBLE_EQ(nll_loss(lp, target, Reduction::Sum).item<double>(), 2.5);
  EXPECT_EQ(nll_loss(lp, target, Reduction::None).to_vector<double>(), (std::vector<double>{2.0, 0.5}));
  // nll_loss(log_softmax(x)) is cross_entropy(x).
  const Tensor x = random_tensor({5, 3}, 4);
  const Tensor t = labels({0, 2, 1, 1, 0});
  EXPECT_NEAR(nll_loss(log_softmax(x, 1), t).item<double>(), cross_entropy(x, t).item<double>(), 1e-15);
}

TEST(MseLoss, HandComputed) {
  const Tensor a = tensor({1.0, 2.0, 3.0, 4.0}, {2, 2}), b = tensor({1.5, 2.0, 1.0, 5.0}, {2, 2});
  EXPECT_DOUBLE_EQ(mse_loss(a, b).item<double>(), (0.25 + 0 + 4 + 1) / 4);
  EXPECT_DOUBLE_EQ(mse_loss(a, b, Reduction::Sum).item<double>(), 5.25);
  EXPECT_EQ(mse_loss(a, b, Reduction::None).to_vector<double>(), (std::vector<double>{0.25, 0, 4, 1}));
}

TEST(BinaryCrossEntropyWithLogits, HandComputedAndStable) {
  const Tensor x = tensor({0.0, 2.0, -1.0, 1000.0, -1000.0});
  const Tensor t = tensor({1.0, 0.25, 0.0, 0.0, 0.0});
  const auto l = binary_cross_entropy_with_logits(x, t, Reduction::None).to_vector<double>();
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  EXPECT_NEAR(l[0], std::log(2.0), 1e-15);
  EXPECT_NEAR(l[1], -(0.25 * std::log(sig(2)) + 0.75 * std::log(1 - sig(2))), 1e-15);
  EXPECT_NEAR(l[2], -std::log(1 - sig(-1)), 1e-15);
  EXPECT_DOUBLE_EQ(l[3], 1000.0);  // the naive form would give inf (log 0)
  EXPECT_DOUBLE_EQ(l[4], 0.0);
  EXPECT_NEAR(binary_cross_entropy_with_logits(x, t).item<double>(), (l[0] + l[1] + l[2] + l[3] + l[4]) / 5, 1e-12);
  // The gradient at the kink x = 0 is s(0) - t = -0.5, exactly.
  const Tensor xg = x.clone().set_requires_grad(true);
  binary_cross_entropy_with_logits(xg, t, Reduction::Sum).backward();
  const auto g = xg.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(g[0], -0.5);
  EXPECT_NEAR(g[1], sig(2) - 0.25, 1e-15);
  EXPECT_DOUBLE_EQ(g[3], 1.0);
  EXPECT_DOUBLE_EQ(g[4], 0.0);
}

// ---- the fused cross-entropy against its composition
// ------------------------------------------------------------------

// -(log_softmax(x) * q).sum(1), reduced, with q = (1 - s) one_hot(y) + s / C: the loss from primitive ops.
Tensor composed_cross_entropy(const Tensor& x, const Tensor& y, double s, Reduction reduction) {
  const std::int64_t classes = x.size(1);
  Tensor q = one_hot(y, classes, kFloat64) * (1.0 - s) + s / static_cast<double>(classes);
  const Tensor per_sample = -(log_softmax(x, 1) * q).sum({1});
  if (reduction == Reduction::Mean) return per_sample.mean();
  if (reduction == Reduction::Sum) return per_sample.sum();
  return per_sample;
}

::testing::AssertionResult relative_close(const Tensor& a, const Tensor& b, double rtol) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  if (x.size() != y.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= rtol * std::abs(y[i])))
      return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  return ::testing::AssertionSuccess();
}

TEST(CrossEntropy, FusedEqualsComposition) {
  const Tensor logits = random_tensor({16, 7}, 10) * 3.0;
  const Tensor target = randint(0, 7, {16}, {.dtype = kInt64}, nullptr);
  for (double s : {0.0, 0.1, 1.0}) {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      SCOPED_TRACE(fmt::format("smoothing {} reduction {}", s, static_cast<int>(r)));
      const Tensor a = logits.clone().set_requires_grad(true), b = logits.clone().set_requires_grad(true);
      const Tensor fused = cross_entropy(a, target, s, r), composed = composed_cross_entropy(b, target, s, r);
      EXPECT_TRUE(relative_close(fused, composed, 1e-12));
      const Tensor w = r == Reduction::None ? random_tensor({16}, 11) : ones({}, {.dtype = kFloat64});
      fused.backward(w);
      composed.backward(w);
      EXPECT_TRUE(relative_close(a.grad(), b.grad(), 1e-12));
      EXPECT_EQ(fused.grad_fn()->name(), "CrossEntropyBackward");  // one node, whatever the reduction
    }
  }
}

// ---- gradchecks
// -------------------------------------------------------------------------------------------------------

TEST(Losses, Gradcheck) {
  const Tensor logits = random_tensor({4, 3}, 20);
  for (double s : {0.0, 0.2}) {
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      EXPECT_TRUE(
          gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], kTarget3, s, r); }, {logits}));
    }
  }
  const Tensor log_probs = log_softmax(random_tensor({4, 3}, 21), 1);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], kTarget3, r); }, {log_probs}));
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); },
                          {random_tensor({2, 3}, 22), random_tensor({2, 3}, 23)}));
    // Logits away from 0 is not needed (the gradient is smooth); targets are probabilities.
    EXPECT_TRUE(
        gradcheck([&](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); },
                  {random_tensor({2, 3}, 24) * 3.0, random_tensor({2, 3}, 25, 0.0, 1.0)}));
  }
}

// ---- errors
// -----------------------------------------------------------------------------------------------------------

TEST(Losses, Errors) {
  const Tensor logits = random_tensor({32, 10}, 30);
  EXPECT_THROW_MSG(cross_entropy(logits, zeros({31}, {.dtype = kInt64})),
                   "cross_entropy: expected target of shape [32], got [31]");
  EXPECT_THROW_MSG(cross_entropy(logits, zeros({32, 1}, {.dtype = kInt64})),
                   "cross_entropy: expected target of shape [32], got [32, 1]");
  EXPECT_THROW_MSG(cross_entropy(logits, zeros({32})),
                   "cross_entropy: target must be int64 (class indices), got float32");
  EXPECT_THROW_MSG(cross_entropy(logits, full({32}, 10, {.dtype = kInt64})),
                   "cross_entropy: target value 10 is out of range [0, 10)");
  EXPECT_THROW_MSG(cross_entropy(logits, full({32}, -1, {.dtype = kInt64})),
                   "cross_entropy: target value -1 is out of range [0, 10)");
  EXPECT_THROW_MSG(cross_entropy(random_tensor({2, 3, 4}, 1), zeros({2}, {.dtype = kInt64})),
                   "cross_entropy: expected logits of shape [N, C], got [2, 3, 4]");
  EXPECT_THROW_MSG(cross_entropy(zeros({2, 3}, {.dtype = kInt64}), zeros({2}, {.dtype = kInt64})),
                   "cross_entropy: expected a floating tensor");
  EXPECT_THROW_MSG(cross_entropy(logits, zeros({32}, {.dtype = kInt64}), 1.5),
                   "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(nll_loss(logits, full({32}, 12, {.dtype = kInt64})),
                   "nll_loss: target value 12 is out of range [0, 10)");
  EXPECT_THROW_MSG(nll_loss(logits, zeros({3}, {.dtype = kInt64})), "nll_loss: expected target of shape [32], got [3]");
  EXPECT_THROW_MSG(mse_loss(random_tensor({3}, 1), random_tensor({4}, 2)),
                   "mse_loss: input shape [3] and target shape [4] differ");
  EXPECT_THROW_MSG(mse_loss(random_tensor({3}, 1), random_tensor({3}, 2, 0, 0, kFloat32)), "mse_loss: dtype mismatch");
  EXPECT_THROW_MSG(binary_cross_entropy_with_logits(random_tensor({2, 2}, 1), random_tensor({4}, 2)),
                   "binary_cross_entropy_with_logits: logits shape [2, 2] and target shape [4] differ");
}

// ---- CUDA (skipped without a device)
// ----------------------------------------------------------------------------------

TEST(LossesCuda, MatchCpuInValueAndGradient) {
  if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device";
  // The losses pick target entries with gather, which has no CUDA kernel yet: say so instead of failing.
  if (!kernels::gather.has(Device::cuda(0)))
    GTEST_SKIP() << "gather has no CUDA kernel yet (CUDA covers the core ops; index kernels come later)";
  const Device cuda = Device::cuda(0);
  const Tensor logits = random_tensor({6, 5}, 60), target = labels({0, 4, 2, 2, 1, 3});
  const Tensor probs = random_tensor({6, 5}, 61, 0.0, 1.0);
  using Loss = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<Loss, Tensor>> cases = {
      {[](const Tensor& x, const Tensor& t) { return cross_entropy(x, t, 0.1); }, target},
      {[](const Tensor& x, const Tensor& t) { return cross_entropy(x, t, 0.0, Reduction::None).sum(); }, target},
      {[](const Tensor& x, const Tensor& t) { return nll_loss(log_softmax(x, 1), t); }, target},
      {[](const Tensor& x, const Tensor& t) { return mse_loss(x, t); }, probs},
      {[](const Tensor& x, const Tensor& t) { return binary_cross_entropy_with_logits(x, t); }, probs},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Tensor a = logits.clone().set_requires_grad(true), b = logits.to(cuda).set_requires_grad(true);
    const Tensor la = cases[k].first(a, cases[k].second), lb = cases[k].first(b, cases[k].second.to(cuda));
    EXPECT_NEAR(lb.item<double>(), la.item<double>(), 1e-12 * std::abs(la.item<double>())) << k;
    la.backward();
    lb.backward();
    EXPECT_TRUE(relative_close(b.grad().cpu(), a.grad(), 1e-10)) << k;
  }
  EXPECT_THROW_MSG(cross_entropy(logits.to(cuda), full({6}, 5, {.dtype = kInt64}).to(cuda)),
                   "cross_entropy: target value 5 is out of range [0, 5)");
}

}  // namespace
}  // namespace trident
