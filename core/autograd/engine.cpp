// The backward pass.
//
// Note [How backward runs]
// 1. Walk the graph from the root's grad_fn and count, for every reachable node, how many edges point at it
//    (its dependencies: the consumers that will send it a gradient).
// 2. Keep a ready set of nodes whose every consumer has already sent its gradient, ordered by sequence number
//    (the node created last runs first -- a topological order that also frees activations early).
// 3. Pop a node, call apply() with the sum of the gradients it received, and hand each returned gradient to the
//    node on the matching edge (summing into its buffer). Gradients reaching a leaf go to AccumulateGrad, which adds
//    them into leaf.grad().
// 4. Unless retain_graph, each node frees its saved tensors once it has run; a second backward through it is then
//    an error (see Note [Saved tensors and versions]).
// The whole pass runs under NoGradGuard: gradients are plain tensors without a graph of their own.
#include <queue>
#include <unordered_map>

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/elementwise.h"

namespace trident::autograd {

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  NoGradGuard no_grad;
  const Edge root_edge = gradient_edge(root);
  TRIDENT_ASSERT(root_edge.fn != nullptr, "backward: root has no gradient edge");

  // 1. Dependency counts.
  std::unordered_map<Node*, int> dependencies;
  {
    std::vector<Node*> stack{root_edge.fn.get()};
    dependencies[root_edge.fn.get()] = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next) {
        if (!e.fn) continue;
        auto [it, inserted] = dependencies.try_emplace(e.fn.get(), 0);
        ++it->second;
        if (inserted) stack.push_back(e.fn.get());
      }
    }
  }

  // 2-3. Run nodes in dependency order.
  struct Later {
    bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
      return a->sequence_nr < b->sequence_nr;
    }
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, Later> ready;
  std::unordered_map<Node*, Tensor> buffers;
  buffers[root_edge.fn.get()] = grad_root;
  ready.push(root_edge.fn);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    auto buf = buffers.find(node.get());
    Tensor grad = std::move(buf->second);
    buffers.erase(buf);
    TRIDENT_ASSERT(grad.sizes() == node->out_shape, "{}: received a gradient of shape {} for an output of shape {}",
                   node->name(), shape_str(grad.sizes()), shape_str(node->out_shape));

    std::vector<Tensor> input_grads = node->apply(grad);
    if (!retain_graph) node->release_saved();
    for (std::size_t i = 0; i < node->next.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.fn) continue;
      TRIDENT_ASSERT(i < input_grads.size(), "{}: returned {} gradients for {} inputs", node->name(),
                     input_grads.size(), node->next.size());
      Tensor& g = input_grads[i];
      if (g.defined()) {
        TRIDENT_ASSERT(g.sizes() == node->input_shapes[i], "{}: gradient for input {} has shape {}, the input has {}",
                       node->name(), i, shape_str(g.sizes()), shape_str(node->input_shapes[i]));
        TRIDENT_ASSERT(g.dtype() == node->input_dtypes[i], "{}: gradient for input {} is {}, the input is {}",
                       node->name(), i, g.dtype(), node->input_dtypes[i]);
        Tensor& slot = buffers[e.fn.get()];
        slot = slot.defined() ? add(slot, g) : g;
      }
      if (--dependencies[e.fn.get()] == 0) {
        if (buffers.count(e.fn.get()) == 0) {
          // No gradient reached this node (every path to it returned an undefined gradient): it contributes
          // nothing, but what it points at may still be waiting for it -- run it with zeros.
          Tensor z = empty(e.fn->out_shape, {.dtype = e.fn->out_dtype, .device = grad.device()});
          z.zero_();
          buffers[e.fn.get()] = z;
        }
        ready.push(e.fn);
      }
    }
  }
}

}  // namespace trident::autograd
