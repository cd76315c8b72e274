// cat and stack (declared in ops/shape.h) and their backward nodes.
//
// Both allocate the output once and copy each input into its own slice of it with kernels::copy (a strided copy, so
// inputs of any layout work on every device); their gradients are the matching slices (views) of the incoming grad.
#include <string>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;

namespace {

// tensors: [..., s_i, ...] -> grad: [..., sum s_i, ...] -> dL/dtensor_i = grad[..., offset_i : offset_i + s_i, ...]
struct CatBackward final : Node {
  std::int64_t dim = 0;
  std::string name() const override { return "CatBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    std::vector<Tensor> grads(input_shapes.size());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < input_shapes.size(); ++i) {
      const std::int64_t n = input_shapes[i][static_cast<std::size_t>(dim)];
      if (needs_input_grad(i)) grads[i] = grad.slice(dim, offset, offset + n);
      offset += n;
    }
    return grads;
  }
};

// tensors: n x [*] -> grad: [..., n, ...] (n at dim) -> dL/dtensor_i = grad[..., i, ...] (slice + squeeze of dim)
struct StackBackward final : Node {
  std::int64_t dim = 0;
  std::string name() const override { return "StackBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    std::vector<Tensor> grads(input_shapes.size());
    for (std::size_t i = 0; i < input_shapes.size(); ++i) {
      const auto k = static_cast<std::int64_t>(i);
      if (needs_input_grad(i)) grads[i] = grad.slice(dim, k, k + 1).squeeze(dim);
    }
    return grads;
  }
};

// Every tensor defined, and of the first one's dtype and device.
void check_list(const char* op, const std::vector<Tensor>& tensors) {
  TRIDENT_CHECK(!tensors.empty(), "{}: expected a non-empty list of tensors", op);
  for (std::size_t i = 0; i < tensors.size(); ++i)
    TRIDENT_CHECK(tensors[i].defined(), "{}: tensor {} is an undefined tensor", op, i);
  const Tensor& first = tensors[0];
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    TRIDENT_CHECK(tensors[i].dtype() == first.dtype(),
                  "{}: tensor {} has dtype {}, tensor 0 has {} (convert with "
                  ".to(dtype))",
                  op, i, tensors[i].dtype(), first.dtype());
    TRIDENT_CHECK(tensors[i].device() == first.device(), "{}: tensor {} is on {}, tensor 0 on {}", op, i,
                  tensors[i].device(), first.device());
  }
}

}  // namespace

// tensors: n x [..., s_i, ...] (equal except at dim) -> [..., sum s_i, ...]
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  check_list("cat", tensors);
  const Tensor& first = tensors[0];
  TRIDENT_CHECK(first.dim() >= 1, "cat: tensor 0 is 0-d (shape []); cat needs at least 1 dim (use stack)");
  const std::int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.sizes();
  shape[static_cast<std::size_t>(d)] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool match = t.dim() == first.dim();
    for (std::int64_t k = 0; match && k < t.dim(); ++k) match = k == d || t.size(k) == first.size(k);
    TRIDENT_CHECK(match, "cat: sizes must match except in dim {}: tensor 0 has shape {}, tensor {} has shape {}", d,
                  shape_str(first.sizes()), i, shape_str(t.sizes()));
    shape[static_cast<std::size_t>(d)] += t.size(d);
  }
  Tensor out = empty(shape, {.dtype = first.dtype(), .device = first.device()});
  std::int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const std::int64_t n = t.size(d);
    if (t.numel() > 0) kernels::copy(t.device(), t, out.slice(d, offset, offset + n));
    offset += n;
  }
  if (auto node = autograd::make_node<CatBackward>(tensors)) {
    node->dim = d;
    autograd::set_history(out, node);
  }
  return out;
}

// tensors: n x [*] (equal shapes) -> [*] with n inserted at dim (dim in [-(rank+1), rank])
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  check_list("stack", tensors);
  const Tensor& first = tensors[0];
  const std::int64_t d = wrap_dim(dim, first.dim() + 1, "stack");
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    TRIDENT_CHECK(tensors[i].sizes() == first.sizes(),
                  "stack: all tensors must have the same shape: tensor 0 has shape {}, tensor {} has shape {}",
                  shape_str(first.sizes()), i, shape_str(tensors[i].sizes()));
  }
  Shape shape = first.sizes();
  shape.insert(shape.begin() + d, static_cast<std::int64_t>(tensors.size()));
  Tensor out = empty(shape, {.dtype = first.dtype(), .device = first.device()});
  if (out.numel() > 0) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto k = static_cast<std::int64_t>(i);
      kernels::copy(first.device(), tensors[i], out.slice(d, k, k + 1).squeeze(d));
    }
  }
  if (auto node = autograd::make_node<StackBackward>(tensors)) {
    node->dim = d;
    autograd::set_history(out, node);
  }
  return out;
}

}  // namespace trident
