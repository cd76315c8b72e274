// Optimizer: the base of SGD, Adam and AdamW. Parameter groups, per-parameter state, zero_grad, step.
//
// As in PyTorch, an optimizer holds its parameters in groups. Each group has its own hyper-parameters -- "lr",
// "weight_decay" and the optimizer's own ("momentum", "beta1", ...) -- stored by name in ParamGroup::options, so
// that schedulers, checkpoints and users can read and change them uniformly:
//
//   optim::SGD opt(backbone_params, {.lr = 0.1, .momentum = 0.9});
//   opt.add_param_group(head_params, {{"lr", 0.01}});      // the other options are the optimizer's defaults
//   for (...) { opt.zero_grad(); loss.backward(); opt.step(); }
//
// Each parameter has a ParamState: how many updates it had and the tensors the optimizer keeps for it
// ("momentum_buffer", "exp_avg", "exp_avg_sq"), created on its first update. step() updates every parameter that
// has a gradient (a parameter without one is skipped, its state untouched), in place, under NoGradGuard.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::optim {

// Hyper-parameters by name. Flags are stored as 0 or 1 (SGD's "nesterov").
using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;  // every option the optimizer has, always present

  double lr() const { return get("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  double get(const std::string& name) const;  // an error naming the option when it is absent
};

struct ParamState {
  std::int64_t step = 0;                  // updates applied to the parameter so far
  std::map<std::string, Tensor> buffers;  // e.g. "momentum_buffer"; same shape, dtype and device as the parameter
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;  // "SGD", "Adam", "AdamW": prefixes every error

  // Updates every parameter that has a gradient.
  void step();
  // Zeroes the gradients of all parameters in place (keeping their memory), or drops them when set_to_none.
  void zero_grad(bool set_to_none = false);

  // Adds a group of parameters. `overrides` replaces some of the defaults for this group; a name the optimizer does
  // not have, an invalid value, or a parameter that is not a floating leaf requiring grad, or that is already in a
  // group, is an error.
  void add_param_group(std::vector<Tensor> params, const Options& overrides = {});

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }

  // The state of one parameter of the optimizer (created empty on first access).
  ParamState& state(const Tensor& param);
  const ParamState* find_state(const Tensor& param) const;  // nullptr before its first update
  void clear_state() { state_.clear(); }

  // Checks a complete set of options (every name known, every value valid); throws "<name>: ..." otherwise.
  virtual void check_options(const Options& options) const = 0;

 protected:
  explicit Optimizer(Options defaults) : defaults_(std::move(defaults)) {}

  // One parameter's update, with its group's options, its gradient (defined, same shape/dtype/device) and state.
  // Runs under NoGradGuard. Increments state.step.
  virtual void update(const Options& options, const Tensor& param, const Tensor& grad, ParamState& state) = 0;

 private:
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;  // keyed by the parameter's TensorImpl, like PyTorch's
};

// Shared by the optimizers' check_options: `option` must be a known name, each known name present.
void check_option_names(const std::string& optimizer, const Options& options, const std::vector<std::string>& known);

}  // namespace trident::optim
