// Finite-difference gradient checking, shared by every op and layer test.
//
// gradcheck(f, inputs) compares the gradient autograd computes for every floating input that requires grad against
// central differences (f(x + eps) - f(x - eps)) / 2eps, in float64. A non-scalar output is reduced to a scalar as
// sum(f(x) * w) with fixed random weights w, so every output element's gradient is exercised with a different
// weight (a plain sum would hide errors that cancel).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "trident/trident.h"

namespace trident::testing {

// A float64 tensor with values from N(0, 1) (or U[lo, hi) when lo < hi), deterministic in seed.
inline Tensor random_tensor(const Shape& shape, std::uint32_t seed, double lo = 0.0, double hi = 0.0,
                            DType dtype = kFloat64) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = lo < hi ? uniform(rng) : normal(rng);
  return tensor(v, shape).to(dtype);
}

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-6;
};

inline ::testing::AssertionResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                            std::vector<Tensor> inputs, GradcheckOptions opt = {}) {
  for (auto& x : inputs) {
    if (!x.defined() || !is_floating(x.dtype())) continue;
    if (x.dtype() != kFloat64)
      return ::testing::AssertionFailure() << "gradcheck: inputs must be float64, got " << dtype_name(x.dtype());
    x = x.detach().clone().set_requires_grad(true);
  }
  Tensor out = f(inputs);
  if (out.dtype() != kFloat64) return ::testing::AssertionFailure() << "gradcheck: output must be float64";
  const Tensor weights = random_tensor(out.sizes(), 1234);
  auto scalar = [&](const Tensor& y) { return (y * weights).sum().item<double>(); };

  (out * weights).sum().backward();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    const Tensor analytic = x.grad().defined() ? x.grad() : zeros_like(x);
    const Tensor flat = x.detach();  // shares storage: perturb in place
    if (!flat.is_contiguous()) return ::testing::AssertionFailure() << "gradcheck: inputs must be contiguous";
    double* p = flat.data_ptr<double>();
    std::vector<Tensor> detached;
    for (auto& y : inputs) detached.push_back(y.defined() ? y.detach() : y);
    NoGradGuard no_grad;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opt.eps;
      const double fp = scalar(f(detached));
      p[i] = orig - opt.eps;
      const double fm = scalar(f(detached));
      p[i] = orig;
      const double numeric = (fp - fm) / (2 * opt.eps);
      const double a = analytic.contiguous().data_ptr<double>()[i];
      if (!(std::abs(a - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
        return ::testing::AssertionFailure()
               << "gradcheck: input " << k << " element " << i << ": analytic " << a << " vs numeric " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// Same shape and |a - b| <= atol + rtol |b| elementwise (compared in float64).
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.sizes()) << " vs " << shape_str(b.sizes());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i)
    if (!(std::abs(va[i] - vb[i]) <= atol + rtol * std::abs(vb[i])))
      return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  return ::testing::AssertionSuccess();
}

// EXPECT_THROW_MSG(stmt, "substring"): stmt throws trident::Error whose message contains the substring.
#define EXPECT_THROW_MSG(stmt, substring)                                                              \
  do {                                                                                                 \
    try {                                                                                              \
      stmt;                                                                                            \
      ADD_FAILURE() << "expected trident::Error containing \"" << (substring) << "\", nothing thrown"; \
    } catch (const ::trident::Error& e) {                                                              \
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos)                              \
          << "message: " << e.what() << "\nexpected to contain: " << (substring);                      \
    }                                                                                                  \
  } while (0)

}  // namespace trident::testing
