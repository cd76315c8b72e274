// Adam and AdamW. Formulas: optim/adam.h; the fused kernel: kernels::adam_step (backends/cpu/optim.cpp).
#include "trident/optim/adam.h"

#include <cmath>

#include "trident/backends/kernels.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"

namespace trident::optim {

namespace {
Options to_options(const AdamOptions& o) {
  return {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weight_decay", o.weight_decay}};
}
AdamOptions from_adamw(const AdamWOptions& o) {
  return {
      .lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay, .fused = o.fused};
}
}  // namespace

Adam::Adam(const AdamOptions& options, bool decoupled_weight_decay)
    : Optimizer(to_options(options)), decoupled_(decoupled_weight_decay), fused_(options.fused) {
  check_options(defaults());
}
Adam::Adam(const AdamOptions& options) : Adam(options, false) {}
Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Adam(options, false) {
  TRIDENT_CHECK(!params.empty(), "Adam: the parameter list is empty");
  add_param_group(std::move(params));
}

AdamW::AdamW(const AdamWOptions& options) : Adam(from_adamw(options), true) {}
AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options) : Adam(from_adamw(options), true) {
  TRIDENT_CHECK(!params.empty(), "AdamW: the parameter list is empty");
  add_param_group(std::move(params));
}

void Adam::check_options(const Options& o) const {
  const std::string op = name();
  check_option_names(op, o, {"lr", "beta1", "beta2", "eps", "weight_decay"});
  TRIDENT_CHECK(o.at("lr") >= 0, "{}: invalid learning rate {} (must be >= 0)", op, o.at("lr"));
  TRIDENT_CHECK(o.at("eps") >= 0, "{}: invalid eps {} (must be >= 0)", op, o.at("eps"));
  TRIDENT_CHECK(o.at("beta1") >= 0 && o.at("beta1") < 1, "{}: invalid beta1 {} (must be in [0, 1))", op, o.at("beta1"));
  TRIDENT_CHECK(o.at("beta2") >= 0 && o.at("beta2") < 1, "{}: invalid beta2 {} (must be in [0, 1))", op, o.at("beta2"));
  TRIDENT_CHECK(o.at("weight_decay") >= 0, "{}: invalid weight_decay {} (must be >= 0)", op, o.at("weight_decay"));
}

void Adam::update(const Options& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  kernels::AdamStepArgs args;
  args.lr = o.at("lr");
  args.beta1 = o.at("beta1");
  args.beta2 = o.at("beta2");
  args.eps = o.at("eps");
  args.weight_decay = o.at("weight_decay");
  args.decoupled_weight_decay = decoupled_;
  args.step = ++state.step;

  Tensor& m = state.buffers["exp_avg"];
  Tensor& v = state.buffers["exp_avg_sq"];
  if (!m.defined()) m = zeros_like(param);
  if (!v.defined()) v = zeros_like(param);

  Tensor p = param;  // a handle: writes through it update the parameter itself
  if (fused_ && kernels::adam_step.has(param.device()) && param.is_contiguous() && grad.is_contiguous() &&
      m.is_contiguous() && v.is_contiguous()) {
    kernels::adam_step(param.device(), param, grad, m, v, args);
    for (const Tensor* t : {&p, &m, &v}) t->storage()->bump_version();
    return;
  }

  // The composed update, in PyTorch 1.13's order of operations (torch/optim/adam.py, _single_tensor_adam).
  Tensor g = grad;
  if (decoupled_)
    p.mul_(1 - args.lr * args.weight_decay);
  else if (args.weight_decay != 0)
    g = add(grad, mul(param, args.weight_decay));
  m.mul_(args.beta1).add_(g, 1 - args.beta1);
  v.mul_(args.beta2).add_(mul(g, g), 1 - args.beta2);
  const double step = static_cast<double>(args.step);
  const double bias_correction1 = 1 - std::pow(args.beta1, step);
  const double bias_correction2 = 1 - std::pow(args.beta2, step);
  const double step_size = args.lr / bias_correction1;
  Tensor denom = trident::sqrt(v);
  denom.div_(std::sqrt(bias_correction2)).add_(args.eps);
  p.add_(div(m, denom), -step_size);
}

}  // namespace trident::optim
