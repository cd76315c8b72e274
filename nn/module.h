// Module: the base class of every layer and model, in the manner of torch.nn.Module.
//
// A module owns named parameters (tensors that are trained: leaves that require a gradient), named buffers (state
// that is not trained, e.g. BatchNorm's running statistics) and named submodules. Subclasses register them in their
// constructor and keep the returned handles as members:
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Net() {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 256));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(256, 10));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
//   };
//
// Parameters are listed with dotted names in registration order, a module's own first and then each submodule's
// ("fc1.weight", "fc1.bias", "fc2.weight", ...). A tensor reachable twice (a shared submodule, tied weights) is
// listed once. Modules are held by std::shared_ptr and are not copyable: two copies would share their tensors.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- running ------------------------------------------------------------------------------------------------
  // The computation. The base version throws: every module that is called overrides it.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  // ---- registration (in constructors) ------------------------------------------------------------------------
  // Names are non-empty, contain no '.', and are unique within the module across parameters, buffers and
  // submodules ("register_parameter: Linear already has a parameter named 'weight'"). The module keeps the very
  // handle it is given (same TensorImpl), and returns it.
  // A parameter must be a leaf; with requires_grad it is marked as requiring a gradient (it must then be floating).
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from nn::Module");
    add_child(name, module);
    return module;
  }

  // ---- access --------------------------------------------------------------------------------------------------
  // With recurse = false only this module's own tensors are listed.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  // Direct submodules, in registration order.
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // A parameter / buffer by dotted name ("features.0.weight"); an error naming the module when there is none.
  Tensor parameter(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  // The number of scalars in parameters() (each shared tensor counted once).
  std::int64_t num_parameters() const;
  // Calls fn on every submodule (depth-first, children before their parent, as torch's Module.apply) and then on
  // this module: model.apply([](nn::Module& m) { ... re-initialise ... }).
  void apply(const std::function<void(Module&)>& fn);

  // ---- modes and state ----------------------------------------------------------------------------------------
  // Training mode (the default) vs evaluation mode, set on this module and every submodule. It changes what
  // Dropout and BatchNorm do.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Zeroes the gradient of every parameter in place (keeping its memory), or drops it when set_to_none.
  void zero_grad(bool set_to_none = false);

  // Note [Module::to keeps tensor identity]
  // to(device) and to(dtype) move or convert every parameter and buffer in place: the TensorImpl of each keeps its
  // identity and receives the new storage, sizes, strides and dtype, so the handles users (and optimizers) already
  // hold -- from parameters(), or layer members such as linear->weight -- see the change without re-fetching, as
  // with PyTorch's module.to. Parameters stay leaves that require a gradient; an existing gradient is converted
  // too. Graphs recorded before the call keep the old data. to(dtype) converts floating tensors only (integer
  // buffers such as BatchNorm's num_batches_tracked keep their dtype) and accepts floating dtypes only.
  Module& to(Device device);
  Module& to(DType dtype);

  // ---- description ---------------------------------------------------------------------------------------------
  // The type's name, e.g. "Linear" (by default the class name without namespaces).
  virtual std::string name() const;
  // The arguments shown between the parentheses of the summary: "in_features=784, out_features=256, bias=true".
  virtual std::string extra_repr() const { return {}; }
  // A summary like PyTorch's repr:
  //   Sequential(
  //     (0): Linear(in_features=784, out_features=256, bias=true)
  //     (1): ReLU()
  //   )
  std::string to_string() const;

 protected:
  // Add a child; used by register_module and by containers (Sequential).
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  void check_new_name(const char* what, const std::string& name) const;
  template <typename Visit>
  void visit_tensors(bool parameters, bool recurse, const std::string& prefix, Visit& visit) const;
  void convert_tensors(const std::function<Tensor(const Tensor&)>& convert);

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace trident::nn

// fmt::format("{}", *model) prints module.to_string(), for Module and every type derived from it.
template <typename T>
struct fmt::formatter<T, char, std::enable_if_t<std::is_base_of_v<trident::nn::Module, T>>>
    : fmt::formatter<std::string> {
  auto format(const T& module, format_context& ctx) const {
    return fmt::formatter<std::string>::format(module.to_string(), ctx);
  }
};
