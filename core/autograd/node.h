// The autograd graph: nodes, edges, saved tensors.
//
// Every differentiable op that runs in grad mode with an input that requires a gradient creates one Node (named
// after the op, e.g. MulBackward) and attaches it to its output as grad_fn. A Node knows
//   - next: one Edge per input of the op, pointing at the input's grad_fn, or at its AccumulateGrad node when the
//     input is a leaf that requires a gradient, or at nothing when the input needs no gradient;
//   - the tensors it saved for backward (see Note [Saved tensors and versions]);
//   - apply(grad_output) -> one gradient per input, computed with ordinary ops (so every op's backward runs on every
//     device that has the forward kernels). apply runs with grad mode off: trident does not differentiate twice.
//
// Nodes have exactly one output: every op in trident returns one tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
};

// Note [Saved tensors and versions]
// A node keeps what its backward needs as SavedTensors. Saving stores a detached alias (same storage, no grad_fn --
// holding the op's own output with its grad_fn would make a reference cycle) and the storage's version counter at
// that moment. Every in-place write bumps the counter, so unpacking a tensor that was overwritten after it was saved
// is caught and reported instead of silently producing a wrong gradient. After a backward without retain_graph the
// saved tensors are freed; unpacking then reports that the graph was already used.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor unpack(const Node& owner) const;
  void release() { tensor_ = Tensor(); released_ = true; }
  bool defined() const { return tensor_.defined() || released_; }

 private:
  Tensor tensor_;
  std::uint64_t version_ = 0;
  bool released_ = false;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  virtual ~Node() = default;

  // Short name for errors and graph export: "MulBackward".
  virtual std::string name() const = 0;
  // grad_output: the gradient w.r.t. this node's output (shape out_shape). Returns one tensor per input, in the
  // order of `next`; an entry may be undefined when needs_input_grad(i) is false.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;

  bool needs_input_grad(std::size_t i) const { return i < next.size() && next[i].fn != nullptr; }

  // Saved tensors, by slot: save() returns the slot, saved(slot) unpacks it (checking versions, see the Note).
  std::size_t save(const Tensor& t);
  Tensor saved(std::size_t slot) const;
  void release_saved();  // after backward without retain_graph

  std::vector<Edge> next;
  std::vector<Shape> input_shapes;  // of each input, to check the gradients a backward returns
  std::vector<DType> input_dtypes;
  Shape out_shape;
  DType out_dtype = kFloat32;
  std::uint64_t sequence_nr = 0;  // creation order; later nodes run first among the ready ones

 private:
  std::vector<SavedTensor> saved_;
};

// The sink for a leaf's gradient: sums every gradient that reaches the leaf into leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  Tensor leaf() const { return Tensor(leaf_); }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Does this op need a graph? True when grad mode is on and one of the inputs requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Create node N for an op with these inputs when any_requires_grad(inputs); nullptr otherwise.
// Fills next, input_shapes/dtypes and the sequence number. Usage in an op:
//   if (auto node = autograd::make_node<MulBackward>({&a, &b})) { node->sa = node->save(a); ...;
//     autograd::set_history(out, node); }
template <typename N, typename... Args>
std::shared_ptr<N> make_node(std::initializer_list<const Tensor*> inputs, Args&&... args);
template <typename N, typename... Args>
std::shared_ptr<N> make_node(const std::vector<Tensor>& inputs, Args&&... args);

// Attach node as the grad_fn of out (an op's fresh output) and mark out as requiring a gradient.
void set_history(Tensor& out, const std::shared_ptr<Node>& node);

// The edge a new node should point at for input t: its grad_fn, or its (cached) AccumulateGrad when t is a leaf
// that requires a gradient, or an empty edge.
Edge gradient_edge(const Tensor& t);

// Run backward from root with the given gradient (same shape as root). See engine.cpp.
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

// ---- implementation of the templates ----
void init_node(Node& node, std::initializer_list<const Tensor*> inputs);
void init_node(Node& node, const std::vector<Tensor>& inputs);

template <typename N, typename... Args>
std::shared_ptr<N> make_node(std::initializer_list<const Tensor*> inputs, Args&&... args) {
  if (!any_requires_grad(inputs)) return nullptr;
  auto node = std::make_shared<N>(std::forward<Args>(args)...);
  init_node(*node, inputs);
  return node;
}

template <typename N, typename... Args>
std::shared_ptr<N> make_node(const std::vector<Tensor>& inputs, Args&&... args) {
  if (!any_requires_grad(inputs)) return nullptr;
  auto node = std::make_shared<N>(std::forward<Args>(args)...);
  init_node(*node, inputs);
  return node;
}

}  // namespace trident::autograd
