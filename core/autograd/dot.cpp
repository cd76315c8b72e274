// Graphviz DOT export of the autograd graph. See dot.h.
#include "trident/core/autograd/dot.h"

#include <deque>
#include <unordered_map>
#include <vector>

#include "trident/core/autograd/node.h"
#include "trident/core/io/atomic_file.h"

namespace trident {

namespace {

bool is_leaf_node(const autograd::Node& node) {
  return dynamic_cast<const autograd::AccumulateGrad*>(&node) != nullptr;
}

// Text inside a DOT double-quoted string: quotes and backslashes escaped.
std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// "MulBackward\n[32, 64]" for an op (\n is DOT's centred line break), "[32, 64]" for a leaf.
std::string label_of(const autograd::Node& node) {
  const std::string shape = escaped(shape_str(node.out_shape));
  if (is_leaf_node(node)) return fmt::format("\"{}\"", shape);
  return fmt::format("\"{}\\n{}\"", escaped(node.name()), shape);
}

}  // namespace

std::string to_dot(const Tensor& root) {
  TRIDENT_CHECK(root.defined(), "to_dot: the root tensor is undefined");
  std::string out = "digraph autograd {\n  node [fontname=\"Helvetica\", fontsize=11, shape=ellipse];\n";

  std::shared_ptr<autograd::Node> start = root.grad_fn();
  if (!start && root.requires_grad()) start = autograd::gradient_edge(root).fn;  // a leaf: its AccumulateGrad
  if (!start) {
    out += "  // the tensor does not require grad: no graph\n}\n";
    return out;
  }

  // Breadth-first from the root; ids in discovery order, so the output is deterministic.
  std::unordered_map<const autograd::Node*, std::size_t> ids;
  std::vector<const autograd::Node*> order;
  std::deque<const autograd::Node*> queue;
  auto visit = [&](const autograd::Node* n) {
    auto [it, inserted] = ids.emplace(n, order.size());
    if (inserted) {
      order.push_back(n);
      queue.push_back(n);
    }
    return it->second;
  };
  visit(start.get());
  std::string edges;
  while (!queue.empty()) {
    const autograd::Node* n = queue.front();
    queue.pop_front();
    const std::size_t consumer = ids.at(n);
    for (const autograd::Edge& e : n->next) {
      if (!e.fn) continue;
      const std::size_t input = visit(e.fn.get());
      edges += fmt::format("  n{} -> n{};\n", input, consumer);
    }
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    const autograd::Node& n = *order[i];
    out += fmt::format("  n{} [label={}{}{}];\n", i, label_of(n),
                       is_leaf_node(n) ? ", shape=box, style=filled, fillcolor=lightblue" : "",
                       i == 0 ? ", penwidth=2" : "");
  }
  return out + edges + "}\n";
}

void save_dot(const std::string& path, const Tensor& root) { io::write_file_atomic(path, to_dot(root), "save_dot"); }

}  // namespace trident
