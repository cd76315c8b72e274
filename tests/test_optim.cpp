// Optimizers (optim/sgd.h, optim/adam.h), gradient clipping (optim/clip.h) and schedulers (optim/scheduler.h).
//
// The expected values are computed in the tests from the formulas (in double), step by step, for a quadratic loss
// L(p) = sum(a * p^2 + b * p), whose gradient 2 a p + b is easy to write down. The fused kernels are checked against
// the naive reference (backends/reference/optim.h) and against the composed-op update.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/optim.h"
#include "trident/optim/adam.h"
#include "trident/optim/clip.h"
#include "trident/optim/scheduler.h"
#include "trident/optim/sgd.h"
#include "trident/trident.h"

namespace trident {
namespace {

using testing::random_tensor;

// |a - b| <= atol + rtol |b| elementwise (float64 comparison of any dtypes), with the first failure reported.
::testing::AssertionResult allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  if (a.sizes() != b.sizes()) return ::testing::AssertionFailure() << "shapes differ";
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i])))
      return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  }
  return ::testing::AssertionSuccess();
}

// ---- the quadratic problem
// --------------------------------------------------------------------------------------------

const std::vector<double> kA = {0.5, 1.5, 0.25, 2.0};
const std::vector<double> kB = {0.3, -1.0, 0.7, 0.0};
const std::vector<double> kP0 = {1.0, -2.0, 0.5, 3.0};

// One training step: zero_grad, L = sum(a p^2 + b p), backward, step.
void train_step(optim::Optimizer& opt, const Tensor& p, DType dtype) {
  const Tensor a = tensor(kA).to(dtype), b = tensor(kB).to(dtype);
  opt.zero_grad();
  sum(a * p * p + b * p).backward();
  opt.step();
}

std::vector<double> grad_of(const std::vector<double>& p) {
  std::vector<double> g(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) g[i] = 2 * kA[i] * p[i] + kB[i];
  return g;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], rtol * std::max(1.0, std::abs(want[i]))) << what << " element " << i;
}

// PyTorch's SGD, written out in double.
std::vector<double> sgd_expected(int steps, double lr, double momentum, double dampening, double wd, bool nesterov) {
  std::vector<double> p = kP0, buf(p.size());
  for (int t = 0; t < steps; ++t) {
    const std::vector<double> g = grad_of(p);
    for (std::size_t i = 0; i < p.size(); ++i) {
      double d = g[i] + wd * p[i];
      if (momentum != 0) {
        buf[i] = t == 0 ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  }
  return p;
}

// PyTorch 1.13's Adam / AdamW, written out in double.
std::vector<double> adam_expected(int steps, double lr, double beta1, double beta2, double eps, double wd,
                                  bool decoupled) {
  std::vector<double> p = kP0, m(p.size()), v(p.size());
  for (int t = 1; t <= steps; ++t) {
    std::vector<double> g = grad_of(p);
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (decoupled)
        p[i] *= 1 - lr * wd;
      else
        g[i] += wd * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
      const double denom = std::sqrt(v[i]) / std::sqrt(bc2) + eps;
      p[i] -= lr / bc1 * m[i] / denom;
    }
  }
  return p;
}

Tensor make_param(DType dtype) { return tensor(kP0).to(dtype).set_requires_grad(true); }

struct SGDCase {
  const char* name;
  double momentum, dampening, wd;
  bool nesterov;
};

TEST(SGD, MatchesHandComputedSteps) {
  const SGDCase cases[] = {{"plain", 0, 0, 0, false},        {"weight decay", 0, 0, 0.1, false},
                           {"momentum", 0.9, 0, 0, false},   {"momentum+dampening", 0.9, 0.3, 0, false},
                           {"nesterov", 0.8, 0, 0.05, true}, {"momentum+decay", 0.5, 0.1, 0.2, false}};
  for (const auto& c : cases) {
    for (bool fused : {true, false}) {
      SCOPED_TRACE(fmt::format("{} fused={}", c.name, fused));
      Tensor p = make_param(kFloat64);
      optim::SGD opt({p}, {.lr = 0.05,
                           .momentum = c.momentum,
                           .dampening = c.dampening,
                           .weight_decay = c.wd,
                           .nesterov = c.nesterov,
                           .fused = fused});
      for (int t = 0; t < 5; ++t) train_step(opt, p, kFloat64);
      expect_close(p.to_vector<double>(), sgd_expected(5, 0.05, c.momentum, c.dampening, c.wd, c.nesterov), 1e-12, "p");
      EXPECT_EQ(opt.state(p).step, 5);
      EXPECT_EQ(opt.state(p).buffers.count("momentum_buffer"), c.momentum != 0 ? 1u : 0u);
    }
  }
}

TEST(SGD, FirstMomentumBufferIsTheGradient) {
  // PyTorch: on the first step the buffer is d itself, without (1 - dampening).
  for (bool fused : {true, false}) {
    Tensor p = tensor({1.0, 2.0}).set_requires_grad(true);
    optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .fused = fused});
    p.set_grad(tensor({0.5, -4.0}));
    opt.step();
    const auto buf = opt.state(p).buffers.at("momentum_buffer").to_vector<double>();
    EXPECT_DOUBLE_EQ(buf[0], 0.5);
    EXPECT_DOUBLE_EQ(buf[1], -4.0);
    const auto pv = p.to_vector<double>();
    EXPECT_DOUBLE_EQ(pv[0], 1.0 - 0.1 * 0.5);
    EXPECT_DOUBLE_EQ(pv[1], 2.0 + 0.1 * 4.0);
    // Second step: buf = 0.9 buf + 0.5 g.
    p.set_grad(tensor({1.0, 1.0}));
    opt.step();
    const auto buf2 = opt.state(p).buffers.at("momentum_buffer").to_vector<double>();
    EXPECT_DOUBLE_EQ(buf2[0], 0.9 * 0.5 + 0.5 * 1.0);
    EXPECT_DOUBLE_EQ(buf2[1], 0.9 * -4.0 + 0.5 * 1.0);
  }
}

TEST(Adam, MatchesHandComputedSteps) {
  struct Case {
    const char* name;
    double lr, beta1, beta2, eps, wd;
  };
  const Case cases[] = {{"default", 1e-2, 0.9, 0.999, 1e-8, 0},
                        {"l2", 0.05, 0.8, 0.99, 1e-6, 0.1},
                        {"big eps", 0.1, 0.5, 0.9, 0.5, 0.01}};
  for (const auto& c : cases) {
    for (bool fused : {true, false}) {
      SCOPED_TRACE(fmt::format("{} fused={}", c.name, fused));
      Tensor p = make_param(kFloat64);
      optim::Adam opt(
          {p}, {.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.wd, .fused = fused});
      for (int t = 0; t < 6; ++t) train_step(opt, p, kFloat64);
      expect_close(p.to_vector<double>(), adam_expected(6, c.lr, c.beta1, c.beta2, c.eps, c.wd, false), 1e-12, "p");
      EXPECT_EQ(opt.state(p).step, 6);
    }
  }
}

TEST(AdamW, MatchesHandComputedSteps) {
  for (bool fused : {true, false}) {
    SCOPED_TRACE(fmt::format("fused={}", fused));
    Tensor p = make_param(kFloat64);
    optim::AdamW opt({p}, {.lr = 0.05, .beta1 = 0.85, .beta2 = 0.95, .eps = 1e-7, .weight_decay = 0.3, .fused = fused});
    EXPECT_EQ(opt.name(), "AdamW");
    for (int t = 0; t < 6; ++t) train_step(opt, p, kFloat64);
    expect_close(p.to_vector<double>(), adam_expected(6, 0.05, 0.85, 0.95, 1e-7, 0.3, true), 1e-12, "p");
  }
  // AdamW's default weight decay is PyTorch's 1e-2; decoupled differs from Adam's L2 penalty.
  Tensor p = make_param(kFloat64);
  optim::AdamW opt({p}, optim::AdamWOptions{});
  EXPECT_EQ(opt.param_groups()[0].get("weight_decay"), 1e-2);
  for (int t = 0; t < 3; ++t) train_step(opt, p, kFloat64);
  expect_close(p.to_vector<double>(), adam_expected(3, 1e-3, 0.9, 0.999, 1e-8, 1e-2, true), 1e-12, "p");
  const auto coupled = adam_expected(3, 1e-3, 0.9, 0.999, 1e-8, 1e-2, false);
  EXPECT_GT(std::abs(p.to_vector<double>()[3] - coupled[3]), 1e-9);
}

TEST(Adam, FirstStepMovesEachWeightByAboutLr) {
  // After one step m / sqrt(v) = g / |g| exactly (bias-corrected), so p moves by lr * sign(g) (up to eps).
  Tensor p = tensor({1.0, -1.0, 5.0}).set_requires_grad(true);
  optim::Adam opt({p}, {.lr = 0.01, .eps = 0});
  p.set_grad(tensor({1e-4, -3.0, 20.0}));
  opt.step();
  const auto v = p.to_vector<double>();
  EXPECT_NEAR(v[0], 1.0 - 0.01, 1e-15);
  EXPECT_NEAR(v[1], -1.0 + 0.01, 1e-15);
  EXPECT_NEAR(v[2], 5.0 - 0.01, 1e-15);
}

TEST(Optimizer, ParamGroupsHaveTheirOwnHyperParameters) {
  Tensor p1 = make_param(kFloat64), p2 = make_param(kFloat64);
  optim::SGD opt({p1}, {.lr = 0.1, .momentum = 0.9});
  opt.add_param_group({p2}, {{"lr", 0.01}, {"weight_decay", 0.5}});
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_EQ(opt.param_groups()[1].get("momentum"), 0.9);  // from the defaults
  const Tensor a = tensor(kA), b = tensor(kB);
  for (int t = 0; t < 4; ++t) {
    opt.zero_grad();
    (sum(a * p1 * p1 + b * p1) + sum(a * p2 * p2 + b * p2)).backward();
    opt.step();
  }
  expect_close(p1.to_vector<double>(), sgd_expected(4, 0.1, 0.9, 0, 0, false), 1e-12, "group 0");
  expect_close(p2.to_vector<double>(), sgd_expected(4, 0.01, 0.9, 0, 0.5, false), 1e-12, "group 1");
}

TEST(Optimizer, SkipsParametersWithoutGradientAndZeroesGradients) {
  Tensor p1 = make_param(kFloat64), p2 = make_param(kFloat64);
  optim::SGD opt({p1, p2}, {.lr = 0.1, .momentum = 0.9});
  p1.set_grad(ones({4}, {.dtype = kFloat64}));
  opt.step();
  EXPECT_EQ(p2.to_vector<double>(), kP0);
  EXPECT_EQ(opt.find_state(p2), nullptr);
  EXPECT_EQ(opt.state(p1).step, 1);
  opt.zero_grad();
  EXPECT_EQ(p1.grad().to_vector<double>(), std::vector<double>(4, 0.0));
  opt.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(p1.grad().defined());
}

TEST(Optimizer, Errors) {
  Tensor p = make_param(kFloat64);
  EXPECT_THROW_MSG(optim::SGD({p}, {.lr = -0.1}), "SGD: invalid learning rate -0.1");
  EXPECT_THROW_MSG(optim::Adam({p}, {.lr = -1}), "Adam: invalid learning rate -1");
  EXPECT_THROW_MSG(optim::SGD({p}, {.momentum = -0.5}), "SGD: invalid momentum -0.5");
  EXPECT_THROW_MSG(optim::SGD({p}, {.weight_decay = -1}), "SGD: invalid weight_decay -1");
  EXPECT_THROW_MSG(optim::SGD({p}, {.nesterov = true}), "SGD: Nesterov momentum requires a momentum > 0");
  EXPECT_THROW_MSG(optim::Adam({p}, {.beta1 = 1.0}), "Adam: invalid beta1 1 (must be in [0, 1))");
  EXPECT_THROW_MSG(optim::AdamW({p}, {.beta2 = -0.1}), "AdamW: invalid beta2 -0.1");
  EXPECT_THROW_MSG(optim::Adam({p}, {.eps = -1e-8}), "Adam: invalid eps");
  EXPECT_THROW_MSG(optim::Adam({p}, {.lr = std::nan("")}), "Adam: invalid learning rate nan");

  const Tensor frozen = tensor({1.0, 2.0});
  EXPECT_THROW_MSG(optim::SGD({p, frozen}, {.lr = 0.1}),
                   "SGD: parameter 1 of group 0 (shape [2]) does not require grad");
  const Tensor non_leaf = p * 2.0;
  EXPECT_THROW_MSG(optim::SGD({non_leaf}, {}), "SGD: parameter 0 of group 0 is not a leaf");
  EXPECT_THROW_MSG(optim::SGD({p, p}, {}), "appears in more than one place");
  EXPECT_THROW_MSG(optim::SGD(std::vector<Tensor>{}, {}), "SGD: the parameter list is empty");

  optim::SGD opt({p}, {.lr = 0.1});
  Tensor q = make_param(kFloat64);
  EXPECT_THROW_MSG(opt.add_param_group({q}, {{"betas", 0.9}}), "SGD: unknown option 'betas' in group 1");
  EXPECT_THROW_MSG(opt.add_param_group({q}, {{"lr", -2}}), "SGD: invalid learning rate -2");
  EXPECT_THROW_MSG(opt.add_param_group({p}), "appears in more than one place");
  EXPECT_EQ(opt.param_groups().size(), 1u);  // nothing was added by the failed calls
  // A bad value set directly in a group is caught at step(), before anything is updated.
  opt.param_groups()[0].options["lr"] = -1;
  p.set_grad(ones({4}, {.dtype = kFloat64}));
  EXPECT_THROW_MSG(opt.step(), "SGD: invalid learning rate -1");
  EXPECT_EQ(p.to_vector<double>(), kP0);
}

// ---- the fused kernels
// ------------------------------------------------------------------------------------------------

TEST(OptimKernels, CpuMatchesReference) {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = dtype == kFloat32 ? 2e-6 : 1e-14;
    for (std::int64_t n : {1, 7, 1000, 40001}) {  // the last one runs on several threads
      SCOPED_TRACE(fmt::format("{} n={}", dtype_name(dtype), n));
      const Tensor p0 = random_tensor({n}, 1, 0, 0, dtype), g = random_tensor({n}, 2, 0, 0, dtype);
      const Tensor b0 = random_tensor({n}, 3, 0, 0, dtype);
      for (bool first : {true, false}) {
        for (bool nesterov : {false, true}) {
          const kernels::SGDStepArgs args{.lr = 0.1,
                                          .momentum = 0.9,
                                          .dampening = nesterov ? 0 : 0.2,
                                          .weight_decay = 0.01,
                                          .nesterov = nesterov,
                                          .first_step = first};
          Tensor p1 = p0.clone(), p2 = p0.clone(), b1 = b0.clone(), b2 = b0.clone();
          kernels::sgd_step(kCPU, p1, g, b1, args);
          reference::sgd_step(p2, g, b2, args);
          EXPECT_TRUE(allclose(p1, p2, tol, tol));
          EXPECT_TRUE(allclose(b1, b2, tol, tol));
        }
      }
      for (bool decoupled : {false, true}) {
        const kernels::AdamStepArgs args{.lr = 0.01,
                                         .beta1 = 0.9,
                                         .beta2 = 0.99,
                                         .eps = 1e-8,
                                         .weight_decay = 0.1,
                                         .decoupled_weight_decay = decoupled,
                                         .step = 3};
        const Tensor m0 = random_tensor({n}, 4, 0, 0, dtype), v0 = random_tensor({n}, 5, 0.0, 1.0, dtype);
        Tensor p1 = p0.clone(), p2 = p0.clone(), m1 = m0.clone(), m2 = m0.clone(), v1 = v0.clone(), v2 = v0.clone();
        kernels::adam_step(kCPU, p1, g, m1, v1, args);
        reference::adam_step(p2, g, m2, v2, args);
        EXPECT_TRUE(allclose(p1, p2, tol, tol));
        EXPECT_TRUE(allclose(m1, m2, tol, tol));
        EXPECT_TRUE(allclose(v1, v2, tol, tol));
      }
    }
  }
}

// Float32 training of a larger parameter, fused against composed: the same sequence of roundings up to fused
// multiply-adds, so they agree to a few ulps after many steps.
template <typename Opt, typename Options>
void expect_fused_matches_composed(Options options) {
  const Tensor init = random_tensor({2, 20011}, 11, 0, 0, kFloat32);  // several threads, an odd tail
  Tensor pf = init.clone().set_requires_grad(true), pc = init.clone().set_requires_grad(true);
  options.fused = true;
  Opt fused({pf}, options);
  options.fused = false;
  Opt composed({pc}, options);
  for (int t = 0; t < 8; ++t) {
    const Tensor g = random_tensor({2, 20011}, 100 + t, 0, 0, kFloat32);
    pf.set_grad(g.clone());
    pc.set_grad(g.clone());
    fused.step();
    composed.step();
  }
  EXPECT_TRUE(allclose(pf, pc, 1e-5, 1e-6));
}

TEST(OptimKernels, FusedMatchesComposedFloat32) {
  expect_fused_matches_composed<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2});
  expect_fused_matches_composed<optim::SGD>(
      optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true});
  expect_fused_matches_composed<optim::Adam>(optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-2});
  expect_fused_matches_composed<optim::AdamW>(optim::AdamWOptions{.lr = 1e-2});
}

TEST(OptimKernels, NonContiguousParametersUseTheComposedUpdate) {
  // A transposed view as a parameter: the fused kernel needs contiguous tensors, the composed path takes any.
  Tensor base = random_tensor({3, 4}, 7);
  Tensor p = base.t().contiguous().t().detach().set_requires_grad(true);  // column-major storage
  ASSERT_FALSE(p.is_contiguous());
  Tensor q = base.clone().set_requires_grad(true);
  optim::Adam a({p}, {.lr = 0.1}), b({q}, {.lr = 0.1, .fused = false});
  const Tensor g = random_tensor({3, 4}, 8);
  p.set_grad(g.t().contiguous().t());
  q.set_grad(g.clone());
  a.step();
  b.step();
  EXPECT_TRUE(allclose(p, q, 1e-15, 1e-15));
}

// ---- clip_grad_norm
// ---------------------------------------------------------------------------------------------------

TEST(ClipGradNorm, L2NormAndClipping) {
  Tensor a = zeros({2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor b = zeros({1}, {.dtype = kFloat64, .requires_grad = true});
  Tensor c = zeros({3}, {.dtype = kFloat64, .requires_grad = true});  // no gradient: skipped
  a.set_grad(tensor({3.0, 4.0}));
  b.set_grad(tensor({12.0}));
  const double total = optim::clip_grad_norm({a, b, c}, 6.5);
  EXPECT_DOUBLE_EQ(total, 13.0);
  const double coef = 6.5 / (13.0 + 1e-6);
  EXPECT_DOUBLE_EQ(a.grad().at<double>({0}), 3.0 * coef);
  EXPECT_DOUBLE_EQ(a.grad().at<double>({1}), 4.0 * coef);
  EXPECT_DOUBLE_EQ(b.grad().at<double>({0}), 12.0 * coef);
  EXPECT_FALSE(c.grad().defined());
  // The norm after clipping is max_norm (up to the 1e-6); a larger max_norm leaves the gradients alone.
  const double again = optim::clip_grad_norm({a, b, c}, 7.0);
  EXPECT_NEAR(again, 6.5, 1e-6);
  EXPECT_DOUBLE_EQ(b.grad().at<double>({0}), 12.0 * coef);
}

TEST(ClipGradNorm, OtherNormsAndFloat32) {
  auto make = [](std::vector<float> g) {
    Tensor p = zeros({static_cast<std::int64_t>(g.size())}, {.requires_grad = true});
    p.set_grad(tensor(g));
    return p;
  };
  {
    Tensor a = make({1, -2}), b = make({-3});
    EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a, b}, 100.0, 1.0), 6.0);
    EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1, -2}));  // not clipped: 6 < 100
  }
  {
    Tensor a = make({1, -2}), b = make({-3});
    EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a, b}, 1.5, optim::kInfNorm), 3.0);
    EXPECT_FLOAT_EQ(b.grad().at<float>({0}), static_cast<float>(-3 * 1.5 / (3 + 1e-6)));
  }
  {
    Tensor a = make({1, -2}), b = make({-3});
    EXPECT_NEAR(optim::clip_grad_norm({a, b}, 10.0, 3.0), std::cbrt(1.0 + 8 + 27), 1e-12);
  }
  Tensor none = zeros({2}, {.requires_grad = true});
  EXPECT_EQ(optim::clip_grad_norm({none}, 1.0), 0.0);
}

TEST(ClipGradNorm, NonFiniteAndErrors) {
  Tensor a = zeros({2}, {.dtype = kFloat64, .requires_grad = true});
  a.set_grad(tensor({1.0, std::numeric_limits<double>::infinity()}));
  EXPECT_THROW_MSG(optim::clip_grad_norm({a}, 1.0, 2.0, true), "clip_grad_norm: the total norm of order 2");
  EXPECT_TRUE(std::isinf(optim::clip_grad_norm({a}, 1.0)));
  EXPECT_THROW_MSG(optim::clip_grad_norm({a}, -1.0), "clip_grad_norm: max_norm must be >= 0, got -1");
  EXPECT_THROW_MSG(optim::clip_grad_norm({a}, 1.0, 0.0), "clip_grad_norm: norm_type must be > 0");
}

// ---- schedulers
// -------------------------------------------------------------------------------------------------------

// The lr of group 0 after 0, 1, ..., n - 1 calls of step().
std::vector<double> lr_sequence(optim::Optimizer& opt, optim::LRScheduler& sched, int n) {
  std::vector<double> lrs;
  for (int e = 0; e < n; ++e) {
    if (e > 0) sched.step();
    lrs.push_back(opt.param_groups()[0].lr());
    EXPECT_EQ(sched.get_lr()[0], lrs.back());
  }
  return lrs;
}

TEST(Schedulers, StepLR) {
  Tensor p = make_param(kFloat64);
  optim::SGD opt({p}, {.lr = 0.4});
  optim::StepLR sched(opt, 3, 0.5);
  const auto lrs = lr_sequence(opt, sched, 10);
  for (int e = 0; e < 10; ++e) EXPECT_DOUBLE_EQ(lrs[e], 0.4 * std::pow(0.5, e / 3)) << e;
  EXPECT_EQ(lrs[2], 0.4);
  EXPECT_EQ(lrs[3], 0.2);
  EXPECT_EQ(lrs[9], 0.05);
}

TEST(Schedulers, CosineClosedForm) {
  Tensor p = make_param(kFloat64);
  optim::SGD opt({p}, {.lr = 1.0});
  optim::CosineAnnealingLR sched(opt, 8, 0.1);
  const auto lrs = lr_sequence(opt, sched, 12);
  for (int e = 0; e < 12; ++e) EXPECT_DOUBLE_EQ(lrs[e], 0.1 + 0.9 * (1 + std::cos(std::numbers::pi * e / 8)) / 2) << e;
  EXPECT_DOUBLE_EQ(lrs[0], 1.0);
  EXPECT_DOUBLE_EQ(lrs[4], 0.55);
  EXPECT_DOUBLE_EQ(lrs[8], 0.1);
}

TEST(Schedulers, WarmupThenCosineOrStep) {
  Tensor p = make_param(kFloat64);
  optim::SGD opt({p}, {.lr = 0.5});
  optim::LinearWarmup sched(opt, 4, 0.1, std::make_unique<optim::CosineAnnealingLR>(opt, 6, 0.0));
  const auto lrs = lr_sequence(opt, sched, 13);
  for (int e = 0; e < 4; ++e) EXPECT_DOUBLE_EQ(lrs[e], 0.5 * (0.1 + 0.9 * e / 4.0)) << e;
  for (int e = 4; e < 13; ++e) EXPECT_DOUBLE_EQ(lrs[e], 0.5 * (1 + std::cos(std::numbers::pi * (e - 4) / 6)) / 2) << e;
  EXPECT_DOUBLE_EQ(lrs[0], 0.05);
  EXPECT_DOUBLE_EQ(lrs[4], 0.5);  // the cosine starts afresh at the base lr
  EXPECT_NEAR(lrs[10], 0.0, 1e-17);

  Tensor q = make_param(kFloat64);
  optim::SGD opt2({q}, {.lr = 1.0});
  optim::LinearWarmup sched2(opt2, 2, 0.5, std::make_unique<optim::StepLR>(opt2, 2, 0.1));
  const std::vector<double> want = {0.5, 0.75, 1.0, 1.0, 0.1, 0.1, 0.01};
  const auto got = lr_sequence(opt2, sched2, 7);
  for (std::size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(got[e], want[e], 1e-16) << e;

  // Alone, the warm-up holds the base lr after warmup_steps.
  Tensor r = make_param(kFloat64);
  optim::SGD opt3({r}, {.lr = 2.0});
  optim::LinearWarmup sched3(opt3, 2, 0.0);
  EXPECT_EQ(lr_sequence(opt3, sched3, 4), (std::vector<double>{0.0, 1.0, 2.0, 2.0}));
}

TEST(Schedulers, EveryGroupFollowsItsBaseLrAndEpochsCanBeSet) {
  Tensor p1 = make_param(kFloat64), p2 = make_param(kFloat64);
  optim::SGD opt({p1}, {.lr = 1.0});
  opt.add_param_group({p2}, {{"lr", 0.1}});
  optim::StepLR sched(opt, 2, 0.5);
  for (int e = 0; e < 5; ++e) sched.step();
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 0.25);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.025);
  sched.set_last_epoch(1);
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 1.0);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.1);
  EXPECT_EQ(sched.last_epoch(), 1);

  // The lr reaches the update: one SGD step with the scheduled lr.
  sched.set_last_epoch(2);  // lrs 0.5 and 0.05
  p1.set_grad(ones({4}, {.dtype = kFloat64}));
  opt.step();
  EXPECT_DOUBLE_EQ(p1.at<double>({0}), kP0[0] - 0.5);
}

TEST(Schedulers, Errors) {
  Tensor p = make_param(kFloat64);
  optim::SGD opt({p}, {.lr = 1.0});
  EXPECT_THROW_MSG(optim::StepLR(opt, 0), "StepLR: step_size must be >= 1, got 0");
  EXPECT_THROW_MSG(optim::CosineAnnealingLR(opt, 0), "CosineAnnealingLR: T_max must be >= 1");
  EXPECT_THROW_MSG(optim::LinearWarmup(opt, 0, 0.1), "LinearWarmup: warmup_steps must be >= 1");
  EXPECT_THROW_MSG(optim::LinearWarmup(opt, 3, 1.5), "LinearWarmup: start_factor must be in [0, 1], got 1.5");
  Tensor q = make_param(kFloat64);
  optim::SGD other({q}, {.lr = 1.0});
  EXPECT_THROW_MSG(optim::LinearWarmup(opt, 3, 0.1, std::make_unique<optim::StepLR>(other, 2)),
                   "drives a different optimizer");
  optim::StepLR sched(opt, 2);
  opt.add_param_group({q.detach().clone().set_requires_grad(true)});
  EXPECT_THROW_MSG(sched.step(), "LRScheduler: the optimizer has 2 parameter groups, the scheduler was made for 1");
}

// ---- CUDA (skipped without a device): no fused CUDA kernel, so the composed update runs there
// --------------------------

TEST(OptimCuda, UpdatesOnCudaMatchCpu) {
  if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device";
  const Device cuda = Device::cuda(0);
  const Tensor init = random_tensor({3, 1000}, 41, 0, 0, kFloat32);
  auto train = [&](auto make_optimizer, Device device) {
    Tensor p = init.to(device).clone().set_requires_grad(true);
    auto opt = make_optimizer(p);
    for (int t = 0; t < 4; ++t) {
      p.set_grad(random_tensor({3, 1000}, 50 + t, 0, 0, kFloat32).to(device));
      if (t == 3) {
        EXPECT_NEAR(optim::clip_grad_norm({p}, 10.0), std::sqrt(3000.0), 3.0);  // about sqrt(numel)
      }
      opt->step();
    }
    return p.cpu();
  };
  auto sgd = [](Tensor p) {
    return std::make_unique<optim::SGD>(
        std::vector<Tensor>{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  };
  auto adam = [](Tensor p) {
    return std::make_unique<optim::Adam>(std::vector<Tensor>{p}, optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1});
  };
  auto adamw = [](Tensor p) {
    return std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, optim::AdamWOptions{.lr = 0.01});
  };
  EXPECT_TRUE(allclose(train(sgd, cuda), train(sgd, kCPU), 1e-5, 1e-6));
  EXPECT_TRUE(allclose(train(adam, cuda), train(adam, kCPU), 1e-5, 1e-6));
  EXPECT_TRUE(allclose(train(adamw, cuda), train(adamw, kCPU), 1e-5, 1e-6));
}

}  // namespace
}  // namespace trident
