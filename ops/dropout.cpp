// Inverted dropout and its backward node. Shape contract: ops/dropout.h.
//
// x: [*] -> x's shape
#include "trident/ops/dropout.h"

#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"

namespace trident {
namespace {

// out = x * scaled_mask with scaled_mask = mask / (1 - p) (0 everywhere when p = 1), so dL/dx = grad * scaled_mask.
struct DropoutBackward final : autograd::Node {
  std::size_t scaled_mask = 0;  // saved: the kept elements' factor 1 / (1 - p), 0 for dropped ones
  std::string name() const override { return "DropoutBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {mul(grad, saved(scaled_mask))}; }
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_defined("dropout", x);
  TRIDENT_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must lie in [0, 1], got {}", p);
  if (!training || p == 0.0) return x;
  check_floating("dropout", x);
  // Keep each element with probability 1 - p: a Bernoulli(1 - p) mask from the generator (Note [Random streams] in
  // backends/kernels.h), scaled so that E[out] = x. For p = 1 the mask is all zeros and stays so.
  Tensor scaled_mask = bernoulli(x.sizes(), 1.0 - p, {.dtype = x.dtype(), .device = x.device()}, gen);
  if (p < 1.0) scaled_mask.mul_(1.0 / (1.0 - p));
  Tensor out = mul(x.detach(), scaled_mask);  // detached: the graph gets DropoutBackward, not MulBackward
  if (auto node = autograd::make_node<DropoutBackward>({&x})) {
    node->scaled_mask = node->save(scaled_mask);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
