// gelu and leaky_relu (ops/activation.h): values against PyTorch 1.13, gradients (float64 gradcheck and hand values),
// and the CPU activation kernels against the naive reference (backends/reference/activation.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/activation.h"
#include "trident/trident.h"

namespace trident {
namespace {

using kernels::ActivationOp;
using testing::gradcheck;
using testing::random_tensor;

const std::vector<double> kInputs = {-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0};

// ---- values -----------------------------------------------------------------------------------------------------

TEST(Gelu, MatchesPyTorch) {
  // torch.nn.functional.gelu(x) (approximate='none'), float64.
  const std::vector<double> expected = {-0.00404969409489031, -0.15865525393145702, -0.15426876936299344, 0.0,
                                        0.34573123063700656,  0.841344746068543,    1.9544997361036416};
  const auto y = gelu(tensor(kInputs)).to_vector<double>();
  ASSERT_EQ(y.size(), expected.size());
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-15) << "x = " << kInputs[i];
  // float32: within a few ulp of the float64 value.
  const auto yf = gelu(tensor(kInputs).to(kFloat32)).to_vector<float>();
  for (std::size_t i = 0; i < yf.size(); ++i)
    EXPECT_NEAR(yf[i], expected[i], 4 * std::numeric_limits<float>::epsilon() * std::max(1.0, std::abs(expected[i])));
  // Far tails: x for large x, 0 (not NaN) for very negative x.
  const auto tails = gelu(tensor({-40.0, 40.0})).to_vector<double>();
  EXPECT_EQ(tails[0], -0.0);
  EXPECT_EQ(tails[1], 40.0);
}

TEST(LeakyRelu, MatchesPyTorch) {
  // torch.nn.functional.leaky_relu(x, 0.2)
  const std::vector<double> expected = {-0.6000000000000001, -0.2, -0.1, 0.0, 0.5, 1.0, 2.0};
  const auto y = leaky_relu(tensor(kInputs), 0.2).to_vector<double>();
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_DOUBLE_EQ(y[i], expected[i]);
  // The default slope is 0.01.
  EXPECT_FLOAT_EQ(leaky_relu(tensor({-2.f})).item<float>(), -0.02f);
}

TEST(Activation, NaNPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(gelu(tensor({nan})).item<double>()));
  EXPECT_TRUE(std::isnan(leaky_relu(tensor({nan}), 0.1).item<double>()));
  EXPECT_TRUE(std::isnan(gelu(tensor({float(nan)})).item<float>()));
}

TEST(Activation, ShapesAndEmptyTensors) {
  EXPECT_EQ(gelu(zeros({0, 3})).sizes(), (Shape{0, 3}));
  EXPECT_EQ(leaky_relu(zeros({2, 0})).sizes(), (Shape{2, 0}));
  EXPECT_EQ(gelu(scalar_tensor(1.0, {.dtype = kFloat64})).dim(), 0);
  EXPECT_NEAR(gelu(scalar_tensor(1.0, {.dtype = kFloat64})).item<double>(), 0.841344746068543, 1e-15);
}

TEST(Activation, StridedInput) {
  // A transposed (non-contiguous) view gives the same values as its contiguous copy.
  const Tensor x = random_tensor({6, 5}, 3).t();
  EXPECT_EQ(gelu(x).to_vector<double>(), gelu(x.contiguous()).to_vector<double>());
  EXPECT_EQ(leaky_relu(x, 0.3).to_vector<double>(), leaky_relu(x.contiguous(), 0.3).to_vector<double>());
}

TEST(Activation, Errors) {
  EXPECT_THROW_MSG(gelu(tensor({std::int64_t{1}})), "gelu: expected a floating tensor");
  EXPECT_THROW_MSG(leaky_relu(tensor({true})), "leaky_relu: expected a floating tensor");
  EXPECT_THROW_MSG(gelu(Tensor()), "gelu: input is an undefined tensor");
}

// ---- gradients --------------------------------------------------------------------------------------------------

TEST(Gelu, GradientMatchesPyTorch) {
  // x.grad after torch.nn.functional.gelu(x).sum().backward()
  const std::vector<double> expected = {-0.01194564720418392, -0.08331547058768635, 0.13250487534383712, 0.5,
                                        0.8674951246561629,   1.0833154705876864,   1.085231801078197};
  Tensor x = tensor(kInputs).set_requires_grad(true);
  gelu(x).sum().backward();
  const auto g = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], expected[i], 1e-15) << "x = " << kInputs[i];
  EXPECT_EQ(gelu(x).grad_fn()->name(), "GeluBackward");
}

TEST(LeakyRelu, GradientIsSlopeAtZeroAndBelow) {
  // PyTorch: 0.2 for x <= 0 (the slope at 0 too), 1 for x > 0.
  Tensor x = tensor(kInputs).set_requires_grad(true);
  leaky_relu(x, 0.2).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.2, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0}));
  EXPECT_EQ(leaky_relu(x, 0.2).grad_fn()->name(), "LeakyReluBackward");
}

TEST(Gelu, Gradcheck) {
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return gelu(in[0]); }, {random_tensor({4, 5}, 11) * 2.0}));
  // Through a strided view.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return gelu(in[0].t()); }, {random_tensor({3, 4}, 12)}));
}

TEST(LeakyRelu, Gradcheck) {
  // Inputs kept away from the kink at 0, where the finite difference straddles two slopes.
  Tensor x = random_tensor({4, 5}, 13);
  x = where(x.abs().lt(0.05), x + 0.1, x);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.1); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return leaky_relu(in[0], -0.5); }, {x}));
}

// ---- CPU kernels against the reference ------------------------------------------------------------------------------

void expect_close(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  ASSERT_EQ(va.size(), vb.size());
  for (std::size_t i = 0; i < va.size(); ++i)
    ASSERT_LE(std::abs(va[i] - vb[i]), atol + rtol * std::abs(vb[i])) << "element " << i;
}

TEST(ActivationKernel, MatchesReference) {
  // Large enough for the threaded loop; both dtypes; forward and backward.
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor x = random_tensor({300, 257}, 21, -6.0, 6.0, dtype);
    const Tensor g = random_tensor({300, 257}, 22, -1.0, 1.0, dtype);
    const double rtol = dtype == kFloat32 ? 1e-6 : 1e-14;
    const double atol = dtype == kFloat32 ? 1e-7 : 1e-15;
    for (auto [op, arg] : {std::pair{ActivationOp::Gelu, 0.0}, std::pair{ActivationOp::LeakyRelu, 0.07}}) {
      Tensor out = empty_like(x), ref = empty_like(x);
      kernels::activation(kCPU, op, x, out, arg);
      reference::activation(op, x, ref, arg);
      expect_close(out, ref, rtol, atol);
      Tensor gin = empty_like(x), gref = empty_like(x);
      kernels::activation_backward(kCPU, op, g, x, gin, arg);
      reference::activation_backward(op, g, x, gref, arg);
      expect_close(gin, gref, rtol, atol);
    }
  }
}

TEST(ActivationKernel, StridedOperandsMatchReference) {
  // in and grad_out as transposed views, stride-0 broadcast grad_out.
  const Tensor x = random_tensor({40, 30}, 31).t();
  const Tensor g = random_tensor({30}, 32).unsqueeze(1).expand({30, 40});
  Tensor out = empty({30, 40}, {.dtype = kFloat64}), ref = empty({30, 40}, {.dtype = kFloat64});
  kernels::activation_backward(kCPU, ActivationOp::Gelu, g, x, out, 0.0);
  reference::activation_backward(ActivationOp::Gelu, g, x, ref, 0.0);
  expect_close(out, ref, 1e-14, 1e-15);
}

}  // namespace
}  // namespace trident
