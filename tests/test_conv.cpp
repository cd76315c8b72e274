// conv2d: forward values by hand, the oneDNN float32 kernels against the reference over a grid of shapes and
// options (both layout policies), float64 gradchecks through the reference kernels, errors, the primitive cache.
#include <cmath>
#include <thread>

#include "gradcheck.h"
#include "trident/backends/cpu/conv.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/conv.h"
#include "trident/ops/conv.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

struct ConvCase {
  Shape x, w;
  Conv2dOptions opt;
  bool bias = true;
  std::string name;
};

// The grid: every option on its own and together, 1x1 kernels, non-square images and kernels, groups, no bias,
// the MNIST CNN shapes (at a small batch).
std::vector<ConvCase> conv_grid() {
  return {
      {{2, 3, 7, 7}, {4, 3, 3, 3}, {}, true, "plain 3x3"},
      {{2, 3, 8, 7}, {5, 3, 3, 3}, {.stride = {2, 2}}, true, "stride 2"},
      {{2, 3, 7, 9}, {4, 3, 3, 3}, {.padding = {1, 1}}, true, "padding 1"},
      {{1, 2, 9, 9}, {3, 2, 3, 3}, {.dilation = {2, 2}}, true, "dilation 2"},
      {{2, 4, 6, 6}, {6, 2, 3, 3}, {.groups = 2}, true, "groups 2"},
      {{2, 3, 6, 6}, {4, 3, 3, 3}, {}, false, "no bias"},
      {{2, 8, 5, 5}, {16, 8, 1, 1}, {}, true, "1x1"},
      {{2, 3, 5, 9}, {4, 3, 2, 3}, {.stride = {1, 2}, .padding = {0, 1}}, true, "non-square"},
      {{2, 4, 11, 10},
       {8, 2, 3, 2},
       {.stride = {2, 3}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2},
       true,
       "everything"},
      {{2, 6, 5, 5}, {6, 1, 3, 3}, {.padding = {1, 1}, .groups = 6}, false, "depthwise"},
      {{3, 1, 28, 28}, {32, 1, 3, 3}, {}, true, "MNIST conv1"},
      {{3, 32, 26, 26}, {64, 32, 3, 3}, {}, true, "MNIST conv2"},
  };
}

kernels::Conv2dParams params_of(const Conv2dOptions& o) {
  return {.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
}


// Tolerance of a float32 kernel against the double-accumulating reference. The kernel accumulates K products in
// float32 (K = C_in/G * kH * kW for the forward and backward-data terms, N * H_out * W_out for the weight
// gradient); each rounding adds at most 2^-24 relative to the running sum, so the error is bounded by about
// K * 2^-24 * sum |terms|. With N(0, 1) inputs the sum of |terms| is about K, and oneDNN's blocked summation keeps
// the error growth near sqrt(K) in practice; atol = rtol = 1e-5 * K covers the bound's worst case on these grids
// (K <= 288 for the forward, K <= 1352 for the weight gradient) while still catching a wrong or missing term, which
// is O(1).
double tolerance_for(std::int64_t terms) { return 1e-5 * static_cast<double>(std::max<std::int64_t>(terms, 16)); }

class ConvLayouts : public ::testing::TestWithParam<cpu::ConvLayout> {
 protected:
  void SetUp() override {
    previous_ = cpu::conv_layout();
    cpu::set_conv_layout(GetParam());
  }
  void TearDown() override { cpu::set_conv_layout(previous_); }
  cpu::ConvLayout previous_ = cpu::ConvLayout::Plain;
};

}  // namespace

// ---- forward values by hand -----------------------------------------------------------------------------------------

TEST(Conv2d, ForwardByHand) {
  // x = [[1 2 3], [4 5 6], [7 8 9]], w = [[1 0], [0 -1]]: out[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere; + bias.
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {1, 1, 3, 3}).to(dt);
    Tensor w = tensor({1.0, 0.0, 0.0, -1.0}, {1, 1, 2, 2}).to(dt);
    Tensor b = tensor({0.5}).to(dt);
    Tensor y = conv2d(x, w, b);
    EXPECT_EQ(y.sizes(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-3.5, -3.5, -3.5, -3.5}));
    // padding 1, stride 2 on the same image: the windows start at -1, 1 -> out[0][0] = -x[0][0], out[0][1] = -x[0][2],
    // out[1][0] = -x[2][0], out[1][1] = x[1][1] - x[2][2].
    Tensor z = conv2d(x, w, Tensor(), {.stride = {2, 2}, .padding = {1, 1}});
    EXPECT_EQ(z.sizes(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(z.to_vector<double>(), (std::vector<double>{-1, -3, -7, 5 - 9}));
    // dilation 2 with a 2x2 kernel: one window reading x[0][0] and x[2][2].
    Tensor d = conv2d(x, w, Tensor(), {.dilation = {2, 2}});
    EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{1 - 9}));
  }
}

TEST(Conv2d, GroupsSplitChannels) {
  // Two groups of one channel each: output channel g only sees input channel g.
  Tensor x = tensor({1.f, 2.f, 3.f, 4.f, 10.f, 20.f, 30.f, 40.f}, {1, 2, 2, 2});
  Tensor w = tensor({1.f, 1.f, 1.f, 1.f, 2.f, 0.f, 0.f, 0.f}, {2, 1, 2, 2});
  Tensor y = conv2d(x, w, Tensor(), {.groups = 2});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{10.f, 20.f}));
}

// ---- oneDNN float32 kernels against the reference
// ---------------------------------------------------------------------

TEST_P(ConvLayouts, KernelsMatchReference) {
  std::uint32_t seed = 10;
  for (const ConvCase& c : conv_grid()) {
    SCOPED_TRACE(c.name);
    const kernels::Conv2dParams p = params_of(c.opt);
    Tensor x = random_tensor(c.x, seed++, 0, 0, kFloat32);
    Tensor w = random_tensor(c.w, seed++, 0, 0, kFloat32);
    Tensor b = c.bias ? random_tensor({c.w[0]}, seed++, 0, 0, kFloat32) : Tensor();
    Tensor out = conv2d(x, w, b, c.opt);
    Tensor ref = empty(out.sizes());
    reference::conv2d_forward(x, w, b, ref, p);
    const std::int64_t k_fwd = c.w[1] * c.w[2] * c.w[3];
    EXPECT_TRUE(all_close(out, ref, tolerance_for(k_fwd), tolerance_for(k_fwd))) << "forward";

    Tensor g = random_tensor(out.sizes(), seed++, 0, 0, kFloat32);
    Tensor gx = empty(c.x), gx_ref = empty(c.x);
    kernels::conv2d_backward_data(kCPU, g, w, gx, p);
    reference::conv2d_backward_data(g, w, gx_ref, p);
    // Each x element receives at most C_out/G * kH * kW terms.
    const std::int64_t k_data = c.w[0] / c.opt.groups * c.w[2] * c.w[3];
    EXPECT_TRUE(all_close(gx, gx_ref, tolerance_for(k_data), tolerance_for(k_data))) << "backward data";

    Tensor gw = empty(c.w), gw_ref = empty(c.w);
    Tensor gb = c.bias ? empty({c.w[0]}) : Tensor(), gb_ref = c.bias ? empty({c.w[0]}) : Tensor();
    kernels::conv2d_backward_weight(kCPU, g, x, gw, gb, p);
    reference::conv2d_backward_weight(g, x, gw_ref, gb_ref, p);
    const std::int64_t k_weight = out.size(0) * out.size(2) * out.size(3);
    EXPECT_TRUE(all_close(gw, gw_ref, tolerance_for(k_weight), tolerance_for(k_weight))) << "backward weight";
    if (c.bias) {
      EXPECT_TRUE(all_close(gb, gb_ref, tolerance_for(k_weight), tolerance_for(k_weight))) << "bias grad";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Conv2d, ConvLayouts, ::testing::Values(cpu::ConvLayout::Plain, cpu::ConvLayout::Preferred),
                         [](const auto& info) {
                           return std::string(info.param == cpu::ConvLayout::Plain ? "Plain" : "Preferred");
                         });

TEST(Conv2d, AutogradFloat32MatchesKernels) {
  // The op's backward node routes grad_out to both backward kernels (and the bias gradient is sum of grad_out).
  Tensor x = random_tensor({2, 3, 6, 5}, 1, 0, 0, kFloat32).set_requires_grad(true);
  Tensor w = random_tensor({4, 3, 3, 3}, 2, 0, 0, kFloat32).set_requires_grad(true);
  Tensor b = random_tensor({4}, 3, 0, 0, kFloat32).set_requires_grad(true);
  const Conv2dOptions opt{.padding = {1, 1}};
  Tensor y = conv2d(x, w, b, opt);
  y.sum().backward();
  Tensor ones_g = ones(y.sizes());
  Tensor gx_ref = empty(x.sizes()), gw_ref = empty(w.sizes()), gb_ref = empty({4});
  reference::conv2d_backward_data(ones_g, w.detach(), gx_ref, params_of(opt));
  reference::conv2d_backward_weight(ones_g, x.detach(), gw_ref, gb_ref, params_of(opt));
  EXPECT_TRUE(all_close(x.grad(), gx_ref, 1e-4, 1e-4));
  EXPECT_TRUE(all_close(w.grad(), gw_ref, 1e-3, 1e-4));
  EXPECT_TRUE(all_close(b.grad(), gb_ref, 1e-4, 0));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>(4, 2.f * 6 * 5)));
}

TEST(Conv2d, NonContiguousInputs) {
  Tensor x = random_tensor({2, 5, 6, 3}, 4, 0, 0, kFloat32).permute({0, 3, 1, 2});  // [2, 3, 5, 6], channels last
  Tensor w = random_tensor({4, 3, 3, 3}, 5, 0, 0, kFloat32);
  EXPECT_FALSE(x.is_contiguous());
  EXPECT_TRUE(all_close(conv2d(x, w), conv2d(x.contiguous(), w), 0, 0));
}

// ---- float64 gradient checks through the reference kernels
// ------------------------------------------------------------

TEST(Conv2d, Gradcheck) {
  const std::vector<ConvCase> cases = {
      {{2, 2, 5, 4}, {3, 2, 3, 2}, {}, true, "plain"},
      {{1, 2, 6, 5}, {2, 2, 2, 2}, {.stride = {2, 1}, .padding = {1, 0}}, true, "stride, padding"},
      {{1, 2, 7, 6}, {2, 2, 2, 2}, {.dilation = {2, 3}}, false, "dilation, no bias"},
      {{1, 4, 4, 4}, {4, 2, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 2}, true, "groups"},
      {{2, 3, 3, 3}, {2, 3, 1, 1}, {}, true, "1x1"},
  };
  std::uint32_t seed = 100;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++);
    Tensor b = c.bias ? random_tensor({c.w[0]}, seed++) : Tensor();
    EXPECT_TRUE(
        gradcheck([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.opt); }, {x, w, b}));
  }
}

TEST(Conv2d, OnlyTheNeededGradients) {
  Tensor x = random_tensor({1, 2, 4, 4}, 1);
  Tensor w = random_tensor({3, 2, 3, 3}, 2).set_requires_grad(true);
  Tensor b = random_tensor({3}, 3);
  conv2d(x, w, b).sum().backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  Tensor b2 = random_tensor({3}, 3).set_requires_grad(true);
  conv2d(x, w.detach(), b2).sum().backward();
  EXPECT_EQ(b2.grad().to_vector<double>(), (std::vector<double>(3, 4.0)));
}

// ---- errors -------------------------------------------------------------------------------------------------------

TEST(Conv2d, Errors) {
  Tensor x = zeros({2, 3, 28, 28}), w = zeros({8, 3, 3, 3});
  EXPECT_THROW_MSG(conv2d(zeros({3, 28, 28}), w), "conv2d: expected input [N, C_in, H, W], got shape [3, 28, 28]");
  EXPECT_THROW_MSG(conv2d(x, zeros({8, 3, 3})), "conv2d: expected weight [C_out, C_in / groups, kH, kW]");
  EXPECT_THROW_MSG(conv2d(x, zeros({8, 2, 3, 3})), "conv2d: channel mismatch: input [2, 3, 28, 28] has C_in = 3");
  EXPECT_THROW_MSG(conv2d(zeros({2, 4, 8, 8}), zeros({8, 4, 3, 3}), Tensor(), {.groups = 2}),
                   "with groups = 2 expects C_in = 8");
  EXPECT_THROW_MSG(conv2d(zeros({2, 4, 8, 8}), zeros({9, 2, 3, 3}), Tensor(), {.groups = 2}),
                   "C_out = 9 (weight [9, 2, 3, 3]) is not divisible by groups = 2");
  EXPECT_THROW_MSG(conv2d(zeros({1, 3, 4, 4}), zeros({8, 3, 5, 5})),
                   "conv2d: kernel 5x5 (dilated extent 5x5) is larger than the padded input 4x4");
  EXPECT_THROW_MSG(conv2d(zeros({1, 3, 4, 4}), zeros({8, 3, 3, 3}), Tensor(), {.dilation = {2, 2}}),
                   "dilated extent 5x5");
  EXPECT_NO_THROW(conv2d(zeros({1, 3, 4, 4}), zeros({8, 3, 5, 5}), Tensor(), {.padding = {1, 1}}));
  EXPECT_THROW_MSG(conv2d(x, w, Tensor(), {.stride = {0, 1}}), "conv2d: stride must be positive, got [0, 1]");
  EXPECT_THROW_MSG(conv2d(x, w, Tensor(), {.padding = {-1, 0}}), "conv2d: padding must be non-negative");
  EXPECT_THROW_MSG(conv2d(x, w, Tensor(), {.dilation = {1, 0}}), "conv2d: dilation must be positive");
  EXPECT_THROW_MSG(conv2d(x, w, Tensor(), {.groups = 0}), "conv2d: groups must be positive");
  EXPECT_THROW_MSG(conv2d(x, w, zeros({7})), "conv2d: expected bias [C_out] = [8], got shape [7]");
  EXPECT_THROW_MSG(conv2d(x, w, zeros({8, 1})), "conv2d: expected bias [C_out] = [8], got shape [8, 1]");
  EXPECT_THROW_MSG(conv2d(x, w.to(kFloat64)), "conv2d: dtype mismatch: input is float32, weight is float64");
  EXPECT_THROW_MSG(conv2d(x, w, zeros({8}, {.dtype = kFloat64})), "conv2d: dtype mismatch: input is float32, bias");
  EXPECT_THROW_MSG(conv2d(x.to(kInt64), w.to(kInt64)), "conv2d: expected a floating tensor");
}

TEST(Conv2d, EmptyBatch) {
  Tensor x = zeros({0, 3, 8, 8}).set_requires_grad(true);
  Tensor w = random_tensor({4, 3, 3, 3}, 1, 0, 0, kFloat32).set_requires_grad(true);
  Tensor y = conv2d(x, w, zeros({4}));
  EXPECT_EQ(y.sizes(), (Shape{0, 4, 6, 6}));
  y.sum().backward();
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(w.numel(), 0.f));
}

// ---- the primitive cache --------------------------------------------------------------------------------------------

TEST(ConvCache, ReusesPrimitivesPerSignature) {
  cpu::clear_conv_cache();
  Tensor x = random_tensor({2, 3, 9, 9}, 1, 0, 0, kFloat32), w = random_tensor({4, 3, 3, 3}, 2, 0, 0, kFloat32);
  conv2d(x, w);
  conv2d(x, w);
  conv2d(x, w, Tensor(), {.padding = {1, 1}});
  const cpu::ConvCacheStats s = cpu::conv_cache_stats();
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.entries, 2u);
}

TEST(ConvCache, ConcurrentCallsAgree) {
  // Several threads create and hit cache entries at once (same and different signatures); every result must equal
  // the single-threaded one bit for bit (same primitives, same inputs).
  cpu::clear_conv_cache();
  std::vector<Tensor> xs, ws, expected;
  for (std::int64_t k = 0; k < 3; ++k) {
    xs.push_back(random_tensor({2, 3, 8 + k, 8}, static_cast<std::uint32_t>(k), 0, 0, kFloat32));
    ws.push_back(random_tensor({4, 3, 3, 3}, static_cast<std::uint32_t>(10 + k), 0, 0, kFloat32));
  }
  std::vector<std::vector<Tensor>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep)
        for (std::size_t k = 0; k < xs.size(); ++k) results[t].push_back(conv2d(xs[k], ws[k]));
    });
  for (auto& th : threads) th.join();
  for (std::size_t k = 0; k < xs.size(); ++k) expected.push_back(conv2d(xs[k], ws[k]));
  for (const auto& r : results)
    for (std::size_t i = 0; i < r.size(); ++i) EXPECT_TRUE(all_close(r[i], expected[i % xs.size()], 0, 0));
  EXPECT_EQ(cpu::conv_cache_stats().entries, 3u);
}
