// Optimizer base: groups, state, zero_grad, step. See optim/optimizer.h.
#include "trident/optim/optimizer.h"

#include <algorithm>
#include <unordered_set>

#include "trident/core/autograd/grad_mode.h"

namespace trident::optim {

double ParamGroup::get(const std::string& name) const {
  const auto it = options.find(name);
  TRIDENT_CHECK(it != options.end(), "ParamGroup: no option '{}'", name);
  return it->second;
}

void check_option_names(const std::string& optimizer, const Options& options, const std::vector<std::string>& known) {
  for (const auto& [key, value] : options) {
    TRIDENT_CHECK(std::find(known.begin(), known.end(), key) != known.end(), "{}: unknown option '{}' ({} has {})",
                  optimizer, key, optimizer, fmt::join(known, ", "));
  }
  for (const auto& key : known)
    TRIDENT_CHECK(options.count(key) == 1, "{}: the option '{}' is missing", optimizer, key);
}

void Optimizer::add_param_group(std::vector<Tensor> params, const Options& overrides) {
  const std::string op = name();
  const std::size_t g = groups_.size();
  TRIDENT_CHECK(!params.empty(), "{}: group {} has no parameters", op, g);
  Options options = defaults_;
  for (const auto& [key, value] : overrides) {
    TRIDENT_CHECK(defaults_.count(key) == 1, "{}: unknown option '{}' in group {}", op, key, g);
    options[key] = value;
  }
  check_options(options);

  std::unordered_set<const TensorImpl*> seen;
  for (const auto& group : groups_)
    for (const auto& p : group.params) seen.insert(p.impl_ptr().get());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    TRIDENT_CHECK(p.defined(), "{}: parameter {} of group {} is undefined", op, i, g);
    TRIDENT_CHECK(is_floating(p.dtype()), "{}: parameter {} of group {} is {}, not floating", op, i, g, p.dtype());
    TRIDENT_CHECK(p.requires_grad(),
                  "{}: parameter {} of group {} (shape {}) does not require grad: call set_requires_grad(true) on it "
                  "or leave it out of the optimizer",
                  op, i, g, shape_str(p.sizes()));
    TRIDENT_CHECK(p.is_leaf(),
                  "{}: parameter {} of group {} is not a leaf (it is the result of an op); an optimizer updates the "
                  "leaf tensors a model holds",
                  op, i, g);
    TRIDENT_CHECK(seen.insert(p.impl_ptr().get()).second, "{}: parameter {} of group {} appears in more than one place",
                  op, i, g);
  }
  groups_.push_back(ParamGroup{std::move(params), std::move(options)});
}

ParamState& Optimizer::state(const Tensor& param) { return state_[param.impl_ptr().get()]; }

const ParamState* Optimizer::find_state(const Tensor& param) const {
  const auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() ? nullptr : &it->second;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  // Groups may have been changed through param_groups() (a scheduler sets "lr"; a user may set anything): check
  // them all before updating anything.
  for (const auto& group : groups_) check_options(group.options);
  for (const auto& group : groups_) {
    for (const Tensor& p : group.params) {
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      update(group.options, p, grad, state(p));
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& group : groups_) {
    for (Tensor& p : group.params) {
      if (set_to_none)
        p.set_grad(Tensor());
      else
        p.zero_grad();
    }
  }
}

}  // namespace trident::optim
