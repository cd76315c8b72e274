// Batch normalisation and its backward node. Shape contract: ops/norm.h; kernels: backends/kernels.h,
// "normalisation".
//
// x: [N, C] or [N, C, H, W]; weight, bias, running_mean, running_var: [C] or undefined -> x's shape
#include "trident/ops/norm.h"

#include <cmath>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"

namespace trident {
namespace {

void check_channel_vector(const Tensor& x, const Tensor& t, const char* what) {
  if (!t.defined()) return;
  TRIDENT_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm: expected {} [C] = [{}], got shape {}", what,
                x.size(1), shape_str(t.sizes()));
  TRIDENT_CHECK(t.dtype() == x.dtype(), "batch_norm: dtype mismatch: input is {}, {} is {}", x.dtype(), what,
                t.dtype());
  check_same_device("batch_norm", x, t);
}

// Note [Batch norm backward]
// Per channel, with the M values x_i of the channel, mu = mean x_i, s2 = mean (x_i - mu)^2, r = 1 / sqrt(s2 + eps),
// xhat_i = (x_i - mu) r, y_i = w xhat_i + b, and g_i = dL/dy_i:
//   dL/db = sum g_i,  dL/dw = sum g_i xhat_i.
// In training mu and s2 depend on every x_j: d mu / dx_j = 1/M, d s2 / dx_j = 2 (x_j - mu) / M (the sum of
// (x_i - mu) is 0, so mu's own dependence drops out of s2's derivative), d r / dx_j = -r^3 (x_j - mu) / M. Hence
//   d xhat_i / dx_j = r (delta_ij - 1/M) - (x_i - mu) r^3 (x_j - mu) / M = r (delta_ij - 1/M - xhat_i xhat_j / M),
//   dL/dx_j = w sum_i g_i d xhat_i / dx_j = w r (g_j - (sum g_i) / M - xhat_j (sum g_i xhat_i) / M).
// In inference mu and s2 are the running statistics, constants: dL/dx_j = w r g_j.
struct BatchNormBackward final : autograd::Node {
  std::size_t x = 0;       // saved: the (contiguous) input, for xhat
  std::size_t weight = 0;  // saved when defined: w scales dL/dx
  std::size_t mean = 0;    // saved: the statistics the forward normalised with (batch or running; see below)
  std::size_t var = 0;
  bool has_weight = false;
  bool batch_stats = true;  // training mode (or no running stats): the statistics depend on x
  double eps = 1e-5;
  std::string name() const override { return "BatchNormBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.contiguous();
    const TensorOptions o{.dtype = g.dtype(), .device = g.device()};
    const Tensor gx = needs_input_grad(0) ? empty(input_shapes[0], o) : Tensor();
    const Tensor gw = needs_input_grad(1) ? empty(input_shapes[1], o) : Tensor();
    const Tensor gb = needs_input_grad(2) ? empty(input_shapes[2], o) : Tensor();
    kernels::batch_norm_backward(g.device(), g, saved(x), has_weight ? saved(weight) : Tensor(), saved(mean),
                                 saved(var), batch_stats, eps, gx, gw, gb);
    return {gx, gw, gb};
  }
};

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  check_defined("batch_norm", x);
  TRIDENT_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input [N, C] or [N, C, H, W], got shape {}",
                shape_str(x.sizes()));
  check_floating("batch_norm", x);
  check_channel_vector(x, weight, "weight");
  check_channel_vector(x, bias, "bias");
  check_channel_vector(x, running_mean, "running_mean");
  check_channel_vector(x, running_var, "running_var");
  TRIDENT_CHECK(running_mean.defined() == running_var.defined(),
                "batch_norm: running_mean and running_var must both be given or both be undefined");
  TRIDENT_CHECK(eps > 0 && std::isfinite(eps), "batch_norm: eps must be positive, got {}", eps);
  TRIDENT_CHECK(momentum >= 0 && momentum <= 1, "batch_norm: momentum must lie in [0, 1], got {}", momentum);
  const std::int64_t C = x.size(1);
  const std::int64_t M = C == 0 ? 0 : x.numel() / C;  // values per channel
  const bool batch_stats = training || !running_mean.defined();
  TRIDENT_CHECK(!batch_stats || M > 1,
                "batch_norm: expected more than 1 value per channel when using batch statistics, got input shape {}",
                shape_str(x.sizes()));

  const TensorOptions o{.dtype = x.dtype(), .device = x.device()};
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  // The statistics the kernel normalises with: fresh tensors it fills (batch) or copies of the running stats (kept
  // by the node, so that a later in-place update of the running stats does not change this graph's backward).
  Tensor mean, var;
  if (batch_stats) {
    mean = empty({C}, o);
    var = empty({C}, o);
  } else {
    mean = running_mean.detach().clone();
    var = running_var.detach().clone();
  }
  Tensor out = empty(x.sizes(), o);
  kernels::batch_norm_forward(x.device(), xc, wc, bc, mean, var, batch_stats, eps, out);

  if (training && running_mean.defined()) {
    // running = (1 - momentum) running + momentum batch; the variance enters unbiased: var * M / (M - 1).
    NoGradGuard no_grad;
    const double unbias = static_cast<double>(M) / static_cast<double>(M - 1);
    Tensor rm = running_mean, rv = running_var;
    rm.mul_(1.0 - momentum).add_(mean, momentum);
    rv.mul_(1.0 - momentum).add_(var, momentum * unbias);
  }

  if (auto node = autograd::make_node<BatchNormBackward>({&x, &weight, &bias})) {
    node->x = node->save(xc);
    node->has_weight = wc.defined();
    if (wc.defined()) node->weight = node->save(wc);
    node->mean = node->save(mean);
    node->var = node->save(var);
    node->batch_stats = batch_stats;
    node->eps = eps;
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
