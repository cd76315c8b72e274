// 2-d pooling ops and their backward nodes. Shape contract: ops/pool.h; kernels: backends/kernels.h, "pooling".
//
// x: [N, C, H, W] -> [N, C, H_out, W_out], H_out = (H + 2 pad - kernel) / stride + 1 (floor)
#include "trident/ops/pool.h"

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"

namespace trident {
namespace {

std::string pair_str(const std::array<std::int64_t, 2>& v) { return fmt::format("[{}, {}]", v[0], v[1]); }

void check_pool_input(const char* op, const Tensor& x) {
  check_defined(op, x);
  TRIDENT_CHECK(x.dim() == 4, "{}: expected input [N, C, H, W], got shape {}", op, shape_str(x.sizes()));
  check_floating(op, x);
}

// Checks the options against x and fills in the default stride; returns the kernel parameters and the output shape.
std::pair<kernels::Pool2dParams, Shape> pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& o) {
  check_pool_input(op, x);
  kernels::Pool2dParams p{.kernel = o.kernel, .stride = o.stride, .padding = o.padding};
  if (p.stride == std::array<std::int64_t, 2>{0, 0}) p.stride = p.kernel;
  TRIDENT_CHECK(p.kernel[0] >= 1 && p.kernel[1] >= 1, "{}: kernel must be positive, got {}", op, pair_str(p.kernel));
  TRIDENT_CHECK(p.stride[0] >= 1 && p.stride[1] >= 1,
                "{}: stride must be positive (or {{0, 0}} for the kernel size), "
                "got {}",
                op, pair_str(o.stride));
  TRIDENT_CHECK(
      p.padding[0] >= 0 && p.padding[1] >= 0 && 2 * p.padding[0] <= p.kernel[0] && 2 * p.padding[1] <= p.kernel[1],
      "{}: padding must lie in [0, kernel / 2], got padding {} for kernel {}", op, pair_str(p.padding),
      pair_str(p.kernel));
  const std::int64_t padded_h = x.size(2) + 2 * p.padding[0], padded_w = x.size(3) + 2 * p.padding[1];
  TRIDENT_CHECK(p.kernel[0] <= padded_h && p.kernel[1] <= padded_w,
                "{}: kernel {} is larger than the padded input {}x{} (input {}, padding {})", op, pair_str(p.kernel),
                padded_h, padded_w, shape_str(x.sizes()), pair_str(p.padding));
  const Shape out{x.size(0), x.size(1), (padded_h - p.kernel[0]) / p.stride[0] + 1,
                  (padded_w - p.kernel[1]) / p.stride[1] + 1};
  return {p, out};
}

// dL/dx[pixel] = sum of dL/dout over the windows the pixel won (the workspace remembers the winners).
struct MaxPool2dBackward final : autograd::Node {
  std::size_t workspace = 0;  // saved: the backend's record of each window's maximum, from the forward kernel
  kernels::Pool2dParams params;
  std::string name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.contiguous();
    Tensor gx = empty(input_shapes[0], {.dtype = g.dtype(), .device = g.device()});
    kernels::max_pool2d_backward(g.device(), g, saved(workspace), gx, params);
    return {gx};
  }
};

// dL/dx[pixel] = sum over the windows holding the pixel of dL/dout / (kH kW). Needs no saved tensor.
struct AvgPool2dBackward final : autograd::Node {
  kernels::Pool2dParams params;
  std::string name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.contiguous();
    Tensor gx = empty(input_shapes[0], {.dtype = g.dtype(), .device = g.device()});
    kernels::avg_pool2d_backward(g.device(), g, gx, params);
    return {gx};
  }
};

// dL/dx[pixel] = sum over the adaptive windows holding the pixel of dL/dout / window size.
struct AdaptiveAvgPool2dBackward final : autograd::Node {
  std::string name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.contiguous();
    Tensor gx = empty(input_shapes[0], {.dtype = g.dtype(), .device = g.device()});
    kernels::adaptive_avg_pool2d_backward(g.device(), g, gx);
    return {gx};
  }
};

}  // namespace

// x: [N, C, H, W] -> [N, C, H_out, W_out]
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  const auto [params, shape] = pool_geometry("max_pool2d", x, options);
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  const Tensor workspace = kernels::max_pool2d_forward(x.device(), x.detach().contiguous(), out, params);
  if (auto node = autograd::make_node<MaxPool2dBackward>({&x})) {
    node->workspace = node->save(workspace);
    node->params = params;
    autograd::set_history(out, node);
  }
  return out;
}

// x: [N, C, H, W] -> [N, C, H_out, W_out]
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  const auto [params, shape] = pool_geometry("avg_pool2d", x, options);
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  kernels::avg_pool2d_forward(x.device(), x.detach().contiguous(), out, params);
  if (auto node = autograd::make_node<AvgPool2dBackward>({&x})) {
    node->params = params;
    autograd::set_history(out, node);
  }
  return out;
}

// x: [N, C, H, W] -> [N, C, out_h, out_w]
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<std::int64_t, 2> output_size) {
  check_pool_input("adaptive_avg_pool2d", x);
  TRIDENT_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output size must be positive, got {}",
                pair_str(output_size));
  TRIDENT_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_avg_pool2d: expected a non-empty image, got shape {}",
                shape_str(x.sizes()));
  Tensor out =
      empty({x.size(0), x.size(1), output_size[0], output_size[1]}, {.dtype = x.dtype(), .device = x.device()});
  kernels::adaptive_avg_pool2d_forward(x.device(), x.detach().contiguous(), out);
  if (auto node = autograd::make_node<AdaptiveAvgPool2dBackward>({&x})) autograd::set_history(out, node);
  return out;
}

}  // namespace trident
