// SGD. Formulas: optim/sgd.h; the fused kernel: kernels::sgd_step (backends/cpu/optim.cpp).
#include "trident/optim/sgd.h"

#include <cmath>

#include "trident/backends/kernels.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"

namespace trident::optim {

namespace {
Options to_options(const SGDOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov ? 1.0 : 0.0}};
}
}  // namespace

SGD::SGD(const SGDOptions& options) : Optimizer(to_options(options)), fused_(options.fused) {
  check_options(defaults());
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : SGD(options) {
  TRIDENT_CHECK(!params.empty(), "SGD: the parameter list is empty");
  add_param_group(std::move(params));
}

void SGD::check_options(const Options& o) const {
  check_option_names("SGD", o, {"lr", "momentum", "dampening", "weight_decay", "nesterov"});
  // !(x >= 0) also catches NaN.
  TRIDENT_CHECK(o.at("lr") >= 0, "SGD: invalid learning rate {} (must be >= 0)", o.at("lr"));
  TRIDENT_CHECK(o.at("momentum") >= 0, "SGD: invalid momentum {} (must be >= 0)", o.at("momentum"));
  TRIDENT_CHECK(std::isfinite(o.at("dampening")), "SGD: invalid dampening {}", o.at("dampening"));
  TRIDENT_CHECK(o.at("weight_decay") >= 0, "SGD: invalid weight_decay {} (must be >= 0)", o.at("weight_decay"));
  const double nesterov = o.at("nesterov");
  TRIDENT_CHECK(nesterov == 0 || nesterov == 1, "SGD: nesterov must be 0 or 1, got {}", nesterov);
  TRIDENT_CHECK(nesterov == 0 || (o.at("momentum") > 0 && o.at("dampening") == 0),
                "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum {}, dampening {})",
                o.at("momentum"), o.at("dampening"));
}

void SGD::update(const Options& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  kernels::SGDStepArgs args;
  args.lr = o.at("lr");
  args.momentum = o.at("momentum");
  args.dampening = o.at("dampening");
  args.weight_decay = o.at("weight_decay");
  args.nesterov = o.at("nesterov") != 0;
  ++state.step;

  Tensor buf;
  if (args.momentum != 0) {
    const auto it = state.buffers.find("momentum_buffer");
    if (it != state.buffers.end()) buf = it->second;
  }
  args.first_step = args.momentum != 0 && !buf.defined();

  const bool fused = fused_ && kernels::sgd_step.has(param.device()) && param.is_contiguous() && grad.is_contiguous() &&
                     (!buf.defined() || buf.is_contiguous());
  if (fused) {
    if (args.first_step) {
      buf = empty_like(param);
      state.buffers["momentum_buffer"] = buf;
    }
    kernels::sgd_step(param.device(), param, grad, buf, args);
    param.storage()->bump_version();
    if (buf.defined()) buf.storage()->bump_version();
    return;
  }

  // The composed update, in PyTorch's order of operations.
  Tensor d = grad;
  if (args.weight_decay != 0) d = add(grad, mul(param, args.weight_decay));
  if (args.momentum != 0) {
    if (args.first_step) {
      buf = d.clone();
      state.buffers["momentum_buffer"] = buf;
    } else {
      buf.mul_(args.momentum).add_(d, 1 - args.dampening);
    }
    d = args.nesterov ? add(d, mul(buf, args.momentum)) : buf;
  }
  Tensor p = param;  // a handle: p.add_ writes the parameter itself
  p.add_(d, -args.lr);
}

}  // namespace trident::optim
