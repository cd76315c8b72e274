// GELU and leaky ReLU with their backward nodes. Shape contract: ops/activation.h.
#include "trident/ops/activation.h"

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"

namespace trident {

using autograd::Node;
using kernels::ActivationOp;

namespace {

// Note [GELU gradient]
// gelu(x) = x Phi(x) with Phi the standard normal CDF, so d/dx gelu(x) = Phi(x) + x phi(x), phi(x) = Phi'(x) =
// exp(-x^2 / 2) / sqrt(2 pi). Leaky ReLU's derivative is 1 for x > 0 and the slope otherwise. Both depend on the
// input only, so the node keeps x; one kernel (kernels::activation_backward) computes either.
// grad: x's shape -> x's shape
struct ActivationBackward final : Node {
  ActivationOp op = ActivationOp::Gelu;
  double arg = 0;     // leaky_relu: the negative slope
  std::size_t x = 0;  // saved: the input (the derivative is a function of it, see the Note)
  std::string name() const override { return op == ActivationOp::Gelu ? "GeluBackward" : "LeakyReluBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor in = saved(x);
    Tensor grad_in = empty(in.sizes(), {.dtype = in.dtype(), .device = in.device()});
    if (in.numel() > 0) kernels::activation_backward(in.device(), op, grad, in, grad_in, arg);
    return {grad_in};
  }
};

Tensor activation_forward(const char* name, ActivationOp op, const Tensor& x, double arg) {
  check_defined(name, x);
  check_floating(name, x);
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  if (x.numel() > 0) kernels::activation(x.device(), op, x, out, arg);
  if (auto node = autograd::make_node<ActivationBackward>({&x})) {
    node->op = op;
    node->arg = arg;
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor gelu(const Tensor& x) { return activation_forward("gelu", ActivationOp::Gelu, x, 0.0); }

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return activation_forward("leaky_relu", ActivationOp::LeakyRelu, x, negative_slope);
}

}  // namespace trident
