// softmax and log_softmax along one dim, and their backward node. Shape contract: ops/softmax.h.
#include "trident/ops/softmax.h"

#include <algorithm>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"

namespace trident {

using autograd::Node;

namespace {

// A 0-d tensor is softmax-ed as the one-element vector it holds.
Tensor at_least_1d(const Tensor& t) { return t.dim() == 0 ? make_view(t, {1}, {1}, t.storage_offset()) : t; }

// Note [Softmax gradient]
// y = softmax(x) along a dim: y_i = exp(x_i) / sum_k exp(x_k), so dy_i/dx_j = y_i (delta_ij - y_j) and
//   dL/dx_j = sum_i g_i y_i (delta_ij - y_j) = y_j (g_j - sum_i g_i y_i).
// y = log_softmax(x) = x - logsumexp(x): dy_i/dx_j = delta_ij - softmax_j = delta_ij - exp(y_j), so
//   dL/dx_j = g_j - exp(y_j) sum_i g_i.
// Both are functions of the output y alone, so the node keeps y and not x (and one kernel computes either form).
// grad: x's shape -> x's shape
struct SoftmaxBackward final : Node {
  std::int64_t dim = 0;
  bool log = false;
  std::size_t y = 0;  // saved: the forward's output (see the Note)
  std::string name() const override { return log ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor out = saved(y);
    Tensor grad_in = empty(out.sizes(), {.dtype = out.dtype(), .device = out.device()});
    if (out.numel() > 0)
      kernels::softmax_backward(out.device(), at_least_1d(grad), at_least_1d(out), at_least_1d(grad_in), dim, log);
    return {grad_in};
  }
};

Tensor softmax_forward(const char* op, const Tensor& x, std::int64_t dim, bool log) {
  check_defined(op, x);
  check_floating(op, x);
  const std::int64_t d = wrap_dim(dim, std::max<std::int64_t>(x.dim(), 1), op);
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  if (x.numel() > 0) kernels::softmax(x.device(), at_least_1d(x), at_least_1d(out), d, log);
  if (auto node = autograd::make_node<SoftmaxBackward>({&x})) {
    node->dim = d;
    node->log = log;
    node->y = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_forward("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, std::int64_t dim) { return softmax_forward("log_softmax", x, dim, true); }

Tensor Tensor::softmax(std::int64_t dim) const { return trident::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return trident::log_softmax(*this, dim); }

}  // namespace trident
