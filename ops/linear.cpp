// linear(x, weight, bias) and its backward node. Shape contract: ops/linear.h.
//
// Note [Linear forward: matmul, then the bias in place]
// The forward runs matmul(X, W^T) into the output (W^T is a transposed view: oneDNN reads it in place) and adds the
// bias to it in place, under one LinearBackward node. oneDNN's fused alternatives were measured against it
// (bench/bench_linear.cpp, float32, one thread, CPU time per call on the shared 2-core machine -- runs with two
// threads were dominated by other jobs' load):
//                          this op    matmul + add   oneDNN matmul+bias   oneDNN inner_product+bias
//   [128, 784] -> 256      245 us      244 us          244 us               255 us
//   [128, 256] -> 10       7.5 us      7.2 us          5.3 us               9.9 us
//   [128, 1600] -> 128     248 us      247 us          245 us               322 us
//   [512, 1024] -> 1024    5.25 ms     5.31 ms         5.28 ms              5.61 ms
// The bias add is noise beside the product; the 2 us of the small layer are per-call overhead (the oneDNN rows
// call a primitive created beforehand, without trident's checks, allocation and cache lookup, which a fused kernel
// would pay too). A dedicated kernel would buy nothing measurable, so linear needs no kernel of its own and runs on
// every device that has matmul. What the op does save over matmul + add is the second output and a graph node.
#include "trident/ops/linear.h"

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/matmul.h"
#include "trident/ops/reduce.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;

namespace {

// Note [Linear gradient]
// With x's leading dims flattened, X: [N, K], W: [M, K], b: [M], Y = X W^T + 1 b^T: [N, M], and G = dL/dY:
//   dL/dX = G W      [N, K]
//   dL/dW = G^T X    [M, K]
//   dL/db = 1^T G    [M]  (the column sums of G)
// X is needed only for dL/dW and W only for dL/dX, so each is saved only when the other gradient is wanted.
// grad: [*, M] -> x: [*, K], weight: [M, K], bias: [M]
struct LinearBackward final : Node {
  std::int64_t N = 0, M = 0;
  std::size_t x = 0, weight = 0;  // saved: X ([N, K], for dL/dW) and W (for dL/dX), see the Note
  std::string name() const override { return "LinearBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g = grad.reshape({N, M});
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) gx = matmul(g, saved(weight)).reshape(input_shapes[0]);
    if (needs_input_grad(1)) gw = matmul(g.t(), saved(x));
    if (needs_input_grad(2)) gb = sum(g, {0});
    return {gx, gw, gb};
  }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined("linear", x);
  check_defined("linear", weight, "weight");
  check_floating("linear", x);
  check_same_dtype("linear", x, weight);
  check_same_device("linear", x, weight);
  check_dim("linear", weight, 2, "weight");
  TRIDENT_CHECK(x.dim() >= 1, "linear: input must have at least 1 dim, got a 0-d tensor");
  const std::int64_t K = weight.size(1), M = weight.size(0);
  TRIDENT_CHECK(x.size(-1) == K, "linear: input has {} features (last dim of shape {}), weight {} expects {}",
                x.size(-1), shape_str(x.sizes()), shape_str(weight.sizes()), K);
  if (bias.defined()) {
    check_same_dtype("linear", x, bias);
    check_same_device("linear", x, bias);
    TRIDENT_CHECK(bias.dim() == 1 && bias.size(0) == M, "linear: bias must have shape [{}], got {}", M,
                  shape_str(bias.sizes()));
  }
  Shape out_shape(x.sizes().begin(), x.sizes().end() - 1);
  out_shape.push_back(M);
  const std::int64_t N = shape_numel(Shape(x.sizes().begin(), x.sizes().end() - 1));

  Tensor x2, out;
  {
    NoGradGuard no_grad;  // the ops below are this op's forward; its own node is attached below
    x2 = x.reshape({N, K});
    Tensor y = matmul(x2, weight.t());
    if (bias.defined()) y.add_(bias);
    out = y.view(out_shape);
  }
  if (auto node = autograd::make_node<LinearBackward>({&x, &weight, &bias})) {
    node->N = N;
    node->M = M;
    if (node->needs_input_grad(1)) node->x = node->save(x2);
    if (node->needs_input_grad(0)) node->weight = node->save(weight);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
