// batch_norm: forward by hand, running statistics after two steps (hand-computed), train vs eval, the float32 CPU
// kernels (oneDNN and own loops) against the reference, float64 gradchecks, errors.
#include <cmath>

#include "gradcheck.h"
#include "trident/backends/cpu/norm.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/norm.h"
#include "trident/ops/norm.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

class BatchNormImpls : public ::testing::TestWithParam<cpu::BatchNormImpl> {
 protected:
  void SetUp() override {
    previous_ = cpu::batch_norm_impl();
    cpu::set_batch_norm_impl(GetParam());
  }
  void TearDown() override { cpu::set_batch_norm_impl(previous_); }
  cpu::BatchNormImpl previous_ = cpu::BatchNormImpl::Loops;
};

}  // namespace

TEST(BatchNorm, ForwardByHand) {
  for (DType dt : {kFloat32, kFloat64}) {
    // One channel [1, 2, 3, 4]: mean 2.5, biased variance 1.25; weight 2, bias 1.
    Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, {4, 1}).to(dt);
    Tensor y = batch_norm(x, full({1}, 2.0, {.dtype = dt}), ones({1}, {.dtype = dt}), Tensor(), Tensor(), true);
    const double r = 1.0 / std::sqrt(1.25 + 1e-5);
    const std::vector<double> expected{1 - 3 * r, 1 - r, 1 + r, 1 + 3 * r};
    EXPECT_TRUE(all_close(y, tensor(expected, {4, 1}), 1e-6, 1e-6));
  }
}

// running = (1 - momentum) running + momentum batch, with the unbiased batch variance; momentum 0.1.
// Channel 0: step 1 on [1, 2, 3, 4]: mean 2.5, unbiased var 5/3 -> rm = 0.25, rv = 0.9 + 1/6 = 1.0666667.
//            step 2 on [2, 4, 6, 8]: mean 5, unbiased var 20/3 -> rm = 0.225 + 0.5 = 0.725,
//                                                                  rv = 0.96 + 2/3 = 1.6266667.
// Channel 1 holds ten times channel 0: means x10, variances x100:
//            step 1: rm = 2.5, rv = 0.9 + 50/3 = 17.566667; step 2: rm = 2.25 + 5 = 7.25,
//            rv = 15.81 + 200/3 = 82.476667.
TEST(BatchNorm, RunningStatsAfterTwoSteps) {
  for (DType dt : {kFloat32, kFloat64}) {
    for (bool spatial : {false, true}) {
      SCOPED_TRACE(spatial ? "[N, C, H, W]" : "[N, C]");
      Tensor rm = zeros({2}, {.dtype = dt}), rv = ones({2}, {.dtype = dt});
      auto batch = [&](double s) {
        // values s * [1, 2, 3, 4] in channel 0 and ten times that in channel 1, as [4, 2] or [2, 2, 1, 2]
        Tensor t = tensor({1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0}, {4, 2}).to(dt) * s;
        return spatial ? t.reshape({2, 2, 2}).permute({0, 2, 1}).reshape({2, 2, 1, 2}) : t;
      };
      batch_norm(batch(1), Tensor(), Tensor(), rm, rv, true, 0.1);
      EXPECT_TRUE(all_close(rm, tensor({0.25, 2.5}), 1e-6, 1e-6));
      EXPECT_TRUE(all_close(rv, tensor({0.9 + 1.0 / 6, 0.9 + 50.0 / 3}), 1e-5, 1e-6));
      batch_norm(batch(2), Tensor(), Tensor(), rm, rv, true, 0.1);
      EXPECT_TRUE(all_close(rm, tensor({0.725, 7.25}), 1e-6, 1e-6));
      EXPECT_TRUE(all_close(rv, tensor({0.96 + 2.0 / 3, 0.9 * (0.9 + 50.0 / 3) + 200.0 / 3}), 1e-5, 1e-6));
    }
  }
}

TEST(BatchNorm, TrainVersusEval) {
  Tensor x = random_tensor({6, 3, 2, 2}, 1) * 3.0 + 1.0;
  Tensor w = random_tensor({3}, 2), b = random_tensor({3}, 3);
  Tensor rm = tensor({0.5, -1.0, 2.0}), rv = tensor({4.0, 0.25, 1.0});
  const Tensor rm0 = rm.clone(), rv0 = rv.clone();
  // Eval: normalises with the running stats and leaves them alone.
  Tensor y_eval = batch_norm(x, w, b, rm, rv, false);
  EXPECT_TRUE(all_close(rm, rm0, 0, 0));
  EXPECT_TRUE(all_close(rv, rv0, 0, 0));
  {
    const auto xv = x.to_vector<double>(), yv = y_eval.to_vector<double>();
    for (std::size_t k = 0; k < xv.size(); ++k) {
      const std::int64_t c = (static_cast<std::int64_t>(k) / 4) % 3;
      const double e =
          (xv[k] - rm.at<double>({c})) / std::sqrt(rv.at<double>({c}) + 1e-5) * w.at<double>({c}) + b.at<double>({c});
      EXPECT_NEAR(yv[k], e, 1e-12) << k;
    }
  }
  // Train: the output ignores the running stats (same as with none), and the running stats move.
  Tensor y_train = batch_norm(x, w, b, rm, rv, true);
  EXPECT_TRUE(all_close(y_train, batch_norm(x, w, b, Tensor(), Tensor(), true), 0, 0));
  EXPECT_FALSE(all_close(rm, rm0, 1e-3, 0));
  // Without running stats, eval also uses the batch statistics.
  EXPECT_TRUE(all_close(batch_norm(x, w, b, Tensor(), Tensor(), false), y_train, 0, 0));
  // Train output per channel: mean ~ bias, biased std ~ |weight|.
  Tensor y0 = y_train.slice(1, 0, 1);
  EXPECT_NEAR(y0.mean().item<double>(), b.at<double>({0}), 1e-9);
}

// Tolerance: the float32 kernels accumulate each channel's M values (M <= 16 * 13 * 13 = 2704 here) in float32 rows
// summed in double (loops) or oneDNN's blocked float32 sums; the statistics carry a relative error of roughly
// sqrt(M) * 2^-24 < 1e-5, and the normalised outputs and gradients are O(1) sums of a few such terms, so 1e-4
// absolute and relative is an order of magnitude of headroom; a wrong formula is off by O(1).
TEST_P(BatchNormImpls, KernelsMatchReference) {
  std::uint32_t seed = 7;
  struct Case {
    Shape x;
    bool affine;
  };
  for (const Case& c : {Case{{16, 32, 13, 13}, true}, Case{{5, 3, 4, 7}, false}, Case{{64, 10}, true},
                        Case{{3, 130}, false}, Case{{2, 8, 1, 1}, true}}) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(shape_str(c.x) + (training ? " train" : " eval") + (c.affine ? " affine" : ""));
      const std::int64_t C = c.x[1];
      Tensor x = random_tensor(c.x, seed++, 0, 0, kFloat32) * 2.0 + 0.5;
      Tensor w = c.affine ? random_tensor({C}, seed++, 0.5, 1.5, kFloat32) : Tensor();
      Tensor b = c.affine ? random_tensor({C}, seed++, 0, 0, kFloat32) : Tensor();
      Tensor mean = training ? empty({C}) : random_tensor({C}, seed++, 0, 0, kFloat32);
      Tensor var = training ? empty({C}) : random_tensor({C}, seed++, 0.5, 2.0, kFloat32);
      Tensor mean_ref = training ? empty({C}) : mean.clone(), var_ref = training ? empty({C}) : var.clone();
      Tensor out = empty(c.x), out_ref = empty(c.x);
      kernels::batch_norm_forward(kCPU, x, w, b, mean, var, training, 1e-5, out);
      reference::batch_norm_forward(x, w, b, mean_ref, var_ref, training, 1e-5, out_ref);
      EXPECT_TRUE(all_close(out, out_ref, 1e-4, 1e-4)) << "out";
      EXPECT_TRUE(all_close(mean, mean_ref, 1e-5, 1e-5)) << "mean";
      EXPECT_TRUE(all_close(var, var_ref, 1e-5, 1e-4)) << "var";

      Tensor g = random_tensor(c.x, seed++, 0, 0, kFloat32);
      Tensor gx = empty(c.x), gx_ref = empty(c.x);
      Tensor gw = c.affine ? empty({C}) : Tensor(), gw_ref = c.affine ? empty({C}) : Tensor();
      Tensor gb = c.affine ? empty({C}) : Tensor(), gb_ref = c.affine ? empty({C}) : Tensor();
      kernels::batch_norm_backward(kCPU, g, x, w, mean_ref, var_ref, training, 1e-5, gx, gw, gb);
      reference::batch_norm_backward(g, x, w, mean_ref, var_ref, training, 1e-5, gx_ref, gw_ref, gb_ref);
      EXPECT_TRUE(all_close(gx, gx_ref, 1e-4, 1e-4)) << "grad x";
      if (c.affine) {
        // Sums over M values of O(1) terms: relative to sqrt(M) in size, absolute error ~ M 2^-24.
        EXPECT_TRUE(all_close(gw, gw_ref, 1e-3, 1e-4)) << "grad weight";
        EXPECT_TRUE(all_close(gb, gb_ref, 1e-3, 1e-4)) << "grad bias";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BatchNorm, BatchNormImpls,
                         ::testing::Values(cpu::BatchNormImpl::Loops, cpu::BatchNormImpl::OneDnn),
                         [](const auto& info) {
                           return std::string(info.param == cpu::BatchNormImpl::Loops ? "Loops" : "OneDnn");
                         });

TEST(BatchNorm, LargeMeanIsStable) {
  // |mean| >> std: a one-pass E[x^2] - E[x]^2 variance would cancel to garbage in float32.
  Tensor x = random_tensor({64, 4, 8, 8}, 3, 0, 0, kFloat32) + 1000.0;
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  Tensor y_ref = empty(x.sizes()), m = empty({4}), v = empty({4});
  reference::batch_norm_forward(x, Tensor(), Tensor(), m, v, true, 1e-5, y_ref);
  EXPECT_TRUE(all_close(y, y_ref, 1e-3, 1e-3));
}

TEST(BatchNorm, Gradcheck) {
  std::uint32_t seed = 30;
  for (const Shape& shape : {Shape{5, 3}, Shape{3, 2, 3, 2}}) {
    for (bool training : {true, false}) {
      SCOPED_TRACE(shape_str(shape) + (training ? " train" : " eval"));
      const std::int64_t C = shape[1];
      Tensor rm = random_tensor({C}, seed++), rv = random_tensor({C}, seed++, 0.5, 2.0);
      auto f = [&](const std::vector<Tensor>& in) {
        // Clones: the training forward updates the running stats in place, and gradcheck calls f many times.
        return batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), training);
      };
      EXPECT_TRUE(gradcheck(f, {random_tensor(shape, seed++), random_tensor({C}, seed++), random_tensor({C}, seed++)}));
      // Without weight and bias.
      EXPECT_TRUE(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return batch_norm(in[0], Tensor(), Tensor(), rm.clone(), rv.clone(), training);
          },
          {random_tensor(shape, seed++)}));
    }
  }
}

TEST(BatchNorm, Errors) {
  Tensor x = zeros({4, 3, 2, 2});
  EXPECT_THROW_MSG(batch_norm(zeros({4, 3, 2}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                   "batch_norm: expected input [N, C] or [N, C, H, W], got shape [4, 3, 2]");
  EXPECT_THROW_MSG(batch_norm(x, zeros({4}), Tensor(), Tensor(), Tensor(), true),
                   "batch_norm: expected weight [C] = [3], got shape [4]");
  EXPECT_THROW_MSG(batch_norm(x, Tensor(), zeros({3, 1}), Tensor(), Tensor(), true),
                   "batch_norm: expected bias [C] = [3], got shape [3, 1]");
  EXPECT_THROW_MSG(batch_norm(x, Tensor(), Tensor(), zeros({3}), Tensor(), true),
                   "batch_norm: running_mean and running_var must both be given");
  EXPECT_THROW_MSG(batch_norm(x, Tensor(), Tensor(), zeros({3}, {.dtype = kFloat64}), ones({3}), true),
                   "batch_norm: dtype mismatch: input is float32, running_mean is float64");
  EXPECT_THROW_MSG(batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                   "batch_norm: expected more than 1 value per channel when using batch statistics, got input shape "
                   "[1, 3]");
  EXPECT_NO_THROW(batch_norm(zeros({1, 3}), Tensor(), Tensor(), zeros({3}), ones({3}), false));
  EXPECT_THROW_MSG(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0),
                   "batch_norm: eps must be positive");
  EXPECT_THROW_MSG(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 1.5),
                   "batch_norm: momentum must lie in [0, 1]");
  EXPECT_THROW_MSG(batch_norm(x.to(kInt64), Tensor(), Tensor(), Tensor(), Tensor(), true),
                   "batch_norm: expected a floating tensor");
}
