// Gradient checking through a module: the gradients autograd gives the input and every parameter of a module,
// against central differences, with gradcheck's default tolerances (tests/gradcheck.h).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "gradcheck.h"
#include "trident/trident.h"

namespace trident::testing {

// The module must be float64 (module.to(kFloat64)) and x float64 unless check_input is false (e.g. Embedding's int64
// indices). As gradcheck, a non-scalar output is reduced to sum(module(x) * w) with fixed random weights w.
// Parameters are perturbed in place, one element at a time, and restored.
inline ::testing::AssertionResult module_gradcheck(nn::Module& module, const Tensor& input, bool check_input = true,
                                                   GradcheckOptions opt = {}) {
  Tensor x = input.detach().clone();
  if (check_input) {
    if (x.dtype() != kFloat64) return ::testing::AssertionFailure() << "module_gradcheck: input must be float64";
    x.set_requires_grad(true);
  }
  std::vector<std::pair<std::string, Tensor>> targets;
  if (check_input) targets.emplace_back("input", x);
  for (const auto& [name, p] : module.named_parameters()) {
    if (p.dtype() != kFloat64)
      return ::testing::AssertionFailure() << "module_gradcheck: parameter " << name << " is not float64";
    if (p.requires_grad()) targets.emplace_back(name, p);
  }
  module.zero_grad(/*set_to_none=*/true);
  const Tensor out = module(x);
  if (out.dtype() != kFloat64) return ::testing::AssertionFailure() << "module_gradcheck: output must be float64";
  const Tensor weights = random_tensor(out.sizes(), 1234);
  (out * weights).sum().backward();

  NoGradGuard no_grad;
  const Tensor x_const = x.detach();
  auto scalar = [&] { return (module(x_const) * weights).sum().item<double>(); };
  for (const auto& [name, t] : targets) {
    const Tensor analytic = (t.grad().defined() ? t.grad() : zeros_like(t)).contiguous();
    const Tensor data = t.detach();  // shares storage: perturb in place
    if (!data.is_contiguous())
      return ::testing::AssertionFailure() << "module_gradcheck: " << name << " not contiguous";
    double* p = data.data_ptr<double>();
    const double* a = analytic.data_ptr<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opt.eps;
      const double fp = scalar();
      p[i] = orig - opt.eps;
      const double fm = scalar();
      p[i] = orig;
      const double numeric = (fp - fm) / (2 * opt.eps);
      if (!(std::abs(a[i] - numeric) <= opt.atol + opt.rtol * std::abs(numeric)))
        return ::testing::AssertionFailure() << "module_gradcheck: " << name << " element " << i << ": analytic "
                                             << a[i] << " vs numeric " << numeric;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace trident::testing
