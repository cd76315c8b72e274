// Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d -- forward values by hand, ties, padding, adaptive windows,
// the float32 CPU kernels (oneDNN / own loops) against the reference, float64 gradchecks, errors.
#include <cmath>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/pool.h"
#include "trident/ops/pool.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

Tensor arange_image(std::int64_t h, std::int64_t w, DType dt) {
  return arange(0, static_cast<double>(h * w), 1, {.dtype = dt}).reshape({1, 1, h, w});
}

std::vector<double> grad_of(const Tensor& x, const std::function<Tensor(const Tensor&)>& f, const Tensor& g) {
  Tensor leaf = x.detach().clone().set_requires_grad(true);
  f(leaf).backward(g);
  return leaf.grad().to_vector<double>();
}

struct PoolCase {
  Shape x;
  Pool2dOptions opt;
  std::string name;
};

std::vector<PoolCase> pool_grid() {
  return {
      {{2, 3, 8, 8}, {.kernel = {2, 2}}, "2x2"},
      {{2, 3, 9, 7}, {.kernel = {3, 3}, .stride = {2, 2}}, "3x3 stride 2 (overlapping)"},
      {{2, 3, 7, 7}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, "padding 1"},
      {{1, 4, 6, 9}, {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0}}, "non-square"},
      {{4, 32, 24, 24}, {.kernel = {2, 2}}, "MNIST pool"},
      {{2, 2, 5, 5}, {.kernel = {1, 1}, .stride = {2, 2}}, "1x1 stride 2"},
  };
}

}  // namespace

// ---- max pooling ------------------------------------------------------------------------------------------------

TEST(MaxPool2d, ForwardAndBackwardByHand) {
  for (DType dt : {kFloat32, kFloat64}) {
    // 4x4 image 0..15, 2x2 windows: maxima at the bottom-right of each window.
    Tensor x = arange_image(4, 4, dt);
    Tensor y = max_pool2d(x, {.kernel = {2, 2}});
    EXPECT_EQ(y.sizes(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{5, 7, 13, 15}));
    const auto g = grad_of(
        x,
        [](const Tensor& t) {
          return max_pool2d(t, {.kernel = {2, 2}});
        },
        tensor({1.0, 2.0, 3.0, 4.0}, {1, 1, 2, 2}).to(dt));
    EXPECT_EQ(g, (std::vector<double>{0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}));
    // Padding never wins: all-negative 2x2 image, 2x2 window padded by 1 -> each output is one real pixel.
    Tensor neg = tensor({-1.0, -2.0, -3.0, -4.0}, {1, 1, 2, 2}).to(dt);
    EXPECT_EQ(max_pool2d(neg, {.kernel = {2, 2}, .padding = {1, 1}}).to_vector<double>(),
              (std::vector<double>{-1, -2, -3, -4}));
    // Floor: a 5x5 image with 2x2 windows drops the last row and column.
    EXPECT_EQ(max_pool2d(arange_image(5, 5, dt), {.kernel = {2, 2}}).to_vector<double>(),
              (std::vector<double>{6, 8, 16, 18}));
  }
}

TEST(MaxPool2d, TiesGoToTheFirstMaximum) {
  // Every window of a constant image is a tie: the first pixel of each window (row-major) takes its gradient, on
  // the oneDNN float32 path and the reference float64 path alike.
  for (DType dt : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = ones({1, 1, 4, 4}, {.dtype = dt});
    const auto g = grad_of(
        x,
        [](const Tensor& t) {
          return max_pool2d(t, {.kernel = {2, 2}});
        },
        ones({1, 1, 2, 2}, {.dtype = dt}));
    EXPECT_EQ(g, (std::vector<double>{1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}));
    // Overlapping windows (3x3, stride 1 on 4x4): windows start at (0,0), (0,1), (1,0), (1,1); each one's first
    // pixel wins.
    const auto g2 = grad_of(
        x,
        [](const Tensor& t) {
          return max_pool2d(t, {.kernel = {3, 3}, .stride = {1, 1}});
        },
        ones({1, 1, 2, 2}, {.dtype = dt}));
    EXPECT_EQ(g2, (std::vector<double>{1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    // A tie inside one window between its second and fourth pixels: the second wins.
    Tensor t = tensor({0.0, 5.0, 1.0, 5.0}, {1, 1, 2, 2}).to(dt);
    EXPECT_EQ(grad_of(
                  t,
                  [](const Tensor& v) {
                    return max_pool2d(v, {.kernel = {2, 2}});
                  },
                  ones({1, 1, 1, 1}, {.dtype = dt})),
              (std::vector<double>{0, 1, 0, 0}));
  }
}

// ---- average pooling --------------------------------------------------------------------------------------------

TEST(AvgPool2d, CountsPadding) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = arange_image(4, 4, dt);
    EXPECT_EQ(avg_pool2d(x, {.kernel = {2, 2}}).to_vector<double>(), (std::vector<double>{2.5, 4.5, 10.5, 12.5}));
    // 2x2 ones, kernel 2, padding 1, stride 2 -> every window holds one real pixel and three padded zeros: 1/4.
    Tensor o = ones({1, 1, 2, 2}, {.dtype = dt});
    EXPECT_EQ(avg_pool2d(o, {.kernel = {2, 2}, .padding = {1, 1}}).to_vector<double>(),
              (std::vector<double>{0.25, 0.25, 0.25, 0.25}));
    // Backward: kernel 3, stride 1, padding 1 on 3x3: each pixel is in as many windows as it has neighbours
    // (itself included) inside the image, each window dividing by 9.
    const auto g = grad_of(
        ones({1, 1, 3, 3}, {.dtype = dt}),
        [](const Tensor& t) {
          return avg_pool2d(t, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}});
        },
        ones({1, 1, 3, 3}, {.dtype = dt}));
    const std::vector<double> expected{4. / 9, 6. / 9, 4. / 9, 6. / 9, 9. / 9, 6. / 9, 4. / 9, 6. / 9, 4. / 9};
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], expected[i], 1e-6) << i;
  }
}

// ---- adaptive average pooling -----------------------------------------------------------------------------------

TEST(AdaptiveAvgPool2d, WindowsFor5To3) {
  // PyTorch's rule for 5 -> 3: start = floor(i * 5 / 3), end = ceil((i + 1) * 5 / 3): [0, 2), [1, 4), [3, 5).
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = arange_image(5, 5, dt);  // x[r][c] = 5 r + c
    Tensor y = adaptive_avg_pool2d(x, {3, 3});
    EXPECT_EQ(y.sizes(), (Shape{1, 1, 3, 3}));
    // mean over rows R and columns C = 5 mean(R) + mean(C); mean of each window: 0.5, 2, 3.5.
    const std::vector<double> m{0.5, 2.0, 3.5};
    std::vector<double> expected;
    for (double r : m)
      for (double c : m) expected.push_back(5 * r + c);
    EXPECT_TRUE(all_close(y, tensor(expected, {1, 1, 3, 3}), 1e-5, 0));
    // Backward along one axis (a 5x1 image to 3x1): pixel 1 is in windows 0 (size 2) and 1 (size 3), pixel 3 in
    // windows 1 and 2 (size 2).
    const auto g = grad_of(
        arange_image(5, 1, dt),
        [](const Tensor& t) {
          return adaptive_avg_pool2d(t, {3, 1});
        },
        ones({1, 1, 3, 1}, {.dtype = dt}));
    const std::vector<double> eg{0.5, 0.5 + 1. / 3, 1. / 3, 1. / 3 + 0.5, 0.5};
    for (std::size_t i = 0; i < eg.size(); ++i) EXPECT_NEAR(g[i], eg[i], 1e-6) << i;
  }
  // Global average pooling and upsampling windows (output larger than the input: windows overlap, size 1 or 2).
  Tensor x = arange_image(2, 2, kFloat32);
  EXPECT_EQ(adaptive_avg_pool2d(x, {1, 1}).to_vector<float>(), (std::vector<float>{1.5f}));
  EXPECT_EQ(adaptive_avg_pool2d(x, {3, 1}).to_vector<float>(), (std::vector<float>{0.5f, 1.5f, 2.5f}));
}

// ---- CPU float32 kernels against the reference ------------------------------------------------------------------

// Tolerance: max pooling only selects and copies values, so it must match exactly. Average pooling sums at most
// kH * kW <= 9 float32 terms (or, in the backward, at most that many window contributions per pixel): an error of a
// few ulp of values of size O(1), far below 1e-6 absolute.
TEST(Pool2d, KernelsMatchReference) {
  std::uint32_t seed = 1;
  for (const PoolCase& c : pool_grid()) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++, 0, 0, kFloat32);
    Tensor out = max_pool2d(x, c.opt);
    kernels::Pool2dParams p{.kernel = c.opt.kernel, .stride = c.opt.stride, .padding = c.opt.padding};
    if (p.stride == std::array<std::int64_t, 2>{0, 0}) p.stride = p.kernel;
    Tensor ref = empty(out.sizes());
    const Tensor ref_ws = reference::max_pool2d_forward(x, ref, p);
    EXPECT_TRUE(all_close(out, ref, 0, 0)) << "max forward";
    Tensor g = random_tensor(out.sizes(), seed++, 0, 0, kFloat32);
    Tensor gx = empty(c.x), gx_ref = empty(c.x);
    const Tensor ws = kernels::max_pool2d_forward(kCPU, x, empty(out.sizes()), p);
    kernels::max_pool2d_backward(kCPU, g, ws, gx, p);
    reference::max_pool2d_backward(g, ref_ws, gx_ref, p);
    EXPECT_TRUE(all_close(gx, gx_ref, 1e-6, 1e-6)) << "max backward";  // sums of overlapping windows' grads

    Tensor avg = avg_pool2d(x, c.opt), avg_ref = empty(avg.sizes());
    reference::avg_pool2d_forward(x, avg_ref, p);
    EXPECT_TRUE(all_close(avg, avg_ref, 1e-6, 1e-6)) << "avg forward";
    kernels::avg_pool2d_backward(kCPU, g, gx, p);
    reference::avg_pool2d_backward(g, gx_ref, p);
    EXPECT_TRUE(all_close(gx, gx_ref, 1e-6, 1e-6)) << "avg backward";
  }
  for (const auto& [in, os] : std::vector<std::pair<Shape, std::array<std::int64_t, 2>>>{
           {{2, 3, 5, 5}, {3, 3}}, {{2, 3, 7, 10}, {3, 4}}, {{2, 3, 4, 4}, {6, 5}}, {{3, 64, 7, 7}, {1, 1}}}) {
    Tensor x = random_tensor(in, seed++, 0, 0, kFloat32);
    Tensor y = adaptive_avg_pool2d(x, os), y_ref = empty(y.sizes());
    reference::adaptive_avg_pool2d_forward(x, y_ref);
    EXPECT_TRUE(all_close(y, y_ref, 1e-6, 1e-5)) << "adaptive forward " << shape_str(in);  // up to 49 terms
    Tensor g = random_tensor(y.sizes(), seed++, 0, 0, kFloat32);
    Tensor gx = empty(in), gx_ref = empty(in);
    kernels::adaptive_avg_pool2d_backward(kCPU, g, gx);
    reference::adaptive_avg_pool2d_backward(g, gx_ref);
    EXPECT_TRUE(all_close(gx, gx_ref, 1e-6, 1e-6)) << "adaptive backward " << shape_str(in);
  }
}

// ---- float64 gradient checks ------------------------------------------------------------------------------------

TEST(Pool2d, Gradcheck) {
  std::uint32_t seed = 50;
  for (const PoolCase& c : {PoolCase{{2, 2, 4, 4}, {.kernel = {2, 2}}, "2x2"},
                            PoolCase{{1, 2, 5, 6}, {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}}, "mixed"}}) {
    SCOPED_TRACE(c.name);
    // Max pooling is differentiable where each window's maximum is unique; N(0, 1) values tie with probability 0
    // and differ by far more than the finite-difference step.
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.opt); },
                          {random_tensor(c.x, seed++)}));
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], c.opt); },
                          {random_tensor(c.x, seed++)}));
  }
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return adaptive_avg_pool2d(in[0], {3, 2});
      },
      {random_tensor({2, 2, 5, 5}, seed++)}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return adaptive_avg_pool2d(in[0], {4, 3});
      },
      {random_tensor({1, 2, 3, 2}, seed++)}));
}

// ---- errors -------------------------------------------------------------------------------------------------------

TEST(Pool2d, Errors) {
  Tensor x = zeros({2, 3, 8, 8});
  EXPECT_THROW_MSG(max_pool2d(zeros({3, 8, 8}), {}), "max_pool2d: expected input [N, C, H, W], got shape [3, 8, 8]");
  EXPECT_THROW_MSG(avg_pool2d(zeros({3, 8, 8}), {}), "avg_pool2d: expected input [N, C, H, W], got shape [3, 8, 8]");
  EXPECT_THROW_MSG(max_pool2d(x, {.kernel = {0, 2}}), "max_pool2d: kernel must be positive, got [0, 2]");
  EXPECT_THROW_MSG(max_pool2d(x, {.kernel = {2, 2}, .stride = {-1, 2}}), "max_pool2d: stride must be positive");
  EXPECT_THROW_MSG(max_pool2d(x, {.kernel = {2, 2}, .padding = {2, 0}}),
                   "max_pool2d: padding must lie in [0, kernel / 2], got padding [2, 0] for kernel [2, 2]");
  EXPECT_THROW_MSG(avg_pool2d(x, {.kernel = {9, 9}}), "avg_pool2d: kernel [9, 9] is larger than the padded input 8x8");
  EXPECT_THROW_MSG(max_pool2d(x.to(kInt64), {}), "max_pool2d: expected a floating tensor");
  EXPECT_THROW_MSG(adaptive_avg_pool2d(x, {0, 2}), "adaptive_avg_pool2d: output size must be positive, got [0, 2]");
  EXPECT_THROW_MSG(adaptive_avg_pool2d(zeros({8, 8}), {2, 2}), "adaptive_avg_pool2d: expected input [N, C, H, W]");
  EXPECT_THROW_MSG(adaptive_avg_pool2d(zeros({1, 1, 0, 4}), {2, 2}), "adaptive_avg_pool2d: expected a non-empty image");
}

TEST(Pool2d, DefaultStrideIsTheKernel) {
  Tensor x = random_tensor({1, 2, 6, 6}, 3, 0, 0, kFloat32);
  EXPECT_TRUE(all_close(max_pool2d(x, {.kernel = {3, 3}}), max_pool2d(x, {.kernel = {3, 3}, .stride = {3, 3}}), 0, 0));
  EXPECT_EQ(avg_pool2d(x, {.kernel = {3, 2}}).sizes(), (Shape{1, 2, 2, 3}));
}
