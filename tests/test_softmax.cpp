// softmax and log_softmax (ops/softmax.h), the CPU softmax kernels against the naive reference
// (backends/reference/softmax.h), and the vectorised exp they use (vec_exp in backends/cpu/vec_math.h).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "gradcheck.h"
#include "trident/backends/cpu/vec_math.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/softmax.h"
#include "trident/trident.h"

namespace trident {
namespace {

using testing::gradcheck;
using testing::random_tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- forward against hand-computed values -------------------------------------------------------------------------

TEST(Softmax, HandComputed) {
  // softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
  const Tensor x = tensor({0.0, std::log(2.0), std::log(3.0)});
  const auto y = x.softmax(0).to_vector<double>();
  EXPECT_NEAR(y[0], 1.0 / 6, 1e-15);
  EXPECT_NEAR(y[1], 2.0 / 6, 1e-15);
  EXPECT_NEAR(y[2], 3.0 / 6, 1e-15);
  const auto l = x.log_softmax(-1).to_vector<double>();
  EXPECT_NEAR(l[0], std::log(1.0 / 6), 1e-15);
  EXPECT_NEAR(l[1], std::log(2.0 / 6), 1e-15);
  EXPECT_NEAR(l[2], std::log(3.0 / 6), 1e-15);
  // Along dim 0 of a matrix: each column is normalised.
  const Tensor m = tensor({0.0, 1.0, 0.0, 1.0}, {2, 2});
  const auto c = softmax(m, 0).to_vector<double>();
  EXPECT_NEAR(c[0], 0.5, 1e-15);
  EXPECT_NEAR(c[1], 0.5, 1e-15);
  const auto r = softmax(m, 1).to_vector<double>();
  EXPECT_NEAR(r[0], 1.0 / (1.0 + std::exp(1.0)), 1e-15);
  EXPECT_NEAR(r[1], std::exp(1.0) / (1.0 + std::exp(1.0)), 1e-15);
  // float32
  const auto f = tensor({0.f, std::log(3.f)}).softmax(0).to_vector<float>();
  EXPECT_NEAR(f[0], 0.25f, 1e-7f);
  EXPECT_NEAR(f[1], 0.75f, 1e-7f);
  // A 0-d tensor is a one-element distribution.
  EXPECT_DOUBLE_EQ(scalar_tensor(5.0, {.dtype = kFloat64}).softmax(0).item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(scalar_tensor(5.0, {.dtype = kFloat64}).log_softmax(-1).item<double>(), 0.0);
  // Empty tensors stay empty.
  EXPECT_EQ(zeros({0, 3}).softmax(1).sizes(), (Shape{0, 3}));
  EXPECT_EQ(zeros({3, 0}).log_softmax(1).sizes(), (Shape{3, 0}));
}

TEST(Softmax, RowsSumToOne) {
  const Tensor x = random_tensor({5, 7, 9}, 1) * 5.0;
  for (std::int64_t d = 0; d < 3; ++d) {
    const auto s = x.softmax(d).sum({d}).to_vector<double>();
    for (double v : s) EXPECT_NEAR(v, 1.0, 1e-14) << "dim " << d;
  }
}

TEST(Softmax, MinusInfinityEntries) {
  // -inf entries get probability 0 (log-probability -inf); the others share the mass.
  const Tensor x = tensor({-kInf, 0.0, 0.0, 1.0, -kInf, 1.0}, {2, 3});
  const auto y = x.softmax(1).to_vector<double>();
  EXPECT_EQ(y[0], 0.0);
  EXPECT_NEAR(y[1], 0.5, 1e-15);
  EXPECT_NEAR(y[2], 0.5, 1e-15);
  EXPECT_NEAR(y[3], 0.5, 1e-15);
  EXPECT_EQ(y[4], 0.0);
  const auto l = x.log_softmax(1).to_vector<double>();
  EXPECT_EQ(l[0], -kInf);
  EXPECT_NEAR(l[1], std::log(0.5), 1e-15);
  EXPECT_EQ(l[4], -kInf);
  // The same along a strided dim, in float32, on a long (vectorised) row.
  Tensor f = zeros({1000, 2});
  {
    NoGradGuard g;
    f.slice(0, 0, 500).fill_(-kInf);
  }
  const auto fy = f.softmax(0).to_vector<float>();
  EXPECT_EQ(fy[0], 0.f);
  EXPECT_NEAR(fy[2 * 999], 1.f / 500, 1e-9f);
  // The gradient is finite: y = 0 there (softmax), exp(y) = 0 there (log_softmax).
  Tensor xs = x.detach().set_requires_grad();
  xs.softmax(1).backward(tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}));
  for (double v : xs.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(xs.grad().at<double>({0, 0}), 0.0);
  Tensor xl = x.detach().set_requires_grad();
  xl.log_softmax(1).backward(ones({2, 3}, {.dtype = kFloat64}));
  for (double v : xl.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Softmax, LargeInputsDoNotOverflow) {
  // exp(1000) overflows: the max is subtracted first.
  const Tensor x = tensor({1000.0, 1000.0, 999.0});
  const double z = 2.0 + std::exp(-1.0);
  const auto y = x.softmax(0).to_vector<double>();
  EXPECT_NEAR(y[0], 1.0 / z, 1e-15);
  EXPECT_NEAR(y[2], std::exp(-1.0) / z, 1e-15);
  const auto l = x.log_softmax(0).to_vector<double>();
  EXPECT_NEAR(l[0], -std::log(z), 1e-13);
  EXPECT_NEAR(l[2], -1.0 - std::log(z), 1e-13);
  const auto f = tensor({1000.f, 1000.f}).softmax(0).to_vector<float>();
  EXPECT_FLOAT_EQ(f[0], 0.5f);
  const auto lf = tensor({-1000.f, 0.f}).log_softmax(0).to_vector<float>();
  EXPECT_FLOAT_EQ(lf[0], -1000.f);
  EXPECT_FLOAT_EQ(lf[1], 0.f);
  // Large inputs along a column layout, float32.
  Tensor c = full({3, 40}, 1000.0);
  const auto cy = c.softmax(0).to_vector<float>();
  for (float v : cy) EXPECT_NEAR(v, 1.f / 3, 1e-7f);
}

TEST(Softmax, Errors) {
  EXPECT_THROW_MSG(tensor({1L, 2L}).softmax(0), "softmax: expected a floating tensor (float32 or float64), got int64");
  EXPECT_THROW_MSG(tensor({true}).log_softmax(0), "log_softmax: expected a floating tensor");
  EXPECT_THROW_MSG(zeros({2, 3}).softmax(2), "softmax: dim 2 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(zeros({2, 3}).log_softmax(-3), "log_softmax: dim -3 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(scalar_tensor(1.0).softmax(1), "softmax: dim 1 out of range");
}

// ---- the kernels against the reference -----------------------------------------------------------------------------

// Views of a base tensor that exercise the rows loop, the columns loop and the copy for other layouts.
std::vector<std::pair<std::string, Tensor>> layouts(const Tensor& base3d) {
  return {
      {"contiguous", base3d},
      {"transpose(0,2)", base3d.transpose(0, 2)},
      {"transpose(1,2)", base3d.transpose(1, 2)},
      {"permute(1,2,0)", base3d.permute({1, 2, 0})},
      {"slice step 2", base3d.slice(2, 0, base3d.size(2), 2)},
      {"slice rows", base3d.slice(1, 1, base3d.size(1))},
      {"expanded", base3d.slice(0, 0, 1).expand({3, base3d.size(1), base3d.size(2)})},
  };
}

// The largest finite |value| of t.
double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>())
    if (std::isfinite(v)) m = std::max(m, std::abs(v));
  return m;
}

// got matches want within `ulps` units of roundoff of the computation's scale: a float softmax computes
// x - (m + log s), whose absolute error is a few ulps of max |x| whatever the size of the result, and the backward
// sums D terms of the incoming gradient. NaN and infinities must match exactly.
void expect_close(const Tensor& got, const Tensor& want, double scale, double ulps, const std::string& what) {
  const double eps =
      got.dtype() == kFloat32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " [" << i << "]";
    } else if (std::isinf(w[i])) {
      EXPECT_EQ(g[i], w[i]) << what << " [" << i << "]";
    } else {
      EXPECT_NEAR(g[i], w[i], ulps * eps * (1.0 + std::abs(w[i]) + scale)) << what << " [" << i << "]";
    }
  }
}

TEST(SoftmaxKernel, MatchesReferenceOnStridedLayouts) {
  std::uint32_t seed = 100;
  for (const Shape& shape : {Shape{2, 3, 5}, Shape{4, 33, 17}, Shape{3, 150, 40}, Shape{2, 5, 1000}}) {
    for (DType dt : {kFloat32, kFloat64}) {
      const Tensor base = (random_tensor(shape, seed++) * 4.0).to(dt);
      for (const auto& [name, x] : layouts(base)) {
        for (std::int64_t dim = 0; dim < 3; ++dim) {
          for (bool log : {false, true}) {
            const std::string what =
                fmt::format("{} {} {} dim {} log {}", shape_str(shape), dtype_name(dt), name, dim, log);
            Tensor got = empty(x.sizes(), {.dtype = dt}), want = empty(x.sizes(), {.dtype = dt});
            kernels::softmax(kCPU, x, got, dim, log);
            reference::softmax(x, want, dim, log);
            expect_close(got, want, max_abs(x), 8, "forward " + what);
            // Backward from the forward's output, with a strided incoming gradient.
            Shape wide = x.sizes();
            wide.back() *= 2;
            const Tensor g = random_tensor(wide, seed++).to(dt).slice(-1, 0, wide.back(), 2);
            Tensor gx = empty(x.sizes(), {.dtype = dt}), gx_ref = empty(x.sizes(), {.dtype = dt});
            kernels::softmax_backward(kCPU, g, want, gx, dim, log);
            reference::softmax_backward(g, want, gx_ref, dim, log);
            expect_close(gx, gx_ref, max_abs(g) * std::sqrt(static_cast<double>(x.size(dim))), 8, "backward " + what);
          }
        }
      }
    }
  }
}

TEST(SoftmaxKernel, MatchesReferenceWithSpecialValues) {
  // -inf, +inf, NaN and all -inf rows, on the rows and columns loops; the kernel contract says what each gives.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = random_tensor({6, 40}, 7);
  {
    NoGradGuard g;
    x.slice(0, 0, 1).slice(1, 3, 9).fill_(-kInf);
    x.slice(0, 1, 2).fill_(-kInf);
    x.slice(0, 2, 3).slice(1, 5, 6).fill_(kInf);
    x.slice(0, 3, 4).slice(1, 39, 40).fill_(nan);
    x.slice(0, 4, 5).fill_(1000.0);
  }
  for (const Tensor& v : {x, x.to(kFloat32)}) {
    for (std::int64_t dim : {0, 1}) {
      for (bool log : {false, true}) {
        Tensor got = empty(v.sizes(), {.dtype = v.dtype()}), want = empty(v.sizes(), {.dtype = v.dtype()});
        kernels::softmax(kCPU, v, got, dim, log);
        reference::softmax(v, want, dim, log);
        expect_close(got, want, max_abs(v), 8,
                     fmt::format("special {} dim {} log {}", dtype_name(v.dtype()), dim, log));
      }
    }
  }
}

TEST(SoftmaxKernel, LargeTensorsUseThreadsAndMatch) {
  // Above the parallel grain, both loops.
  const Tensor x = (random_tensor({300, 257}, 9) * 10.0).to(kFloat32);
  for (std::int64_t dim : {0, 1}) {
    Tensor got = empty(x.sizes()), want = empty(x.sizes());
    kernels::softmax(kCPU, x, got, dim, false);
    reference::softmax(x, want, dim, false);
    expect_close(got, want, max_abs(x), 8, fmt::format("large dim {}", dim));
  }
}

// ---- gradients ------------------------------------------------------------------------------------------------------

TEST(SoftmaxGrad, Gradcheck) {
  const Tensor x = random_tensor({3, 4, 5}, 31);
  for (std::int64_t dim : {0, 1, 2, -1}) {
    EXPECT_TRUE(gradcheck([dim](const std::vector<Tensor>& v) { return v[0].softmax(dim); }, {x})) << dim;
    EXPECT_TRUE(gradcheck([dim](const std::vector<Tensor>& v) { return v[0].log_softmax(dim); }, {x})) << dim;
  }
  // Through a non-contiguous view, and with large values.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].transpose(0, 2).softmax(1); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return (v[0] * 50.0).log_softmax(2); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].softmax(1).transpose(0, 1); }, {x}));
}

TEST(SoftmaxGrad, MatchesTheComposedFormula) {
  // log_softmax(x) = x - logsumexp(x): the two graphs must give the same gradient.
  const Tensor x0 = random_tensor({4, 6}, 32);
  const Tensor g = random_tensor({4, 6}, 33);
  Tensor a = x0.detach().clone().set_requires_grad();
  a.log_softmax(1).backward(g);
  Tensor b = x0.detach().clone().set_requires_grad();
  (b - b.logsumexp({1}, true)).backward(g);
  const auto ga = a.grad().to_vector<double>(), gb = b.grad().to_vector<double>();
  for (std::size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-14);
}

TEST(SoftmaxGrad, SavesTheOutput) {
  // The node keeps the output: overwriting it in place before backward is caught.
  Tensor x = random_tensor({2, 3}, 34).set_requires_grad();
  Tensor y = x.softmax(1);
  {
    NoGradGuard g;
    y.mul_(2.0);
  }
  EXPECT_THROW_MSG(y.backward(ones({2, 3}, {.dtype = kFloat64})), "modified by an in-place");
  EXPECT_EQ(x.softmax(1).grad_fn()->name(), "SoftmaxBackward");
  EXPECT_EQ(x.log_softmax(1).grad_fn()->name(), "LogSoftmaxBackward");
}

// ---- the vectorised exp ---------------------------------------------------------------------------------------------

TEST(VectorizedExp, AccurateOverTheWholeRange) {
  // Compared with the float64 exp rounded: within 2 float ulps, and 4 double ulps.
  for (float x = -87.0f; x <= 88.5f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    const float got = cpu::vec_exp(x);
    const float wf = static_cast<float>(want);
    const double ulp = std::nextafter(wf, std::numeric_limits<float>::infinity()) - wf;
    EXPECT_LE(std::abs(got - want), 2.0 * ulp) << "x = " << x;
  }
  for (double x = -700.0; x <= 709.0; x += 0.0731) {
    const long double want = std::exp(static_cast<long double>(x));
    const double got = cpu::vec_exp(x);
    const double ulp = std::nextafter(static_cast<double>(want), kInf) - static_cast<double>(want);
    EXPECT_LE(std::abs(static_cast<long double>(got) - want), 4.0L * ulp) << "x = " << x;
  }
  // The edges: exact 1 at 0, 0 below the underflow threshold, inf above overflow, NaN stays NaN.
  EXPECT_EQ(cpu::vec_exp(0.0f), 1.0f);
  EXPECT_EQ(cpu::vec_exp(0.0), 1.0);
  EXPECT_EQ(cpu::vec_exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(cpu::vec_exp(-kInf), 0.0);
  EXPECT_EQ(cpu::vec_exp(-110.0f), 0.0f);
  EXPECT_EQ(cpu::vec_exp(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(cpu::vec_exp(710.0), kInf);
  EXPECT_NEAR(cpu::vec_exp(88.7f), std::exp(88.7f), 2e-7 * std::exp(88.7f));  // just below overflow
  EXPECT_TRUE(std::isnan(cpu::vec_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(cpu::vec_exp(std::numeric_limits<double>::quiet_NaN())));
}

}  // namespace
}  // namespace trident
