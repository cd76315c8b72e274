// Per-tensor autograd state, kept behind TensorImpl::autograd (absent for plain data).
#pragma once

#include <memory>

#include "trident/core/autograd/node.h"

namespace trident {

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                                         // leaves only: the accumulated gradient
  std::shared_ptr<autograd::Node> grad_fn;             // non-leaves: the node that produced this tensor
  std::weak_ptr<autograd::Node> grad_accumulator;      // leaves: their AccumulateGrad node, shared by all consumers
};

}  // namespace trident
