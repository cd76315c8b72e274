// Classification and regression losses. Shape contracts: losses/classification.h.
//
// cross_entropy and binary_cross_entropy_with_logits are fused: one node each, whose backward is the closed-form
// gradient (the Notes below). nll_loss and mse_loss are short compositions of differentiable ops.
#include "trident/losses/classification.h"

#include "trident/backends/kernels.h"
#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/index.h"
#include "trident/ops/reduce.h"

namespace trident {

using autograd::Node;

namespace {

Tensor reduce_loss(const Tensor& per_sample, Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return per_sample;
    case Reduction::Sum:
      return sum(per_sample);
    case Reduction::Mean:
      return mean(per_sample);
  }
  return per_sample;
}

// The gradient of the reduced loss with respect to each per-sample loss, shaped to broadcast against the samples:
// Mean: g / count; Sum: g; None: g itself (one value per sample, the shape of `per_sample_shape`).
Tensor per_sample_grad(const Tensor& grad, Reduction reduction, std::int64_t count) {
  switch (reduction) {
    case Reduction::Mean:
      return div(grad, static_cast<double>(count));
    case Reduction::Sum:
      return grad;
    case Reduction::None:
      return grad;
  }
  return grad;
}

// Checks logits-like [N, C] floating input and target [N] int64 with values in [0, C).
void check_class_target(const char* op, const Tensor& input, const Tensor& target, const char* input_name) {
  check_defined(op, input, input_name);
  check_defined(op, target, "target");
  check_floating(op, input);
  TRIDENT_CHECK(input.dim() == 2, "{}: expected {} of shape [N, C], got {}", op, input_name, shape_str(input.sizes()));
  TRIDENT_CHECK(target.dtype() == kInt64, "{}: target must be int64 (class indices), got {}", op, target.dtype());
  check_same_device(op, input, target);
  const Shape expected{input.size(0)};
  TRIDENT_CHECK(target.sizes() == expected, "{}: expected target of shape {}, got {}", op, shape_str(expected),
                shape_str(target.sizes()));
  if (target.numel() > 0) {
    const std::int64_t classes = input.size(1), hi = max(target).item<std::int64_t>();
    const std::int64_t lo = min(target).item<std::int64_t>();
    TRIDENT_CHECK(hi < classes, "{}: target value {} is out of range [0, {})", op, hi, classes);
    TRIDENT_CHECK(lo >= 0, "{}: target value {} is out of range [0, {})", op, lo, classes);
  }
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target, const char* input_name) {
  check_defined(op, input, input_name);
  check_defined(op, target, "target");
  check_floating(op, input);
  check_same_dtype(op, input, target);
  check_same_device(op, input, target);
  TRIDENT_CHECK(input.sizes() == target.sizes(), "{}: {} shape {} and target shape {} differ", op, input_name,
                shape_str(input.sizes()), shape_str(target.sizes()));
}

// Note [Cross-entropy gradient]
// With z = logits[i] (C values), p = softmax(z), log p_c = z_c - logsumexp(z), and the target distribution
//   q = (1 - s) one_hot(y) + s / C                      (label smoothing s; s = 0 gives the one-hot target),
// the loss of sample i is
//   L_i = -sum_c q_c log p_c = -sum_c q_c z_c + (sum_c q_c) logsumexp(z) = -sum_c q_c z_c + logsumexp(z),
// since q sums to 1. d logsumexp(z) / dz_j = p_j, so
//   dL_i / dz_j = p_j - q_j.
// The reduction scales it: Mean divides by N, Sum keeps it, None multiplies row i by the incoming g_i. So the whole
// backward is (p - q) * g / N (for Mean), one elementwise expression of the saved probabilities -- never the
// C x C Jacobian of the softmax, and never log p, whose gradient through a separate log_softmax node would need
// exp(log p) again. The forward computes log p once (the stable log_softmax kernel: max subtracted) and keeps
// p = exp(log p) for the backward.
// grad: [] (Mean, Sum) or [N] (None) -> dL/dlogits: [N, C]
struct CrossEntropyBackward final : Node {
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
  std::size_t probs = 0;   // saved: softmax(logits) [N, C], the p of the Note
  std::size_t target = 0;  // saved: the class indices [N], to build q
  std::string name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor p = saved(probs), y = saved(target);
    const std::int64_t n = p.size(0), classes = p.size(1);
    Tensor q = one_hot(y, classes, p.dtype());
    if (label_smoothing != 0.0) q = add(mul(q, 1.0 - label_smoothing), label_smoothing / static_cast<double>(classes));
    Tensor g = per_sample_grad(grad, reduction, n);
    if (reduction == Reduction::None) g = g.unsqueeze(1);  // [N, 1]: row i scaled by g_i
    return {mul(sub(p, q), g)};
  }
};

// Note [Binary cross-entropy with logits]
// With x a logit, s(x) = 1 / (1 + e^-x) and a target probability t,
//   L = -(t log s(x) + (1 - t) log(1 - s(x))) = log(1 + e^x) - x t           (log s(x) = x - log(1 + e^x))
//     = max(x, 0) - x t + log(1 + e^-|x|),
// the last form evaluated without overflow: e^-|x| <= 1. Differentiating the second form,
//   dL/dx = s(x) - t,    dL/dt = -x.
// (The composition of max, abs and log would give the wrong derivative at x = 0, where max(x, 0) and |x| have a
// kink whose one-sided slopes the autograd convention sets to 0; the closed form is exact everywhere.)
// grad: input's shape (None) or [] -> dL/dlogits, dL/dtarget: input's shape
struct BinaryCrossEntropyWithLogitsBackward final : Node {
  Reduction reduction = Reduction::Mean;
  std::size_t logits = 0;  // saved: x, for s(x) and for dL/dt = -x
  std::size_t target = 0;  // saved: t, for dL/dx = s(x) - t
  std::string name() const override { return "BinaryCrossEntropyWithLogitsBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor x = saved(logits);
    const Tensor g = per_sample_grad(grad, reduction, x.numel());
    Tensor gx, gt;
    if (needs_input_grad(0)) gx = mul(sub(sigmoid(x), saved(target)), g);
    if (needs_input_grad(1)) gt = mul(neg(x), g);
    return {gx, gt};
  }
};

}  // namespace

// logits: [N, C], target: [N] int64 -> [] (Mean, Sum) or [N] (None)
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing, Reduction reduction) {
  check_class_target("cross_entropy", logits, target, "logits");
  TRIDENT_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
                "cross_entropy: label_smoothing must be in [0, 1], got {}", label_smoothing);
  const std::int64_t classes = logits.size(1);

  // The forward of Note [Cross-entropy gradient]: log p by the stable kernel, then
  //   L_i = -(1 - s) log p_{i, y_i} - (s / C) sum_c log p_ic.
  Tensor log_p = empty(logits.sizes(), {.dtype = logits.dtype(), .device = logits.device()});
  if (logits.numel() > 0) kernels::softmax(logits.device(), logits, log_p, 1, true);
  Tensor per_sample;
  {
    NoGradGuard no_grad;  // the node below is the whole graph of this op
    per_sample = mul(gather(log_p, 1, target.unsqueeze(1)).squeeze(1), -(1.0 - label_smoothing));
    if (label_smoothing != 0.0)
      per_sample = sub(per_sample, mul(sum(log_p, {1}), label_smoothing / static_cast<double>(classes)));
  }
  Tensor out = reduce_loss(per_sample, reduction);
  if (auto node = autograd::make_node<CrossEntropyBackward>({&logits})) {
    node->label_smoothing = label_smoothing;
    node->reduction = reduction;
    // log p is not needed any more: turn its buffer into p in place.
    kernels::unary(log_p.device(), kernels::UnaryOp::Exp, log_p, log_p, 0.0, 0.0);
    node->probs = node->save(log_p);
    node->target = node->save(target);
    autograd::set_history(out, node);
  }
  return out;
}

// log_probs: [N, C], target: [N] int64 -> [] (Mean, Sum) or [N] (None)
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  check_class_target("nll_loss", log_probs, target, "log_probs");
  // -log_probs[i, target[i]]: a gather, whose backward scatters -g back to the picked entries.
  const Tensor picked = gather(log_probs, 1, target.unsqueeze(1)).squeeze(1);
  return reduce_loss(neg(picked), reduction);
}

// input, target: same shape -> [] (Mean, Sum) or input's shape (None)
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("mse_loss", input, target, "input");
  const Tensor diff = sub(input, target);
  return reduce_loss(mul(diff, diff), reduction);
}

// logits, target: same shape -> [] (Mean, Sum) or logits' shape (None)
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy_with_logits", logits, target, "logits");
  Tensor per_element;
  {
    NoGradGuard no_grad;  // the node below is the whole graph of this op
    // max(x, 0) - x t + log(1 + e^-|x|) (Note [Binary cross-entropy with logits]); softplus(-|x|) = log(1 + e^-|x|).
    per_element = add(sub(relu(logits), mul(logits, target)), softplus(neg(abs(logits))));
  }
  Tensor out = reduce_loss(per_element, reduction);
  if (auto node = autograd::make_node<BinaryCrossEntropyWithLogitsBackward>({&logits, &target})) {
    node->reduction = reduction;
    node->logits = node->save(logits);
    node->target = node->save(target);
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
