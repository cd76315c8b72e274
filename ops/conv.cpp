// 2-d convolution and its backward node. Shape contract: ops/conv.h; kernels: backends/kernels.h, "convolution".
//
// x: [N, C_in, H, W], weight: [C_out, C_in / groups, kH, kW], bias: [C_out] or undefined
//   -> [N, C_out, H_out, W_out],  H_out = (H + 2 pad_h - dil_h (kH - 1) - 1) / stride_h + 1
#include "trident/ops/conv.h"

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"

namespace trident {
namespace {

std::string pair_str(const std::array<std::int64_t, 2>& v) { return fmt::format("[{}, {}]", v[0], v[1]); }

kernels::Conv2dParams to_params(const Conv2dOptions& o) {
  return {.stride = o.stride, .padding = o.padding, .dilation = o.dilation, .groups = o.groups};
}

// Note [Convolution backward]
// out = conv(x, W) + b is linear in x and in W separately, so with G = dL/dout:
//   dL/dx = the transposed convolution of G with W (every out element sends G * W[tap] back to the x element the
//           tap read): kernels::conv2d_backward_data;
//   dL/dW[o, c, p, q] = sum over n, i, j of G[n, o, i, j] * (the x element that met W[o, c, p, q] there):
//           kernels::conv2d_backward_weight, which also sums G over n, i, j for dL/db.
// Pixels that no window reads (the right/bottom rows that a stride > 1 skips) get a zero gradient.
struct Conv2dBackward final : autograd::Node {
  std::size_t x = 0;       // saved: the (contiguous) input, for dL/dW
  std::size_t weight = 0;  // saved: the (contiguous) weight, for dL/dx
  kernels::Conv2dParams params;
  std::string name() const override { return "Conv2dBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.contiguous();
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) {
      gx = empty(input_shapes[0], {.dtype = g.dtype(), .device = g.device()});
      kernels::conv2d_backward_data(g.device(), g, saved(weight), gx, params);
    }
    if (needs_input_grad(1) || needs_input_grad(2)) {
      // oneDNN computes dL/dW and dL/db in one pass; dL/dW is computed even when only the bias needs it.
      gw = empty(input_shapes[1], {.dtype = g.dtype(), .device = g.device()});
      if (needs_input_grad(2)) gb = empty(input_shapes[2], {.dtype = g.dtype(), .device = g.device()});
      kernels::conv2d_backward_weight(g.device(), g, saved(x), gw, gb, params);
      if (!needs_input_grad(1)) gw = Tensor();
    }
    return {gx, gw, gb};
  }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_defined("conv2d", x);
  check_defined("conv2d", weight, "weight");
  TRIDENT_CHECK(x.dim() == 4, "conv2d: expected input [N, C_in, H, W], got shape {}", shape_str(x.sizes()));
  TRIDENT_CHECK(weight.dim() == 4, "conv2d: expected weight [C_out, C_in / groups, kH, kW], got shape {}",
                shape_str(weight.sizes()));
  check_floating("conv2d", x);
  TRIDENT_CHECK(x.dtype() == weight.dtype(), "conv2d: dtype mismatch: input is {}, weight is {}", x.dtype(),
                weight.dtype());
  check_same_device("conv2d", x, weight);
  const auto& [stride, padding, dilation, groups] = options;
  TRIDENT_CHECK(stride[0] >= 1 && stride[1] >= 1, "conv2d: stride must be positive, got {}", pair_str(stride));
  TRIDENT_CHECK(padding[0] >= 0 && padding[1] >= 0, "conv2d: padding must be non-negative, got {}", pair_str(padding));
  TRIDENT_CHECK(dilation[0] >= 1 && dilation[1] >= 1, "conv2d: dilation must be positive, got {}", pair_str(dilation));
  TRIDENT_CHECK(groups >= 1, "conv2d: groups must be positive, got {}", groups);
  const std::int64_t N = x.size(0), C_in = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t C_out = weight.size(0), kH = weight.size(2), kW = weight.size(3);
  TRIDENT_CHECK(C_out % groups == 0, "conv2d: C_out = {} (weight {}) is not divisible by groups = {}", C_out,
                shape_str(weight.sizes()), groups);
  TRIDENT_CHECK(C_in == weight.size(1) * groups,
                "conv2d: channel mismatch: input {} has C_in = {}, weight {} with groups = {} expects C_in = {} "
                "(weight.size(1) * groups)",
                shape_str(x.sizes()), C_in, shape_str(weight.sizes()), groups, weight.size(1) * groups);
  TRIDENT_CHECK(kH >= 1 && kW >= 1 && C_out >= 1, "conv2d: weight {} has a zero size", shape_str(weight.sizes()));
  if (bias.defined()) {
    TRIDENT_CHECK(bias.dim() == 1 && bias.size(0) == C_out, "conv2d: expected bias [C_out] = [{}], got shape {}", C_out,
                  shape_str(bias.sizes()));
    TRIDENT_CHECK(bias.dtype() == x.dtype(), "conv2d: dtype mismatch: input is {}, bias is {}", x.dtype(),
                  bias.dtype());
    check_same_device("conv2d", x, bias);
  }
  const std::int64_t ext_h = dilation[0] * (kH - 1) + 1, ext_w = dilation[1] * (kW - 1) + 1;
  const std::int64_t padded_h = H + 2 * padding[0], padded_w = W + 2 * padding[1];
  TRIDENT_CHECK(ext_h <= padded_h && ext_w <= padded_w,
                "conv2d: kernel {}x{} (dilated extent {}x{}) is larger than the padded input {}x{} (input {}, "
                "padding {})",
                kH, kW, ext_h, ext_w, padded_h, padded_w, shape_str(x.sizes()), pair_str(padding));
  const std::int64_t H_out = (padded_h - ext_h) / stride[0] + 1, W_out = (padded_w - ext_w) / stride[1] + 1;

  const kernels::Conv2dParams params = to_params(options);
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty({N, C_out, H_out, W_out}, {.dtype = x.dtype(), .device = x.device()});
  kernels::conv2d_forward(x.device(), xc, wc, bc, out, params);
  if (auto node = autograd::make_node<Conv2dBackward>({&x, &weight, &bias})) {
    node->x = node->save(xc);
    node->weight = node->save(wc);
    node->params = params;
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
