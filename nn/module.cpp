// Module: registration, traversal, modes, conversion and the summary. Interface: nn/module.h.
#include "trident/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <typeinfo>
#include <unordered_set>

#include "trident/core/autograd/autograd_meta.h"
#include "trident/core/autograd/grad_mode.h"

namespace trident::nn {

// ---- running
// ---------------------------------------------------------------------------------------------------------

Tensor Module::forward(const Tensor&) {
  TRIDENT_CHECK(false, "{}: forward is not implemented (a module that is called must override forward)", name());
  return Tensor();
}

// ---- registration
// ----------------------------------------------------------------------------------------------------

void Module::check_new_name(const char* what, const std::string& name) const {
  TRIDENT_CHECK(!name.empty(), "{}: {}: the name must not be empty", what, this->name());
  TRIDENT_CHECK(name.find('.') == std::string::npos,
                "{}: {}: the name '{}' contains '.', which separates the parts of dotted names", what, this->name(),
                name);
  for (const auto& [n, t] : parameters_)
    TRIDENT_CHECK(n != name, "{}: {} already has a parameter named '{}'", what, this->name(), name);
  for (const auto& [n, t] : buffers_)
    TRIDENT_CHECK(n != name, "{}: {} already has a buffer named '{}'", what, this->name(), name);
  for (const auto& [n, m] : children_)
    TRIDENT_CHECK(n != name, "{}: {} already has a submodule named '{}'", what, this->name(), name);
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name("register_parameter", name);
  TRIDENT_CHECK(tensor.defined(), "register_parameter: {}: parameter '{}' is an undefined tensor", this->name(), name);
  TRIDENT_CHECK(tensor.is_leaf(),
                "register_parameter: {}: parameter '{}' must be a leaf tensor, but it was computed by an op "
                "(register tensor.detach() instead)",
                this->name(), name);
  TRIDENT_CHECK(!requires_grad || is_floating(tensor.dtype()),
                "register_parameter: {}: parameter '{}' is {}; only floating tensors can require gradients "
                "(pass requires_grad = false, or register it as a buffer)",
                this->name(), name, tensor.dtype());
  tensor.set_requires_grad(requires_grad);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name("register_buffer", name);
  TRIDENT_CHECK(tensor.defined(), "register_buffer: {}: buffer '{}' is an undefined tensor", this->name(), name);
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name("register_module", name);
  TRIDENT_CHECK(module != nullptr, "register_module: {}: submodule '{}' is null", this->name(), name);
  TRIDENT_CHECK(module.get() != this, "register_module: {}: a module cannot be its own submodule ('{}')", this->name(),
                name);
  children_.emplace_back(name, std::move(module));
}

// ---- access
// ----------------------------------------------------------------------------------------------------------

// Calls visit(dotted name, tensor) for every parameter (or buffer) in the order of nn/module.h, each TensorImpl once.
template <typename Visit>
void Module::visit_tensors(bool parameters, bool recurse, const std::string& prefix, Visit& visit) const {
  for (const auto& [n, t] : parameters ? parameters_ : buffers_) visit(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, m] : children_) m->visit_tensors(parameters, true, prefix + n + ".", visit);
}

namespace {

std::vector<std::pair<std::string, Tensor>> unique_named(
    const std::function<void(const std::function<void(const std::string&, const Tensor&)>&)>& walk) {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  walk([&](const std::string& n, const Tensor& t) {
    if (seen.insert(t.impl_ptr().get()).second) out.emplace_back(n, t);
  });
  return out;
}

std::vector<Tensor> tensors_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& [n, t] : named) out.push_back(t);
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  return unique_named([&](const auto& visit) { visit_tensors(true, recurse, "", visit); });
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  return unique_named([&](const auto& visit) { visit_tensors(false, recurse, "", visit); });
}

std::vector<Tensor> Module::parameters(bool recurse) const { return tensors_of(named_parameters(recurse)); }
std::vector<Tensor> Module::buffers(bool recurse) const { return tensors_of(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  out.reserve(children_.size());
  for (const auto& [n, m] : children_) out.push_back(m);
  return out;
}

Tensor Module::parameter(const std::string& name) const {
  for (const auto& [n, t] : named_parameters())
    if (n == name) return t;
  TRIDENT_CHECK(false, "parameter: {} has no parameter named '{}'", this->name(), name);
  return Tensor();
}

Tensor Module::buffer(const std::string& name) const {
  for (const auto& [n, t] : named_buffers())
    if (n == name) return t;
  TRIDENT_CHECK(false, "buffer: {} has no buffer named '{}'", this->name(), name);
  return Tensor();
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, m] : children_) m->apply(fn);
  fn(*this);
}

// ---- modes and state
// -------------------------------------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    if (set_to_none) {
      if (p.grad().defined()) p.set_grad(Tensor());
    } else {
      p.zero_grad();
    }
  }
}

namespace {

// Makes `t` (its TensorImpl, shared by every handle to it) describe the data of `src`. See Note [Module::to keeps
// tensor identity] in nn/module.h.
void assign_data(const Tensor& t, const Tensor& src, const std::function<Tensor(const Tensor&)>& convert) {
  TensorImpl& dst = t.impl();
  dst.storage = src.storage();
  dst.sizes = src.sizes();
  dst.strides = src.strides();
  dst.offset = src.storage_offset();
  dst.dtype = src.dtype();
  if (dst.autograd) {
    // A cached AccumulateGrad node remembers the old dtype: let the next graph make a fresh one.
    dst.autograd->grad_accumulator.reset();
    if (dst.autograd->grad.defined()) dst.autograd->grad = convert(dst.autograd->grad);
  }
}

}  // namespace

void Module::convert_tensors(const std::function<Tensor(const Tensor&)>& convert) {
  NoGradGuard no_grad;
  for (const auto& [n, t] : named_parameters()) {
    const Tensor converted = convert(t.detach());
    if (!converted.is_same(t) && converted.storage() != t.storage()) assign_data(t, converted, convert);
  }
  for (const auto& [n, t] : named_buffers()) {
    const Tensor converted = convert(t.detach());
    if (!converted.is_same(t) && converted.storage() != t.storage()) assign_data(t, converted, convert);
  }
}

Module& Module::to(Device device) {
  convert_tensors([device](const Tensor& t) { return t.to(device); });
  return *this;
}

Module& Module::to(DType dtype) {
  TRIDENT_CHECK(is_floating(dtype), "to: {}: modules convert to floating dtypes only (float32 or float64), got {}",
                name(), dtype);
  convert_tensors([dtype](const Tensor& t) { return is_floating(t.dtype()) ? t.to(dtype) : t; });
  return *this;
}

// ---- description
// -----------------------------------------------------------------------------------------------------

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // Drop the qualifiers: the part after the last "::" outside template arguments and parameter lists
  // ("trident::nn::Linear" -> "Linear", "Suite_Test::TestBody()::Net" -> "Net").
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < full.size(); ++i) {
    const char c = full[i];
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (depth == 0 && c == ':' && i + 1 < full.size() && full[i + 1] == ':') start = i + 2;
  }
  return full.substr(start);
}

namespace {

// Indents every line of s but the first by `spaces` (PyTorch's _addindent).
std::string indent_tail(const std::string& s, int spaces) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out.append(static_cast<std::size_t>(spaces), ' ');
  }
  return out;
}

}  // namespace

std::string Module::to_string() const {
  // PyTorch's layout: the extra_repr lines, then one "(name): child" line per submodule (the child's own lines
  // indented by two more spaces), each on its own line indented by two; all on one line when there is a single
  // extra_repr line and no submodule.
  std::vector<std::string> lines;
  const std::string extra = extra_repr();
  for (std::size_t start = 0; !extra.empty() && start <= extra.size();) {
    const std::size_t end = std::min(extra.find('\n', start), extra.size());
    lines.push_back(extra.substr(start, end - start));
    start = end + 1;
  }
  const bool one_line = lines.size() <= 1 && children_.empty();
  for (const auto& [n, m] : children_) lines.push_back(fmt::format("({}): {}", n, indent_tail(m->to_string(), 2)));
  std::string s = name() + "(";
  if (one_line) {
    if (!lines.empty()) s += lines[0];
  } else {
    for (const auto& line : lines) s += "\n  " + line;
    s += "\n";
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.to_string(); }

}  // namespace trident::nn
