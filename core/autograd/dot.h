// Graphviz export of the autograd graph behind a tensor: to_dot(loss) -> "digraph autograd { ... }".
//
// One node per autograd Node, labelled with its name and output shape ("MulBackward\n[32, 64]"); leaves that
// require grad (their AccumulateGrad nodes) are boxes labelled with the leaf's shape; an edge runs from each input's
// node to the node of the op that consumed it, so the picture reads like the forward pass (inputs at the top). The
// root's node is drawn with a thick outline. Render with `dot -Tsvg graph.dot -o graph.svg`.
#pragma once

#include <string>

#include "trident/core/tensor.h"

namespace trident {

std::string to_dot(const Tensor& root);
// Writes to_dot(root) to path (atomically: see core/io/atomic_file.h).
void save_dot(const std::string& path, const Tensor& root);

}  // namespace trident
