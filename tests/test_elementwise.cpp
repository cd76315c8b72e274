// Elementwise ops (ops/elementwise.h): forward values against hand-computed numbers, the CPU kernels against the naive
// reference (backends/reference/elementwise.h), float64 gradchecks of every differentiable op, and error messages.
#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "trident/backends/reference/elementwise.h"

using namespace trident;
using kernels::BinaryOp;
using kernels::UnaryOp;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
std::vector<bool> flags(const Tensor& t) { return t.to_vector<bool>(); }

// Element-by-element comparison where NaN equals NaN and infinities must match exactly.
void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  const auto got = values(t);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i << ": " << got[i] << ", expected NaN";
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << "element " << i;
    } else {
      EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i]))) << "element " << i;
    }
  }
}

// Distance of a float32 result from the exact (float64) value, in units in the last place of float32 at that value.
double float_ulps(float got, double exact) {
  const float rounded = static_cast<float>(exact);
  if (std::isnan(exact)) return std::isnan(got) ? 0.0 : kInf;
  if (std::isinf(rounded)) return got == rounded ? 0.0 : kInf;
  if (std::isnan(got) || std::isinf(got)) return kInf;
  double ulp = std::ldexp(1.0, -149);  // subnormal spacing
  if (std::abs(rounded) >= std::numeric_limits<float>::min()) {
    int e = 0;
    std::frexp(rounded, &e);
    ulp = std::ldexp(1.0, e - 24);
  }
  return std::abs(static_cast<double>(got) - exact) / ulp;
}

// Inputs covering the interesting ranges of every unary op: both tails, both signs, the overflow and subnormal
// boundaries of exp, tiny arguments (relative precision of tanh), zeros, infinities and NaN.
std::vector<float> unary_test_inputs() {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {0.f, -0.f, 1e-30f, -1e-30f, 1e-8f, -1e-8f, 1e-3f, -1e-3f, 0.5f, -0.5f, 1.f, -1.f, 2.f, -2.f,
                          9.f, -9.f, 9.2f, -9.2f, 20.f, -20.f, 87.f, -87.f, 88.5f, 88.72f, 88.8f, 89.f, -87.4f, -95.f,
                          -103.f, -104.f, -110.f, 1000.f, -1000.f, inf, -inf, nan,
                          // subnormal, smallest normal and largest finite values (log's scaling path; overflows)
                          1e-40f, 1.4e-45f, -1e-40f, 1.17549435e-38f, 3.4e38f, -3.4e38f};
  for (int i = -600; i <= 600; ++i) v.push_back(static_cast<float>(i) * 0.173f);  // a dense grid on [-104, 104]
  return v;
}

Tensor float_tensor(const std::vector<float>& v) { return tensor(v); }
Tensor ints(const std::vector<std::int64_t>& v, const Shape& shape = {-1}) { return tensor(v, shape); }

}  // namespace

// ==== forward values
// ===================================================================================================

TEST(Elementwise, ArithmeticBroadcastAndScalars) {
  Tensor a = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor b = tensor({10.0, 20.0, 30.0});
  expect_values(a + b, {11, 22, 33, 14, 25, 36});
  expect_values(a - b, {-9, -18, -27, -6, -15, -24});
  expect_values(a * b, {10, 40, 90, 40, 100, 180});
  expect_values(b / a, {10, 10, 10, 2.5, 4, 5});
  expect_values(-a, {-1, -2, -3, -4, -5, -6});
  expect_values(a + 1.0, {2, 3, 4, 5, 6, 7});
  expect_values(2.0 - a, {1, 0, -1, -2, -3, -4});
  expect_values(a * 0.5, {0.5, 1, 1.5, 2, 2.5, 3});
  expect_values(3.0 / a, {3, 1.5, 1, 0.75, 0.6, 0.5});
  // broadcasting [2, 1] against [3] -> [2, 3]
  Tensor c = tensor({1.0, 2.0}, {2, 1});
  Tensor d = c * b;
  EXPECT_EQ(d.sizes(), (Shape{2, 3}));
  expect_values(d, {10, 20, 30, 20, 40, 60});
  // float32 keeps its dtype with double scalars
  Tensor f = tensor({1.f, 2.f}) * 0.5;
  EXPECT_EQ(f.dtype(), kFloat32);
  expect_values(f, {0.5, 1});
  // strided (transposed) inputs
  expect_values(a.t() + a.t(), {2, 8, 4, 10, 6, 12});
}

TEST(Elementwise, Int64Arithmetic) {
  Tensor a = ints({7, -7, 7, -7, 5});
  Tensor b = ints({2, 2, -2, -2, 0});
  EXPECT_EQ((a + b).dtype(), kInt64);
  EXPECT_EQ((a + b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{9, -5, 5, -9, 5}));
  EXPECT_EQ((a - b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{5, -9, 9, -5, 5}));
  EXPECT_EQ((a * b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{14, -14, -14, 14, 0}));
  // integer division truncates toward zero; division by zero gives 0 instead of trapping
  EXPECT_EQ((a / b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, -3, -3, 3, 0}));
  EXPECT_EQ((a * 3.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{21, -21, 21, -21, 15}));
  EXPECT_EQ((-a).to_vector<std::int64_t>(), (std::vector<std::int64_t>{-7, 7, -7, 7, -5}));
  EXPECT_EQ(abs(a).to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 7, 7, 7, 5}));
  EXPECT_EQ(relu(a).to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 0, 7, 0, 5}));
  EXPECT_EQ(sign(b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, -1, -1, 0}));
  EXPECT_EQ(clamp(a, -3, 6).to_vector<std::int64_t>(), (std::vector<std::int64_t>{6, -3, 6, -3, 5}));
  EXPECT_EQ(maximum(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{7, 2, 7, -2, 5}));
  EXPECT_EQ(minimum(a, b).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, -7, -2, -7, 0}));
  // exact integer powers (beyond float64's 53 bits) and negative exponents (0 unless |x| = 1)
  Tensor big = ints({3});
  EXPECT_EQ(pow(big, 39.0).item<std::int64_t>(), 4052555153018976267LL);  // 3^39 < 2^63, not exact in float64
  EXPECT_EQ(pow(a, 2.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{49, 49, 49, 49, 25}));
  Tensor base = ints({2, 1, -1, -1, 0});
  Tensor expo = ints({-1, -3, -3, -2, 0});
  EXPECT_EQ(pow(base, expo).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, -1, 1, 1}));
}

TEST(Elementwise, PowValues) {
  Tensor x = tensor({1.0, 2.0, 4.0, 9.0});
  expect_values(pow(x, 2.0), {1, 4, 16, 81});
  expect_values(pow(x, 0.5), {1, std::sqrt(2.0), 2, 3});
  expect_values(pow(x, -1.0), {1, 0.5, 0.25, 1.0 / 9});
  expect_values(pow(x, 3.0), {1, 8, 64, 729});
  expect_values(pow(x, 0.0), {1, 1, 1, 1});
  expect_values(pow(x, 1.5), {1, std::pow(2.0, 1.5), 8, 27});
  expect_values(pow(tensor({-2.0}), 0.5), {kNaN});  // no real root
  // tensor exponent with broadcasting: [2, 1] ^ [3] -> [2, 3]
  Tensor b = tensor({2.0, 3.0}, {2, 1});
  Tensor e = tensor({0.0, 1.0, 2.0});
  Tensor p = pow(b, e);
  EXPECT_EQ(p.sizes(), (Shape{2, 3}));
  expect_values(p, {1, 2, 4, 1, 3, 9});
  expect_values(x.pow(2.0), {1, 4, 16, 81});
  expect_values(b.pow(e), {1, 2, 4, 1, 3, 9});
}

TEST(Elementwise, MathFunctionValues) {
  Tensor x = tensor({0.0, 1.0, -1.0, 2.0});
  expect_values(exp(x), {1, std::exp(1.0), std::exp(-1.0), std::exp(2.0)});
  expect_values(exp(tensor({-kInf, kInf, kNaN, 1000.0, -1000.0})), {0, kInf, kNaN, kInf, 0});
  expect_values(log(tensor({1.0, std::exp(2.0), 0.0, -1.0, kInf})), {0, 2, -kInf, kNaN, kInf});
  expect_values(sqrt(tensor({4.0, 0.0, 2.25, -1.0})), {2, 0, 1.5, kNaN});
  expect_values(abs(tensor({-3.0, 0.0, 2.5, -kInf, kNaN})), {3, 0, 2.5, kInf, kNaN});
  expect_values(sign(tensor({-3.0, 0.0, 2.5, -kInf, kNaN})), {-1, 0, 1, -1, kNaN});
  // float32 exp is the vectorised one: within an ulp of the exact values
  const auto ef = exp(tensor({0.f, 1.f, -1.f, 10.f, -10.f})).to_vector<float>();
  const double exact[] = {1.0, std::exp(1.0), std::exp(-1.0), std::exp(10.0), std::exp(-10.0)};
  for (int i = 0; i < 5; ++i) EXPECT_LE(float_ulps(ef[i], exact[i]), 1.0) << "exp element " << i;
  // member forms
  expect_values(x.exp(), {1, std::exp(1.0), std::exp(-1.0), std::exp(2.0)});
  expect_values(tensor({1.0, 4.0}).log(), {0, std::log(4.0)});
  expect_values(tensor({1.0, 4.0}).sqrt(), {1, 2});
  expect_values(tensor({-1.0, 4.0}).abs(), {1, 4});
}

TEST(Elementwise, ClampValues) {
  Tensor x = tensor({-3.0, -1.0, 0.0, 1.0, 3.0, kNaN, -kInf, kInf});
  expect_values(clamp(x, -1.0, 2.0), {-1, -1, 0, 1, 2, kNaN, -1, 2});
  expect_values(clamp(x, std::nullopt, 0.5), {-3, -1, 0, 0.5, 0.5, kNaN, -kInf, 0.5});
  expect_values(clamp(x, 0.5, std::nullopt), {0.5, 0.5, 0.5, 1, 3, kNaN, 0.5, kInf});
  expect_values(clamp_min(x, 0.0), {0, 0, 0, 1, 3, kNaN, 0, kInf});
  expect_values(clamp_max(x, 0.0), {-3, -1, 0, 0, 0, kNaN, -kInf, 0});
  // min > max: every element becomes max (min(max(x, lo), hi), as PyTorch)
  expect_values(clamp(tensor({-5.0, 0.0, 5.0}), 2.0, 1.0), {1, 1, 1});
  expect_values(x.clamp(-1.0, 2.0), {-1, -1, 0, 1, 2, kNaN, -1, 2});
  expect_values(x.clamp_min(0.0), {0, 0, 0, 1, 3, kNaN, 0, kInf});
  expect_values(x.clamp_max(0.0), {-3, -1, 0, 0, 0, kNaN, -kInf, 0});
  expect_values(tensor({-2.f, 0.25f, 2.f}).clamp(-1.0, 1.0), {-1, 0.25, 1});
}

TEST(Elementwise, ActivationValues) {
  // relu: NaN propagates, -0 and 0 give 0
  expect_values(relu(tensor({-2.0, -0.0, 0.0, 3.0, kNaN, kInf, -kInf})), {0, 0, 0, 3, kNaN, kInf, 0});
  expect_values(relu(tensor({-2.f, 3.f, std::numeric_limits<float>::quiet_NaN()})), {0, 3, kNaN});
  // sigmoid: exact tails at +-100 in float64 (e^-100 = 3.720075976020836e-44), no NaN, no overflow
  const double e100 = std::exp(-100.0);
  expect_values(sigmoid(tensor({0.0, 100.0, -100.0, 1000.0, -1000.0, kNaN})), {0.5, 1, e100, 1, 0, kNaN}, 1e-15);
  EXPECT_NEAR(sigmoid(tensor({-100.0})).item<double>() / e100, 1.0, 1e-14);  // relative precision in the tail
  const auto sf = sigmoid(tensor({0.f, 100.f, -100.f, 2.f})).to_vector<float>();
  EXPECT_EQ(sf[0], 0.5f);
  EXPECT_EQ(sf[1], 1.0f);
  EXPECT_LE(float_ulps(sf[2], e100), 1.0);  // a float32 subnormal
  EXPECT_LE(float_ulps(sf[3], 1.0 / (1.0 + std::exp(-2.0))), 3.0);
  // tanh
  expect_values(tanh(tensor({0.0, 1.0, -1.0, 50.0, -50.0, kNaN})), {0, std::tanh(1.0), -std::tanh(1.0), 1, -1, kNaN});
  const auto tf = tanh(tensor({1e-6f, -0.5f, 20.f, -20.f})).to_vector<float>();
  EXPECT_LE(float_ulps(tf[0], std::tanh(1e-6)), 3.0);  // relative precision near 0 (no 1 - 2/(e^2x + 1) cancel)
  EXPECT_LE(float_ulps(tf[1], std::tanh(-0.5)), 3.0);
  EXPECT_EQ(tf[2], 1.0f);
  EXPECT_EQ(tf[3], -1.0f);
  // softplus = log(1 + e^x): ln 2 at 0, x for large x (no overflow), e^x for very negative x
  expect_values(softplus(tensor({0.0, 1.0, 100.0, 1000.0, -100.0, -1000.0, kNaN})),
                {std::log(2.0), std::log1p(std::exp(1.0)), 100, 1000, e100, 0, kNaN}, 1e-15);
  expect_values(softplus(tensor({1000.f, -1000.f, 0.f})), {1000, 0, std::log(2.0)}, 1e-7);
  // member forms
  expect_values(tensor({-1.0, 2.0}).relu(), {0, 2});
  expect_values(tensor({0.0}).sigmoid(), {0.5});
  expect_values(tensor({0.0}).tanh(), {0});
  expect_values(tensor({0.0}).softplus(), {std::log(2.0)});
}

TEST(Elementwise, MaximumMinimumPropagateNaN) {
  Tensor a = tensor({1.0, kNaN, 3.0, 2.0, -kInf});
  Tensor b = tensor({2.0, 0.0, kNaN, 2.0, 0.0});
  expect_values(maximum(a, b), {2, kNaN, kNaN, 2, 0});
  expect_values(minimum(a, b), {1, kNaN, kNaN, 2, -kInf});
  expect_values(a.maximum(b), {2, kNaN, kNaN, 2, 0});
  expect_values(a.minimum(b), {1, kNaN, kNaN, 2, -kInf});
  // broadcasting: [2, 1] with [3]
  expect_values(maximum(tensor({0.0, 5.0}, {2, 1}), tensor({-1.0, 1.0, 6.0})), {0, 1, 6, 5, 5, 6});
  expect_values(minimum(tensor({1.f, 4.f}), tensor({3.f, 2.f})), {1, 2});
}

TEST(Elementwise, ComparisonsWithTensors) {
  Tensor a = tensor({1.0, 2.0, 3.0, kNaN});
  Tensor b = tensor({2.0, 2.0, 2.0, kNaN});
  EXPECT_EQ(lt(a, b).dtype(), kBool);
  EXPECT_EQ(flags(eq(a, b)), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(flags(ne(a, b)), (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(flags(lt(a, b)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(flags(le(a, b)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(flags(gt(a, b)), (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(flags(ge(a, b)), (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(flags(a.eq(b)), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(flags(a.ne(b)), (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(flags(a.lt(b)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(flags(a.le(b)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(flags(a.gt(b)), (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(flags(a.ge(b)), (std::vector<bool>{false, true, true, false}));
  // broadcasting, int64 and bool operands
  Tensor c = lt(ints({0, 5}, {2, 1}), ints({1, 2, 6}));
  EXPECT_EQ(c.sizes(), (Shape{2, 3}));
  EXPECT_EQ(flags(c), (std::vector<bool>{true, true, true, false, false, true}));
  EXPECT_EQ(flags(eq(tensor({true, false}), tensor({true, true}))), (std::vector<bool>{true, false}));
}

TEST(Elementwise, ComparisonsWithScalars) {
  Tensor x = tensor({-1.0, 0.0, 0.5, 2.0, kNaN});
  EXPECT_EQ(flags(x.eq(0.5)), (std::vector<bool>{false, false, true, false, false}));
  EXPECT_EQ(flags(x.ne(0.5)), (std::vector<bool>{true, true, false, true, true}));
  EXPECT_EQ(flags(x.lt(0.5)), (std::vector<bool>{true, true, false, false, false}));
  EXPECT_EQ(flags(x.le(0.5)), (std::vector<bool>{true, true, true, false, false}));
  EXPECT_EQ(flags(x.gt(0.5)), (std::vector<bool>{false, false, false, true, false}));
  EXPECT_EQ(flags(x.ge(0.5)), (std::vector<bool>{false, false, true, true, false}));
  EXPECT_EQ(flags(gt(x, 0.0)), (std::vector<bool>{false, false, true, true, false}));
  // float32: the scalar is rounded to float32 first (0.1 == 0.1f), as in PyTorch
  EXPECT_EQ(flags(tensor({0.1f, 0.2f}).eq(0.1)), (std::vector<bool>{true, false}));
  // int64 with non-integer scalars compares exactly (see Note [Comparing with a double scalar])
  Tensor n = ints({-1, 0, 1, 2});
  EXPECT_EQ(flags(n.lt(0.5)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(flags(n.le(0.5)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(flags(n.gt(0.5)), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(flags(n.ge(0.5)), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(flags(n.gt(-0.5)), (std::vector<bool>{false, true, true, true}));
  EXPECT_EQ(flags(n.le(-0.5)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(flags(n.eq(0.5)), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(flags(n.ne(0.5)), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(flags(n.eq(2.0)), (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(flags(n.lt(kInf)), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(flags(n.ge(1e300)), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(flags(n.gt(-1e300)), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(flags(n.eq(kNaN)), (std::vector<bool>{false, false, false, false}));
  EXPECT_EQ(flags(n.ne(kNaN)), (std::vector<bool>{true, true, true, true}));
  // bool tensors compare as 0/1
  Tensor b = tensor({false, true});
  EXPECT_EQ(flags(b.eq(1.0)), (std::vector<bool>{false, true}));
  EXPECT_EQ(flags(b.lt(0.5)), (std::vector<bool>{true, false}));
  EXPECT_EQ(flags(b.lt(2.0)), (std::vector<bool>{true, true}));
  EXPECT_EQ(flags(b.eq(2.0)), (std::vector<bool>{false, false}));
  EXPECT_EQ(b.eq(1.0).dtype(), kBool);
}

TEST(Elementwise, WhereBroadcastsThreeWays) {
  // cond [2, 1], a [3], b [] -> [2, 3]
  Tensor cond = tensor({true, false}, {2, 1});
  Tensor a = tensor({1.0, 2.0, 3.0});
  Tensor b = scalar_tensor(-1.0, {.dtype = kFloat64});
  Tensor w = where(cond, a, b);
  EXPECT_EQ(w.sizes(), (Shape{2, 3}));
  expect_values(w, {1, 2, 3, -1, -1, -1});
  // cond [3], a [2, 1], b [2, 3]
  Tensor w2 =
      where(tensor({true, false, true}), tensor({10.0, 20.0}, {2, 1}), tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}));
  expect_values(w2, {10, 2, 10, 20, 5, 20});
  // NaN in the branch not taken does not leak
  expect_values(where(tensor({true, false}), tensor({1.0, kNaN}), tensor({kNaN, 2.0})), {1, 2});
  // int64 and bool payloads
  EXPECT_EQ(where(tensor({true, false}), ints({1, 2}), ints({3, 4})).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 4}));
  EXPECT_EQ(flags(where(tensor({true, false}), tensor({false, false}), tensor({true, true}))),
            (std::vector<bool>{false, true}));
}

TEST(Elementwise, LogicalOps) {
  Tensor a = tensor({true, true, false, false});
  Tensor b = tensor({true, false, true, false});
  EXPECT_EQ(flags(logical_and(a, b)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(flags(logical_or(a, b)), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(flags(logical_not(a)), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(logical_not(a).dtype(), kBool);
  // broadcasting [2, 1] with [2]
  Tensor c = logical_or(tensor({true, false}, {2, 1}), tensor({false, false}));
  EXPECT_EQ(c.sizes(), (Shape{2, 2}));
  EXPECT_EQ(flags(c), (std::vector<bool>{true, true, false, false}));
}

TEST(Elementwise, ErrorMessages) {
  Tensor f32 = ones({2, 3});
  Tensor f64 = ones({2, 3}, {.dtype = kFloat64});
  Tensor i64 = ones({3}, {.dtype = kInt64});
  Tensor bl = tensor({true, false});
  EXPECT_THROW_MSG(add(f32, f64), "add: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(mul(f32, ones({4})), "mul: shapes [2, 3] and [4] cannot be broadcast");
  EXPECT_THROW_MSG(add(bl, bl), "add: arithmetic on bool tensors is not defined");
  EXPECT_THROW_MSG(bl * 2.0, "mul: arithmetic on bool tensors is not defined");
  EXPECT_THROW_MSG(neg(bl), "neg: not defined for bool tensors");
  EXPECT_THROW_MSG(pow(f32, f64), "pow: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(pow(bl, bl), "pow: arithmetic on bool tensors is not defined");
  EXPECT_THROW_MSG(pow(i64, 0.5), "pow: an int64 tensor needs a non-negative integer exponent, got 0.5");
  EXPECT_THROW_MSG(pow(i64, -1.0), "pow: an int64 tensor needs a non-negative integer exponent, got -1");
  EXPECT_THROW_MSG(exp(i64), "exp: expected a floating tensor (float32 or float64), got int64");
  EXPECT_THROW_MSG(log(bl), "log: expected a floating tensor (float32 or float64), got bool");
  EXPECT_THROW_MSG(sqrt(i64), "sqrt: expected a floating tensor");
  EXPECT_THROW_MSG(sigmoid(i64), "sigmoid: expected a floating tensor");
  EXPECT_THROW_MSG(tanh(i64), "tanh: expected a floating tensor");
  EXPECT_THROW_MSG(softplus(i64), "softplus: expected a floating tensor");
  EXPECT_THROW_MSG(abs(bl), "abs: not defined for bool tensors");
  EXPECT_THROW_MSG(sign(bl), "sign: not defined for bool tensors");
  EXPECT_THROW_MSG(relu(bl), "relu: not defined for bool tensors");
  EXPECT_THROW_MSG(clamp(bl, 0.0, 1.0), "clamp: not defined for bool tensors");
  EXPECT_THROW_MSG(clamp(f32, std::nullopt, std::nullopt), "clamp: at least one of min and max must be given");
  EXPECT_THROW_MSG(clamp(f32, kNaN, 1.0), "clamp: a bound is NaN");
  EXPECT_THROW_MSG(maximum(f32, f64), "maximum: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(minimum(f32, ones({4})), "minimum: shapes [2, 3] and [4] cannot be broadcast");
  EXPECT_THROW_MSG(maximum(bl, bl), "maximum: arithmetic on bool tensors is not defined");
  EXPECT_THROW_MSG(eq(f32, f64), "eq: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(lt(f32, ones({4})), "lt: shapes [2, 3] and [4] cannot be broadcast");
  EXPECT_THROW_MSG(where(f32, f32, f32), "where: cond must be bool, got float32");
  EXPECT_THROW_MSG(where(tensor({true, false}), ones({2}), ones({2}, {.dtype = kFloat64})),
                   "where: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(where(tensor({true, false}), ones({3}), ones({3})), "where: shapes [2] and [3] cannot be broadcast");
  EXPECT_THROW_MSG(logical_and(f32, bl), "logical_and: a must be bool, got float32");
  EXPECT_THROW_MSG(logical_or(bl, i64), "logical_or: b must be bool, got int64");
  EXPECT_THROW_MSG(logical_not(i64), "logical_not: input must be bool, got int64");
  EXPECT_THROW_MSG(add(Tensor(), f32), "add: input is an undefined tensor");
}

// ==== CPU kernels against the reference
// ================================================================================

TEST(ElementwiseKernel, Float32UnaryWithinUlpsOfReference) {
  const Tensor x = float_tensor(unary_test_inputs());
  struct Case {
    UnaryOp op;
    double arg0, arg1;
    double max_ulps;  // 0.5: correctly rounded; more for the vectorised approximations and composed formulas
  };
  // PowScalar exponents are exact in float32 (the kernel rounds its scalar argument to the tensor's dtype).
  const Case cases[] = {
      {UnaryOp::Neg, 0, 0, 0},          {UnaryOp::Abs, 0, 0, 0},         {UnaryOp::Relu, 0, 0, 0},
      {UnaryOp::Sign, 0, 0, 0},         {UnaryOp::Sqrt, 0, 0, 0.5},      {UnaryOp::Log, 0, 0, 1},
      {UnaryOp::Exp, 0, 0, 1},          {UnaryOp::Sigmoid, 0, 0, 3},     {UnaryOp::Tanh, 0, 0, 3},
      {UnaryOp::Softplus, 0, 0, 3},     {UnaryOp::PowScalar, 2, 0, 0.5}, {UnaryOp::PowScalar, 0.5, 0, 0.5},
      {UnaryOp::PowScalar, -1, 0, 0.5}, {UnaryOp::PowScalar, 3, 0, 1},   {UnaryOp::PowScalar, 1.75, 0, 1},
      {UnaryOp::PowScalar, -2.5, 0, 1}, {UnaryOp::Clamp, -1.5, 2.5, 0},
  };
  const auto in = x.to_vector<float>();
  for (const auto& c : cases) {
    Tensor out = empty(x.sizes());
    kernels::unary(kCPU, c.op, x, out, c.arg0, c.arg1);
    const auto got = out.to_vector<float>();
    const auto ref = values(reference::unary(c.op, x, c.arg0, c.arg1));
    for (std::size_t i = 0; i < got.size(); ++i) {
      // x^0.5 is computed as sqrt(x) (as PyTorch does), which is NaN at -inf where std::pow says +inf.
      if (c.op == UnaryOp::PowScalar && c.arg0 == 0.5 && std::isinf(in[i]) && in[i] < 0) continue;
      ASSERT_LE(float_ulps(got[i], ref[i]), c.max_ulps)
          << "op " << static_cast<int>(c.op) << " (arg " << c.arg0 << ") at x = " << in[i] << ": got " << got[i]
          << ", reference " << ref[i];
    }
  }
}

TEST(ElementwiseKernel, Float64UnaryMatchesReference) {
  const Tensor x = float_tensor(unary_test_inputs()).to(kFloat64);
  for (UnaryOp op : {UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Relu, UnaryOp::Sign, UnaryOp::Sqrt, UnaryOp::Log,
                     UnaryOp::Exp, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Softplus}) {
    Tensor out = empty(x.sizes(), {.dtype = kFloat64});
    kernels::unary(kCPU, op, x, out, 0, 0);
    const auto got = values(out), ref = values(reference::unary(op, x));
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(ref[i])) {
        ASSERT_TRUE(std::isnan(got[i])) << "op " << static_cast<int>(op) << " element " << i;
      } else if (std::isinf(ref[i])) {
        ASSERT_EQ(got[i], ref[i]) << "op " << static_cast<int>(op) << " element " << i;
      } else {
        ASSERT_NEAR(got[i], ref[i], 4.5e-16 * std::abs(ref[i])) << "op " << static_cast<int>(op) << " element " << i;
      }
    }
  }
}

TEST(ElementwiseKernel, UnaryParallelAndStridedPaths) {
  // 40000 elements: above kParallelGrain, so the run is split between threads; and a transposed (strided) view.
  const Tensor big = random_tensor({40000}, 7, -30.0, 30.0, kFloat32);
  const Tensor strided = random_tensor({50, 30}, 8, -30.0, 30.0, kFloat32).t();
  for (const Tensor& x : {big, strided}) {
    for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Softplus, UnaryOp::Relu}) {
      Tensor out = empty(x.sizes());
      kernels::unary(kCPU, op, x, out, 0, 0);
      const auto got = out.to_vector<float>();
      const auto ref = values(reference::unary(op, x));
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_LE(float_ulps(got[i], ref[i]), 3.0) << "op " << static_cast<int>(op) << " element " << i;
    }
  }
}

TEST(ElementwiseKernel, BinaryMatchesReference) {
  // a: [4, 1, 3] and b: [5, 1] broadcast to [4, 5, 3]; with NaN, infinities, zeros and ties among the values.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor a = tensor({1.f, -2.f, 0.f, 3.5f, nan, 2.f, -0.f, 7.f, 1e-20f, 4.f, -inf, 2.5f}, {4, 1, 3});
  Tensor b = tensor({2.f, 0.f, -3.f, inf, 1.f}, {5, 1});
  const Shape shape{4, 5, 3};
  const BinaryOp comparisons[] = {BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge};
  const BinaryOp arithmetic[] = {BinaryOp::Add, BinaryOp::Sub,     BinaryOp::Mul,    BinaryOp::Div,
                                 BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum};
  for (DType dtype : {kFloat32, kFloat64}) {
    const Tensor ae = a.to(dtype).expand(shape), be = b.to(dtype).expand(shape);
    for (BinaryOp op : comparisons) {
      Tensor out = empty(shape, {.dtype = kBool});
      kernels::binary(kCPU, op, ae, be, out);
      EXPECT_EQ(flags(out), flags(reference::binary(op, ae, be))) << "op " << static_cast<int>(op);
    }
    for (BinaryOp op : arithmetic) {
      Tensor out = empty(shape, {.dtype = dtype});
      kernels::binary(kCPU, op, ae, be, out);
      const auto got = values(out), want = values(reference::binary(op, ae, be));
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(want[i])) {
          EXPECT_TRUE(std::isnan(got[i])) << "op " << static_cast<int>(op) << " element " << i;
        } else if (dtype == kFloat32) {
          EXPECT_LE(float_ulps(static_cast<float>(got[i]), want[i]), op == BinaryOp::Pow ? 1.0 : 0.5)
              << "op " << static_cast<int>(op) << " element " << i;
        } else {
          EXPECT_EQ(got[i], want[i]) << "op " << static_cast<int>(op) << " element " << i;
        }
      }
    }
  }
  // logical ops (and comparisons) on bool, broadcast
  const Tensor p = tensor({true, false, true, false}, {4, 1}).expand({4, 2});
  const Tensor q = tensor({true, false}, {1, 2}).expand({4, 2});
  for (BinaryOp op : {BinaryOp::LogicalAnd, BinaryOp::LogicalOr, BinaryOp::Eq, BinaryOp::Lt}) {
    Tensor out = empty({4, 2}, {.dtype = kBool});
    kernels::binary(kCPU, op, p, q, out);
    EXPECT_EQ(flags(out), flags(reference::binary(op, p, q))) << "op " << static_cast<int>(op);
  }
}

TEST(ElementwiseKernel, LargeContiguousBinaryMatchesReference) {
  // Above kParallelGrain: the contiguous fast path split between threads, and the tensor-op-scalar path.
  const Tensor a = random_tensor({50000}, 11, -5.0, 5.0, kFloat32);
  const Tensor b = random_tensor({50000}, 12, -5.0, 5.0, kFloat32);
  const Tensor s = scalar_tensor(1.5).expand({50000});
  for (const Tensor& rhs : {b, s}) {
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Mul, BinaryOp::Maximum}) {
      Tensor out = empty({50000});
      kernels::binary(kCPU, op, a, rhs, out);
      const auto got = out.to_vector<float>();
      const auto want = values(reference::binary(op, a, rhs));
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_LE(float_ulps(got[i], want[i]), 0.5) << "op " << static_cast<int>(op) << " element " << i;
    }
  }
}

TEST(ElementwiseKernel, WhereMatchesReference) {
  const Tensor cond = tensor({true, false, false, true, true, false}, {2, 3});
  const Tensor a = random_tensor({3, 2}, 3).t();          // strided
  const Tensor b = random_tensor({3}, 4).expand({2, 3});  // broadcast
  const Tensor s = scalar_tensor(5.0, {.dtype = kFloat64}).expand({2, 3});
  const std::pair<Tensor, Tensor> operands[] = {
      {a, b}, {a.contiguous(), s}, {s, b.contiguous()}, {a.contiguous(), b.contiguous()}};
  for (const auto& [x, y] : operands) {
    Tensor out = empty({2, 3}, {.dtype = kFloat64});
    kernels::where(kCPU, cond, x, y, out);
    EXPECT_EQ(values(out), values(reference::where(cond, x, y)));
  }
}

// ==== gradients
// ========================================================================================================

TEST(ElementwiseGrad, Arithmetic) {
  const Tensor a = random_tensor({2, 3}, 1), b = random_tensor({3}, 2), c = random_tensor({2, 1}, 3, 0.5, 2.0);
  EXPECT_TRUE(gradcheck([](auto& v) { return add(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sub(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& v) { return mul(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& v) { return div(v[0], v[1]); }, {a, c}));
  EXPECT_TRUE(gradcheck([](auto& v) { return neg(v[0]); }, {a}));
  EXPECT_TRUE(gradcheck([](auto& v) { return 2.0 / v[0] - v[0] * 3.0 + 1.0; }, {c}));
}

TEST(ElementwiseGrad, Pow) {
  const Tensor x = random_tensor({2, 3}, 4, 0.5, 2.0);
  for (double e : {2.0, 3.0, 0.5, -1.0, 1.7, 1.0, 0.0}) {
    EXPECT_TRUE(gradcheck([e](auto& v) { return pow(v[0], e); }, {x})) << "exponent " << e;
  }
  EXPECT_TRUE(gradcheck([](auto& v) { return pow(v[0], 3.0); }, {random_tensor({5}, 5)}));  // negative bases too
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].pow(2.0); }, {x}));
  // tensor exponent, broadcast both ways: x [2, 3], e [3]; x [3], e [2, 1]
  const Tensor e = random_tensor({3}, 6, -2.0, 2.0);
  EXPECT_TRUE(gradcheck([](auto& v) { return pow(v[0], v[1]); }, {x, e}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].pow(v[1]); },
                        {random_tensor({3}, 7, 0.5, 2.0), random_tensor({2, 1}, 8, -2.0, 2.0)}));
}

TEST(ElementwiseGrad, PowExponentGradientIsZeroAtZeroBase) {
  // d(x^e)/de = x^e log x is 0 * -inf at x = 0; defined as 0 (Note [Gradient of pow in the exponent]).
  Tensor x = tensor({0.0, 2.0}).set_requires_grad();
  Tensor e = tensor({2.0, 3.0}).set_requires_grad();
  pow(x, e).sum().backward();
  expect_values(e.grad(), {0, 8 * std::log(2.0)});
  expect_values(x.grad(), {0, 12});  // e x^(e-1)
  // 0^0 = 1 is constant in both arguments: both gradients are 0, not 0 * inf = NaN
  Tensor x0 = tensor({0.0, 3.0}).set_requires_grad();
  Tensor e0 = tensor({0.0, 0.0}).set_requires_grad();
  pow(x0, e0).sum().backward();
  expect_values(x0.grad(), {0, 0});
  expect_values(e0.grad(), {0, std::log(3.0)});
}

TEST(ElementwiseGrad, MathFunctions) {
  const Tensor pos = random_tensor({2, 3}, 9, 0.5, 3.0);
  const Tensor any = random_tensor({2, 3}, 10);
  EXPECT_TRUE(gradcheck([](auto& v) { return exp(v[0]); }, {any}));
  EXPECT_TRUE(gradcheck([](auto& v) { return log(v[0]); }, {pos}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sqrt(v[0]); }, {pos}));
  EXPECT_TRUE(gradcheck([](auto& v) { return abs(v[0]); }, {any}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].exp().log().sqrt().abs(); }, {pos}));
  // abs has gradient sign(x): 0 at 0
  Tensor z = tensor({-2.0, 0.0, 3.0}).set_requires_grad();
  abs(z).sum().backward();
  expect_values(z.grad(), {-1, 0, 1});
}

TEST(ElementwiseGrad, Clamp) {
  // Values in [-2, 2] never within eps of the bounds, so the finite differences see a smooth function.
  const Tensor x = random_tensor({4, 5}, 11, -2.0, 2.0);
  EXPECT_TRUE(gradcheck([](auto& v) { return clamp(v[0], -0.5, 0.7); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return clamp_min(v[0], 0.3); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return clamp_max(v[0], -0.2); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].clamp(std::nullopt, 1.0); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].clamp_min(0.1) * v[0].clamp_max(0.1); }, {x}));
  // Exactly at a bound the gradient is 0 (Note [Gradient of clamp at the bounds]); strictly inside 1; outside 0.
  Tensor y = tensor({-2.0, -1.0, 0.0, 1.0, 2.0, kNaN}).set_requires_grad();
  clamp(y, -1.0, 1.0).sum().backward();
  expect_values(y.grad(), {0, 0, 1, 0, 0, 0});
}

TEST(ElementwiseGrad, Activations) {
  const Tensor x = random_tensor({3, 4}, 12, -4.0, 4.0);
  EXPECT_TRUE(gradcheck([](auto& v) { return relu(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sigmoid(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return tanh(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return softplus(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return softplus(v[0]); }, {random_tensor({6}, 13, -40.0, 40.0)}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].relu() + v[0].sigmoid() * v[0].tanh() + v[0].softplus(); }, {x}));
  // relu: gradient 0 at exactly 0
  Tensor r = tensor({-1.0, 0.0, 2.0}).set_requires_grad();
  relu(r).sum().backward();
  expect_values(r.grad(), {0, 0, 1});
  // the tails: finite, exact gradients (no inf * 0). sigmoid' = s(1-s), tanh' = 1 - y^2, softplus' = sigmoid.
  Tensor t = tensor({100.0, -100.0, 1000.0, -1000.0}).set_requires_grad();
  (sigmoid(t) + tanh(t) + softplus(t)).sum().backward();
  const double e100 = std::exp(-100.0);
  expect_values(t.grad(), {1, 2 * e100, 1, 0}, 1e-14);
  EXPECT_NEAR(t.grad().at<double>({1}) / (2 * e100), 1.0, 1e-13);
}

TEST(ElementwiseGrad, MaximumMinimum) {
  const Tensor a = random_tensor({2, 3}, 14), b = random_tensor({3}, 15);
  EXPECT_TRUE(gradcheck([](auto& v) { return maximum(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& v) { return minimum(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& v) { return v[0].maximum(v[1]) * v[0].minimum(v[1]); }, {b, a}));
  // ties split the gradient evenly (Note [Gradient of maximum and minimum at ties])
  Tensor p = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  Tensor q = tensor({1.0, 5.0, 0.0}).set_requires_grad();
  maximum(p, q).sum().backward();
  expect_values(p.grad(), {0.5, 0, 1});
  expect_values(q.grad(), {0.5, 1, 0});
  p.zero_grad();
  q.zero_grad();
  minimum(p, q).sum().backward();
  expect_values(p.grad(), {0.5, 1, 0});
  expect_values(q.grad(), {0.5, 0, 1});
  Tensor s = tensor({2.0}).set_requires_grad();
  maximum(s, s).sum().backward();  // the two halves add up to d(x)/dx = 1
  expect_values(s.grad(), {1});
}

TEST(ElementwiseGrad, WhereWithBroadcasting) {
  const Tensor cond = tensor({true, false, true, false, false, true}, {2, 3});
  // a [3] and b [2, 1] both broadcast to cond's shape
  EXPECT_TRUE(
      gradcheck([&](auto& v) { return where(cond, v[0], v[1]); }, {random_tensor({3}, 16), random_tensor({2, 1}, 17)}));
  // cond [2, 1] broadcast against a [2, 3] and a 0-d b
  const Tensor cond2 = tensor({true, false}, {2, 1});
  EXPECT_TRUE(
      gradcheck([&](auto& v) { return where(cond2, v[0], v[1]); }, {random_tensor({2, 3}, 18), random_tensor({}, 19)}));
  // values: gradient to a where cond, to b elsewhere, summed to each shape
  Tensor a = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  Tensor b = tensor({0.0}).set_requires_grad();
  where(cond, a, b).sum().backward();
  expect_values(a.grad(), {1, 0, 2});
  expect_values(b.grad(), {3});
  // only one side needs a gradient
  Tensor c = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  where(tensor({true, false, true}), c, zeros({3}, {.dtype = kFloat64})).sum().backward();
  expect_values(c.grad(), {1, 0, 1});
}

TEST(ElementwiseGrad, NonDifferentiableOpsRecordNothing) {
  Tensor x = tensor({-1.0, 2.0}).set_requires_grad();
  EXPECT_FALSE(sign(x).requires_grad());
  EXPECT_FALSE(lt(x, x).requires_grad());
  EXPECT_FALSE(x.gt(0.0).requires_grad());
  EXPECT_FALSE(logical_not(x.gt(0.0)).requires_grad());
  EXPECT_TRUE(exp(x).requires_grad());
  EXPECT_EQ(exp(x).grad_fn()->name(), "ExpBackward");
  EXPECT_EQ(clamp(x, 0.0, 1.0).grad_fn()->name(), "ClampBackward");
  EXPECT_EQ(where(x.gt(0.0), x, x).grad_fn()->name(), "WhereBackward");
  NoGradGuard guard;
  EXPECT_FALSE(sigmoid(x).requires_grad());
}

TEST(ElementwiseGrad, SavedOutputOverwrittenIsDetected) {
  // exp saves its output; changing it in place before backward must be reported, not silently used.
  Tensor x = tensor({0.0, 1.0}).set_requires_grad();
  Tensor y = exp(x);
  {
    NoGradGuard guard;
    y.mul_(2.0);
  }
  EXPECT_THROW_MSG(y.sum().backward(), "modified by an in-place operation");
}

TEST(ElementwiseGrad, Float32GradientsKeepDtype) {
  Tensor x = tensor({-1.f, 0.5f, 2.f}).set_requires_grad();
  Tensor y = sigmoid(x) * tanh(x) + exp(x) * softplus(x) + relu(x) + abs(x) + pow(x, 2.0) + clamp(x, -0.5, 1.0);
  y.sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  const auto g = x.grad().to_vector<float>();
  const double xs[] = {-1.0, 0.5, 2.0};
  for (std::size_t i = 0; i < 3; ++i) {
    const double v = xs[i];
    const double s = 1 / (1 + std::exp(-v)), t = std::tanh(v), e = std::exp(v), sp = std::log1p(std::exp(v));
    const double want = s * (1 - s) * t + s * (1 - t * t) + e * sp + e * s + (v > 0 ? 1 : 0) + (v > 0 ? 1 : -1) +
                        2 * v + ((v > -0.5 && v < 1.0) ? 1 : 0);
    EXPECT_NEAR(g[i], want, 1e-5 * std::abs(want)) << "element " << i;
  }
}
