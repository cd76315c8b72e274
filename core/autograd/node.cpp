// Nodes, saved tensors, and how an op attaches itself to the graph.
#include "trident/core/autograd/node.h"

#include <atomic>

#include "trident/core/autograd/autograd_meta.h"
#include "trident/core/autograd/grad_mode.h"

namespace trident::autograd {

namespace {
std::atomic<std::uint64_t> next_sequence_nr{0};
}

SavedTensor::SavedTensor(const Tensor& t) : tensor_(t.detach()), version_(t.version()) {}

Tensor SavedTensor::unpack(const Node& owner) const {
  TRIDENT_CHECK(!released_, "{}: trying to backward through the graph a second time (its saved tensors were freed "
                "after the first backward); pass retain_graph=true to the first backward if you need to", owner.name());
  if (!tensor_.defined()) return tensor_;
  TRIDENT_CHECK(tensor_.version() == version_, "{}: a tensor saved for backward was modified by an in-place "
                "operation (version {} when saved, now {}); clone it before modifying it", owner.name(), version_,
                tensor_.version());
  return tensor_;
}

std::size_t Node::save(const Tensor& t) {
  saved_.emplace_back(t);
  return saved_.size() - 1;
}

Tensor Node::saved(std::size_t slot) const {
  TRIDENT_ASSERT(slot < saved_.size(), "{}: no saved tensor in slot {}", name(), slot);
  return saved_[slot].unpack(*this);
}

void Node::release_saved() {
  for (auto& s : saved_) s.release();
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  AutogradMeta& meta = leaf_->autograd_meta();
  if (!meta.grad.defined()) {
    // A fresh buffer: the incoming gradient may alias another tensor (the user's gradient, a view).
    meta.grad = grad_output.clone();
  } else {
    meta.grad.add_(grad_output);
  }
  return {};
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn()};
  // A leaf: every consumer shares one AccumulateGrad, so that gradients meet in the engine before accumulating.
  AutogradMeta& meta = t.impl().autograd_meta();
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    acc->out_shape = t.sizes();
    acc->out_dtype = t.dtype();
    meta.grad_accumulator = acc;
  }
  return {acc};
}

namespace {
void add_input(Node& node, const Tensor& t) {
  node.next.push_back(gradient_edge(t));
  node.input_shapes.push_back(t.defined() ? t.sizes() : Shape{});
  node.input_dtypes.push_back(t.defined() ? t.dtype() : kFloat32);
}
}  // namespace

void init_node(Node& node, std::initializer_list<const Tensor*> inputs) {
  node.sequence_nr = next_sequence_nr.fetch_add(1, std::memory_order_relaxed);
  for (const Tensor* t : inputs) add_input(node, *t);
}

void init_node(Node& node, const std::vector<Tensor>& inputs) {
  node.sequence_nr = next_sequence_nr.fetch_add(1, std::memory_order_relaxed);
  for (const Tensor& t : inputs) add_input(node, t);
}

void set_history(Tensor& out, const std::shared_ptr<Node>& node) {
  AutogradMeta& meta = out.impl().autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = node;
  node->out_shape = out.sizes();
  node->out_dtype = out.dtype();
}

}  // namespace trident::autograd
