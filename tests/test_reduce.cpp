// Reductions: sum, mean, max, min, argmax, argmin, logsumexp (ops/reduce.h) and the CPU reduce kernel against the
// naive reference (backends/reference/reduce.h).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/reduce.h"
#include "trident/trident.h"

namespace trident {
namespace {

using kernels::ReduceOp;
using testing::gradcheck;
using testing::random_tensor;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- forward against hand-computed values -------------------------------------------------------------------------

TEST(Reduce, MaxMinHandComputed) {
  const Tensor a = tensor({3.0, -1.0, 7.0, 2.0, 5.0, -4.0}, {2, 3});
  EXPECT_DOUBLE_EQ(a.max().item<double>(), 7.0);
  EXPECT_DOUBLE_EQ(a.min().item<double>(), -4.0);
  EXPECT_EQ(a.max().dim(), 0);
  EXPECT_EQ(a.max({0}).to_vector<double>(), (std::vector<double>{3, 5, 7}));
  EXPECT_EQ(a.max({1}).to_vector<double>(), (std::vector<double>{7, 5}));
  EXPECT_EQ(a.min({-1}).to_vector<double>(), (std::vector<double>{-1, -4}));
  EXPECT_EQ(a.min({0}, true).sizes(), (Shape{1, 3}));
  EXPECT_EQ(a.min({0}, true).to_vector<double>(), (std::vector<double>{2, -1, -4}));
  EXPECT_EQ(a.max({0, 1}, true).sizes(), (Shape{1, 1}));
  EXPECT_EQ(a.t().max({1}).to_vector<double>(), (std::vector<double>{3, 5, 7}));  // a view
  EXPECT_EQ(max(a, {1}).to_vector<double>(), (std::vector<double>{7, 5}));
  // int64 keeps its dtype
  const Tensor i = tensor({4L, -9L, 2L}, {3});
  EXPECT_EQ(i.max().dtype(), kInt64);
  EXPECT_EQ(i.max().item<std::int64_t>(), 4);
  EXPECT_EQ(i.min().item<std::int64_t>(), -9);
  // float32
  EXPECT_FLOAT_EQ(tensor({1.5f, -2.5f}).max().item<float>(), 1.5f);
}

TEST(Reduce, ArgmaxArgminHandComputed) {
  const Tensor a = tensor({3.0, -1.0, 7.0, 2.0, 5.0, -4.0}, {2, 3});
  const Tensor am = a.argmax(1);
  EXPECT_EQ(am.dtype(), kInt64);
  EXPECT_EQ(am.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(a.argmax(0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 0}));
  EXPECT_EQ(a.argmin(1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(a.argmin(-2, true).sizes(), (Shape{1, 3}));
  EXPECT_EQ(a.argmin(-2, true).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_EQ(argmax(a.t(), 0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(tensor({5L, 9L, 9L}).argmax(0).item<std::int64_t>(), 1);
  EXPECT_EQ(tensor({false, true, true}).argmax(0).item<std::int64_t>(), 1);
  EXPECT_EQ(scalar_tensor(2.0).argmax(0).item<std::int64_t>(), 0);
}

TEST(Reduce, ArgmaxTiesGiveTheFirstIndex) {
  EXPECT_EQ(tensor({1.0, 4.0, 4.0, 0.0, 4.0}).argmax(0).item<std::int64_t>(), 1);
  EXPECT_EQ(tensor({2.0, 0.0, 3.0, 0.0}).argmin(0).item<std::int64_t>(), 1);
  EXPECT_EQ(zeros({7}).argmax(0).item<std::int64_t>(), 0);
  EXPECT_EQ(full({3}, -kInf).argmax(0).item<std::int64_t>(), 0);
  // Long rows exercise the vectorised search and the chunked (multi-threaded) path.
  Tensor big = zeros({100000});
  EXPECT_EQ(big.argmax(0).item<std::int64_t>(), 0);
  {
    NoGradGuard g;
    big.slice(0, 70000, 70001).fill_(1.0);
    big.slice(0, 90000, 90001).fill_(1.0);
  }
  EXPECT_EQ(big.argmax(0).item<std::int64_t>(), 70000);
  // Ties along a column layout (reduced dim strided, kept dim contiguous).
  Tensor cols = tensor({1.0, 5.0, 5.0, 2.0, 5.0, 5.0}, {3, 2});
  EXPECT_EQ(cols.argmax(0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0}));
}

TEST(Reduce, NaNPropagates) {
  const Tensor a = tensor({1.0, kNaN, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  EXPECT_TRUE(std::isnan(a.max().item<double>()));
  EXPECT_TRUE(std::isnan(a.min().item<double>()));
  const auto rows = a.max({1}).to_vector<double>();
  EXPECT_TRUE(std::isnan(rows[0]));
  EXPECT_EQ(rows[1], 6.0);
  const auto cols = a.min({0}).to_vector<double>();
  EXPECT_EQ(cols[0], 1.0);
  EXPECT_TRUE(std::isnan(cols[1]));
  // argmax/argmin point at the first NaN (a NaN counts as the extremum)
  EXPECT_EQ(tensor({1.0, kNaN, 9.0, kNaN}).argmax(0).item<std::int64_t>(), 1);
  EXPECT_EQ(tensor({1.0, kNaN, -9.0}).argmin(0).item<std::int64_t>(), 1);
  // NaN last in a long (vectorised) float32 row
  Tensor f = zeros({1000});
  {
    NoGradGuard g;
    f.slice(0, 999, 1000).fill_(kNaN);
  }
  EXPECT_TRUE(std::isnan(f.max().item<float>()));
  EXPECT_EQ(f.argmax(0).item<std::int64_t>(), 999);
}

TEST(Reduce, LogsumexpHandComputed) {
  const Tensor a = tensor({0.0, std::log(2.0), std::log(3.0), std::log(4.0)}, {2, 2});
  EXPECT_NEAR(a.logsumexp({0, 1}).item<double>(), std::log(10.0), 1e-15);
  EXPECT_NEAR(a.logsumexp({}).item<double>(), std::log(10.0), 1e-15);
  const auto rows = a.logsumexp({1}).to_vector<double>();
  EXPECT_NEAR(rows[0], std::log(3.0), 1e-15);
  EXPECT_NEAR(rows[1], std::log(7.0), 1e-15);
  EXPECT_EQ(a.logsumexp({1}, true).sizes(), (Shape{2, 1}));
  EXPECT_NEAR(logsumexp(a, {0}).to_vector<double>()[1], std::log(6.0), 1e-15);
}

TEST(Reduce, LogsumexpIsStable) {
  // Large inputs: exp(1000) overflows, the shifted form does not.
  const Tensor big = tensor({1000.0, 1000.0}, {2});
  EXPECT_NEAR(big.logsumexp({0}).item<double>(), 1000.0 + std::log(2.0), 1e-12);
  EXPECT_NEAR(tensor({1000.f, 1000.f}).logsumexp({0}).item<float>(), 1000.f + std::log(2.f), 1e-3);
  EXPECT_NEAR(tensor({-1000.0, -1000.0}).logsumexp({0}).item<double>(), -1000.0 + std::log(2.0), 1e-12);
  // -inf entries contribute nothing; an all -inf row gives -inf, not NaN.
  const Tensor m = tensor({-kInf, 0.0, -kInf, -kInf}, {2, 2});
  const auto r = m.logsumexp({1}).to_vector<double>();
  EXPECT_DOUBLE_EQ(r[0], 0.0);
  EXPECT_EQ(r[1], -kInf);
  EXPECT_EQ(tensor({kInf, 1.0}).logsumexp({0}).item<double>(), kInf);
  // The empty sum: log(0) = -inf
  EXPECT_EQ(zeros({0}, {.dtype = kFloat64}).logsumexp({0}).item<double>(), -kInf);
  EXPECT_EQ(zeros({3, 0}, {.dtype = kFloat64}).logsumexp({1}).to_vector<double>(),
            (std::vector<double>{-kInf, -kInf, -kInf}));
  EXPECT_EQ(zeros({0, 3}, {.dtype = kFloat64}).logsumexp({1}).sizes(), (Shape{0}));
}

TEST(Reduce, EmptyInputs) {
  const Tensor e = zeros({0, 3}, {.dtype = kFloat64});
  EXPECT_TRUE(std::isnan(e.mean().item<double>()));
  const auto cols = e.mean({0}).to_vector<double>();
  ASSERT_EQ(cols.size(), 3u);
  for (double v : cols) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(e.mean({1}).sizes(), (Shape{0}));
  EXPECT_EQ(e.sum().item<double>(), 0.0);
  EXPECT_EQ(e.sum({0}).to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_THROW_MSG(e.max(), "max: cannot reduce over zero elements (input shape [0, 3], reduced dims [0, 1])");
  EXPECT_THROW_MSG(e.min({0}), "min: cannot reduce over zero elements (input shape [0, 3], reduced dims [0])");
  EXPECT_THROW_MSG(e.argmax(0), "argmax: cannot reduce over zero elements");
  EXPECT_THROW_MSG(e.argmin(0), "argmin: cannot reduce over zero elements");
  // Reducing a non-empty dim of an empty tensor is fine: the result is empty.
  EXPECT_EQ(e.max({1}).sizes(), (Shape{0}));
  EXPECT_EQ(e.argmax(1).sizes(), (Shape{0}));
}

TEST(Reduce, Errors) {
  const Tensor b = tensor({true, false});
  EXPECT_THROW_MSG(b.max(), "max: not defined for bool tensors");
  EXPECT_THROW_MSG(b.min({0}), "min: not defined for bool tensors");
  // The kernel refuses too (a clear error, not a silent sum).
  Tensor out = empty({1}, {.dtype = kBool});
  EXPECT_THROW_MSG(kernels::reduce(kCPU, ReduceOp::Max, b, out), "reduce: max/min are not defined for bool tensors");
  const Tensor a = random_tensor({2, 3}, 1);
  EXPECT_THROW_MSG(a.max({2}), "max: dim 2 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(a.min({0, -2}), "min: dim -2 appears more than once");
  EXPECT_THROW_MSG(a.argmax(3), "argmax: dim 3 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(tensor({1L, 2L}).logsumexp({0}),
                   "logsumexp: expected a floating tensor (float32 or float64), got "
                   "int64");
  EXPECT_THROW_MSG(tensor({1L, 2L}).mean(), "mean: expected a floating tensor");
}

TEST(Reduce, Float32SumsAccumulateInFloat64) {
  // 2^24 + 1 is not a float: a float accumulator would stop growing at 2^24.
  Tensor x = ones({(1 << 24) + 64});
  EXPECT_EQ(x.sum().item<float>(), static_cast<float>((1 << 24) + 64));
  // Many values of mixed magnitude: compare with a float64 sum of the same (float) values.
  Tensor r = random_tensor({3000, 1001}, 7).to(kFloat32);
  const auto v = r.to_vector<float>();
  double exact = 0, abs_sum = 0;
  for (float f : v) {
    exact += f;
    abs_sum += std::abs(f);
  }
  EXPECT_NEAR(r.sum().item<float>(), exact, 4e-7 * abs_sum);
  const auto rows = r.sum({1}).to_vector<float>();
  double row0 = 0, row0_abs = 0;
  for (int j = 0; j < 1001; ++j) {
    row0 += v[j];
    row0_abs += std::abs(v[j]);
  }
  EXPECT_NEAR(rows[0], row0, 4e-7 * row0_abs);
}

// ---- the kernel against the reference on many layouts --------------------------------------------------------------

// The keepdim output shape for reducing `dims` of t.
Shape keep_shape(const Tensor& t, const Dims& dims) {
  Shape s = t.sizes();
  for (auto d : dims) s[static_cast<std::size_t>(d)] = 1;
  return s;
}

// Views of a contiguous base: the layouts the kernel has to handle.
std::vector<std::pair<std::string, Tensor>> layouts(const Tensor& base3d) {
  // base3d: [A, B, C]
  return {
      {"contiguous", base3d},
      {"transpose(0,2)", base3d.transpose(0, 2)},
      {"transpose(1,2)", base3d.transpose(1, 2)},
      {"permute(1,2,0)", base3d.permute({1, 2, 0})},
      {"slice step 2", base3d.slice(2, 1, base3d.size(2), 2)},
      {"slice middle", base3d.slice(1, 1, base3d.size(1) - 1)},
      {"expanded", base3d.slice(1, 0, 1).expand({base3d.size(0), 3, base3d.size(2)})},
  };
}

void expect_kernel_matches_reference(ReduceOp op, const Tensor& x, const Dims& dims, DType out_dtype,
                                     const std::string& what) {
  const Shape shape = keep_shape(x, dims);
  Tensor got = empty(shape, {.dtype = out_dtype});
  Tensor want = empty(shape, {.dtype = out_dtype});
  kernels::reduce(kCPU, op, x, got);
  reference::reduce(op, x, want);
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size());
  // Sums may round differently (lane order); the tolerance is relative to the sum of magnitudes.
  std::vector<double> scale(w.size(), 0.0);
  if (op == ReduceOp::Sum) {
    const Tensor xd = x.to(kFloat64).contiguous();
    auto v = xd.to_vector<double>();
    for (auto& e : v) e = std::abs(e);
    Tensor absx = empty(shape, {.dtype = kFloat64});
    reference::reduce(ReduceOp::Sum, tensor(v, xd.sizes()), absx);
    scale = absx.to_vector<double>();
  }
  const double tol = x.dtype() == kFloat32 ? 1e-6 : 1e-13;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " [" << i << "]";
    } else {
      EXPECT_NEAR(g[i], w[i], tol * scale[i]) << what << " [" << i << "]";
    }
  }
}

void check_all_ops(const Tensor& base, const std::vector<Dims>& dim_sets, const std::string& label) {
  for (const auto& [name, x] : layouts(base)) {
    if (x.numel() == 0) continue;
    for (const auto& dims : dim_sets) {
      const std::string what = fmt::format("{} {} {} dims {}", label, dtype_name(x.dtype()), name, shape_str(dims));
      expect_kernel_matches_reference(ReduceOp::Sum, x, dims, x.dtype(), "sum " + what);
      expect_kernel_matches_reference(ReduceOp::Max, x, dims, x.dtype(), "max " + what);
      expect_kernel_matches_reference(ReduceOp::Min, x, dims, x.dtype(), "min " + what);
      if (dims.size() == 1) {
        expect_kernel_matches_reference(ReduceOp::ArgMax, x, dims, kInt64, "argmax " + what);
        expect_kernel_matches_reference(ReduceOp::ArgMin, x, dims, kInt64, "argmin " + what);
      }
    }
  }
}

TEST(ReduceKernel, MatchesReferenceOnStridedLayouts) {
  // Small shapes: every dtype, every set of dims, on every layout (single-threaded loops).
  std::uint32_t seed = 10;
  for (const Shape& shape : {Shape{3, 4, 5}, Shape{2, 1, 7}, Shape{5, 6, 33}}) {
    for (DType dt : {kFloat32, kFloat64, kInt64}) {
      Tensor base = random_tensor(shape, seed++);
      if (dt == kInt64) base = base * 3.0;  // small integers: many ties
      check_all_ops(base.to(dt), {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}}, shape_str(shape));
    }
  }
  // Shapes above the parallel grain: the multi-threaded row, column and split paths.
  for (const Shape& shape : {Shape{40, 30, 30}, Shape{3, 2, 12000}, Shape{6000, 2, 3}}) {
    check_all_ops(random_tensor(shape, seed++).to(kFloat32), {{0}, {1}, {2}, {0, 2}, {0, 1, 2}}, shape_str(shape));
  }
  check_all_ops((random_tensor({3, 2, 12000}, seed++) * 3.0).to(kInt64), {{0}, {2}, {0, 1, 2}}, "int64 [3, 2, 12000]");
}

TEST(ReduceKernel, MatchesReferenceWithNaNsAndBools) {
  // NaN at scattered positions, on the row and column layouts and the multi-threaded paths.
  for (const Shape& shape : {Shape{4, 50000}, Shape{50000, 4}, Shape{7, 9}}) {
    Tensor x = random_tensor(shape, 3);
    {
      NoGradGuard g;
      x.slice(0, 1, 2).slice(1, 3, 4).fill_(kNaN);
      x.slice(0, 2, 3).fill_(kNaN);
    }
    for (const Tensor& v : {x, x.t(), x.to(kFloat32)}) {
      for (std::int64_t d : {0, 1}) {
        for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin, ReduceOp::Sum}) {
          const DType out = (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) ? kInt64 : v.dtype();
          expect_kernel_matches_reference(
              op, v, {d}, out, fmt::format("nan {} op {} dim {}", shape_str(v.sizes()), static_cast<int>(op), d));
        }
      }
    }
  }
  // bool: sum counts (into int64), argmax finds the first true.
  std::vector<bool> bits(6 * 40000);
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = (i * 2654435761u) % 7 < 3;
  const Tensor b = tensor(bits, {6, 40000});
  for (std::int64_t d : {0, 1}) {
    expect_kernel_matches_reference(ReduceOp::Sum, b, {d}, kInt64, "bool sum");
    expect_kernel_matches_reference(ReduceOp::ArgMax, b, {d}, kInt64, "bool argmax");
    expect_kernel_matches_reference(ReduceOp::ArgMin, b.t(), {d}, kInt64, "bool argmin");
  }
}

TEST(ReduceKernel, SingleThreadMatchesMultiThread) {
  // The split (few outputs) paths merge partial results in order: the result must not depend on the thread count.
  Tensor x = random_tensor({3, 100003}, 5).to(kFloat32);
  const int saved = get_num_threads();
  set_num_threads(1);
  const auto one = std::vector<Tensor>{x.sum({1}), x.max({1}), x.argmin(1), x.t().sum({0}), x.t().argmax(0)};
  set_num_threads(std::max(saved, 2));
  const auto many = std::vector<Tensor>{x.sum({1}), x.max({1}), x.argmin(1), x.t().sum({0}), x.t().argmax(0)};
  set_num_threads(saved);
  for (std::size_t i = 0; i < one.size(); ++i) {
    const auto a = one[i].to_vector<double>(), b = many[i].to_vector<double>();
    for (std::size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-6 * std::abs(a[j])) << i << " " << j;
  }
}

// ---- gradients ------------------------------------------------------------------------------------------------------

TEST(ReduceGrad, GradcheckMaxMin) {
  // Normal samples are distinct (no ties), where max is differentiable.
  const Tensor x = random_tensor({3, 4, 5}, 21);
  using F = std::function<Tensor(const std::vector<Tensor>&)>;
  const std::vector<F> fns = {
      [](const std::vector<Tensor>& v) { return v[0].max(); },
      [](const std::vector<Tensor>& v) { return v[0].min(); },
      [](const std::vector<Tensor>& v) { return v[0].max({0}); },
      [](const std::vector<Tensor>& v) { return v[0].max({1}, true); },
      [](const std::vector<Tensor>& v) { return v[0].max({-1}); },
      [](const std::vector<Tensor>& v) {
        return v[0].max({0, 2}, true);
      },
      [](const std::vector<Tensor>& v) { return v[0].min({2}); },
      [](const std::vector<Tensor>& v) {
        return v[0].min({0, 1}, true);
      },
      [](const std::vector<Tensor>& v) { return v[0].transpose(0, 2).min({1}); },
  };
  for (std::size_t i = 0; i < fns.size(); ++i) EXPECT_TRUE(gradcheck(fns[i], {x})) << "case " << i;
}

TEST(ReduceGrad, MaxTiesSplitTheGradientEvenly) {
  Tensor x = tensor({1.0, 3.0, 3.0, 2.0, 5.0, 0.0}, {2, 3}).set_requires_grad();
  x.max({1}).backward(tensor({6.0, 4.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 3, 3, 0, 4, 0}));
  Tensor y = tensor({2.0, 2.0, 2.0, 1.0}).set_requires_grad();
  y.max().backward();
  // (Compared element by element: GCC 12.2 with AVX-512 miscompiles the literal std::vector<double>{c, c, c, 0.0}
  // into four copies of c at -O2 and above.)
  const auto gy = y.grad().to_vector<double>();
  ASSERT_EQ(gy.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(gy[i], 1.0 / 3);
  EXPECT_EQ(gy[3], 0.0);
  Tensor z = tensor({-1.0, 4.0, -1.0}).set_requires_grad();
  z.min().backward();
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{0.5, 0, 0.5}));
  // A NaN max sends the gradient to the NaN, not NaN everywhere.
  Tensor n = tensor({1.0, kNaN, 3.0}).set_requires_grad();
  n.max().backward();
  EXPECT_EQ(n.grad().to_vector<double>(), (std::vector<double>{0, 1, 0}));
  // float32 keeps its dtype
  Tensor f = tensor({1.f, 7.f}).set_requires_grad();
  f.max().backward();
  EXPECT_EQ(f.grad().dtype(), kFloat32);
  EXPECT_EQ(f.grad().to_vector<float>(), (std::vector<float>{0, 1}));
}

TEST(ReduceGrad, GradcheckLogsumexp) {
  const Tensor x = random_tensor({3, 4, 5}, 22);
  using F = std::function<Tensor(const std::vector<Tensor>&)>;
  const std::vector<F> fns = {
      [](const std::vector<Tensor>& v) { return v[0].logsumexp({}); },
      [](const std::vector<Tensor>& v) { return v[0].logsumexp({0}); },
      [](const std::vector<Tensor>& v) { return v[0].logsumexp({1}, true); },
      [](const std::vector<Tensor>& v) { return v[0].logsumexp({2}); },
      [](const std::vector<Tensor>& v) {
        return v[0].logsumexp({0, 2}, true);
      },
      [](const std::vector<Tensor>& v) {
        return v[0].permute({2, 0, 1}).logsumexp({1, 2});
      },
      [](const std::vector<Tensor>& v) { return (v[0] * 300.0).logsumexp({1}); },  // large values
  };
  for (std::size_t i = 0; i < fns.size(); ++i) EXPECT_TRUE(gradcheck(fns[i], {x})) << "case " << i;
}

TEST(ReduceGrad, LogsumexpGradientIsTheSoftmax) {
  Tensor x = tensor({0.0, std::log(3.0), -kInf, -kInf}, {2, 2}).set_requires_grad();
  x.logsumexp({1}).backward(tensor({1.0, 1.0}));
  const auto g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 0.25, 1e-15);
  EXPECT_NEAR(g[1], 0.75, 1e-15);
  EXPECT_EQ(g[2], 0.0);  // an all -inf row: no NaN
  EXPECT_EQ(g[3], 0.0);
}

TEST(ReduceGrad, GradcheckSumMean) {
  const Tensor x = random_tensor({3, 4, 5}, 23);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].sum({0, 2}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].mean({1}, true); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].transpose(0, 1).mean(); }, {x}));
}

TEST(ReduceGrad, ArgmaxHasNoGradient) {
  Tensor x = random_tensor({3, 4}, 24).set_requires_grad();
  EXPECT_FALSE(x.argmax(1).requires_grad());
  EXPECT_FALSE(x.argmin(0).requires_grad());
}

}  // namespace
}  // namespace trident
