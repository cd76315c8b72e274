// Indexing ops and their backward nodes: index_select, gather, scatter_add, one_hot. Shape contract: ops/index.h.
//
// The three differentiable ops are one another's adjoints:
//   index_select  backward = scatter-add of the gradient along dim (with the 1-d index spread over grad's shape)
//   gather        backward = scatter_add of the gradient into zeros of x's shape
//   scatter_add   backward = the gradient itself for x, gather of the gradient for src
// so two kernels (gather, scatter_add) carry every backward, and repeated indices accumulate because scatter_add adds.
#include "trident/ops/index.h"

#include <utility>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;

namespace {

// Note [Index validation]
// Kernels trust their indices (a bad one would read or write outside the tensor), so every op checks the range
// before it calls a kernel. The check is two reductions of the index (max and min) through kernels::reduce, so it
// runs on the index's own device and only two numbers come back to the host. The error names the largest index
// when it is too large, else the smallest when it is negative.
std::pair<std::int64_t, std::int64_t> index_min_max(const Tensor& index) {
  const Shape one(index.sizes().size(), 1);
  Tensor lo = empty(one, {.dtype = kInt64, .device = index.device()});
  Tensor hi = empty(one, {.dtype = kInt64, .device = index.device()});
  kernels::reduce(index.device(), kernels::ReduceOp::Min, index, lo);
  kernels::reduce(index.device(), kernels::ReduceOp::Max, index, hi);
  return {lo.item<std::int64_t>(), hi.item<std::int64_t>()};
}

void check_index_range(const char* op, const Tensor& index, std::int64_t dim, std::int64_t size) {
  if (index.numel() == 0) return;
  const auto [lo, hi] = index_min_max(index);
  TRIDENT_CHECK(hi < size, "{}: index {} out of range for dim {} of size {}", op, hi, dim, size);
  TRIDENT_CHECK(lo >= 0, "{}: index {} out of range for dim {} of size {}", op, lo, dim, size);
}

void check_index_tensor(const char* op, const Tensor& x, const Tensor& index) {
  check_defined(op, x);
  check_defined(op, index, "index");
  check_dtype(op, index, kInt64, "index");
  check_same_device(op, x, index);
  TRIDENT_CHECK(x.dim() >= 1, "{}: input must have at least 1 dim, got a 0-d tensor", op);
}

// gather/scatter_add: index has x's rank and does not exceed x in the dims other than dim.
void check_index_geometry(const char* op, const Tensor& x, std::int64_t dim, const Tensor& index) {
  TRIDENT_CHECK(index.dim() == x.dim(),
                "{}: index must have the input's number of dims ({}), got shape {} for input {}", op, x.dim(),
                shape_str(index.sizes()), shape_str(x.sizes()));
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    TRIDENT_CHECK(d == dim || index.size(d) <= x.size(d),
                  "{}: index shape {} exceeds input shape {} in dim {} (only dim {} may be larger)", op,
                  shape_str(index.sizes()), shape_str(x.sizes()), d, dim);
  }
}

// The forward kernels without checks or autograd, for the backward nodes (their arguments were checked by the
// forward op) and for one_hot.
Tensor gather_unchecked(const Tensor& x, std::int64_t dim, const Tensor& index) {
  Tensor out = empty(index.sizes(), {.dtype = x.dtype(), .device = x.device()});
  kernels::gather(x.device(), x, dim, index, out);
  return out;
}

// out (contiguous, initialised) += src scattered along dim; returns out.
Tensor scatter_add_into(Tensor out, std::int64_t dim, const Tensor& index, const Tensor& src) {
  kernels::scatter_add(out.device(), out, dim, index, src);
  return out;
}

// x: [..., n, ...], index: [k] -> grad: [..., k, ...] -> dL/dx: [..., n, ...]
// Row index[j] of x was copied to row j of out, so dL/dx[..., i, ...] = sum over j with index[j] == i of
// grad[..., j, ...]: a scatter-add with the index spread (stride 0) over grad's shape.
struct IndexSelectBackward final : Node {
  std::int64_t dim = 0;
  std::size_t index = 0;  // saved: the rows to scatter the gradient back to
  std::string name() const override { return "IndexSelectBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Shape spread(grad.sizes().size(), 1);
    spread[static_cast<std::size_t>(dim)] = grad.size(dim);
    const Tensor idx = saved(index).reshape(spread).expand(grad.sizes());
    Tensor gx = zeros(input_shapes[0], {.dtype = grad.dtype(), .device = grad.device()});
    return {scatter_add_into(gx, dim, idx, grad)};
  }
};

// x: [*], index: [*] -> grad: index's shape -> dL/dx: x's shape, each grad element added where it was read from
struct GatherBackward final : Node {
  std::int64_t dim = 0;
  std::size_t index = 0;  // saved: where each output element was read from
  std::string name() const override { return "GatherBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor gx = zeros(input_shapes[0], {.dtype = grad.dtype(), .device = grad.device()});
    return {scatter_add_into(gx, dim, saved(index), grad)};
  }
};

// out = x + scatter(src): dL/dx = grad; dL/dsrc[p] = grad[p with p[dim] := index[p]] = gather(grad, dim, index)
struct ScatterAddBackward final : Node {
  std::int64_t dim = 0;
  std::size_t index = 0;  // saved (only when src needs a gradient): where each src element was added
  std::string name() const override { return "ScatterAddBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor gx, gsrc;
    if (needs_input_grad(0)) gx = grad;
    if (needs_input_grad(1)) gsrc = gather_unchecked(grad, dim, saved(index));
    return {gx, gsrc};
  }
};

}  // namespace

// x: [..., n, ...] (n at dim), index: [k] (or []) -> [..., k, ...]
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_index_tensor("index_select", x, index);
  TRIDENT_CHECK(index.dim() <= 1, "index_select: index must be 1-d, got shape {}", shape_str(index.sizes()));
  const std::int64_t d = wrap_dim(dim, x.dim(), "index_select");
  check_index_range("index_select", index, d, x.size(d));
  const Tensor idx = index.dim() == 0 ? index.reshape({1}) : index;
  Shape shape = x.sizes();
  shape[static_cast<std::size_t>(d)] = idx.numel();
  Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
  kernels::index_select(x.device(), x, d, idx, out);
  if (auto node = autograd::make_node<IndexSelectBackward>({&x})) {
    node->dim = d;
    node->index = node->save(idx);
    autograd::set_history(out, node);
  }
  return out;
}

// x: [*], index: [*] (x's rank, <= x's sizes except at dim) -> index's shape
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_index_tensor("gather", x, index);
  const std::int64_t d = wrap_dim(dim, x.dim(), "gather");
  check_index_geometry("gather", x, d, index);
  check_index_range("gather", index, d, x.size(d));
  Tensor out = gather_unchecked(x, d, index);
  if (auto node = autograd::make_node<GatherBackward>({&x})) {
    node->dim = d;
    node->index = node->save(index);
    autograd::set_history(out, node);
  }
  return out;
}

// x: [*], index: [*] (x's rank, <= x's sizes except at dim), src: index's shape -> x's shape
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_tensor("scatter_add", x, index);
  check_defined("scatter_add", src, "src");
  check_same_dtype("scatter_add", x, src);
  check_same_device("scatter_add", x, src);
  TRIDENT_CHECK(x.dtype() != kBool, "scatter_add: not defined for bool tensors (convert with .to(dtype))");
  const std::int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
  check_index_geometry("scatter_add", x, d, index);
  TRIDENT_CHECK(src.sizes() == index.sizes(), "scatter_add: src shape {} must equal index shape {}",
                shape_str(src.sizes()), shape_str(index.sizes()));
  check_index_range("scatter_add", index, d, x.size(d));
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  kernels::copy(x.device(), x, out);
  scatter_add_into(out, d, index, src);
  if (auto node = autograd::make_node<ScatterAddBackward>({&x, &src})) {
    node->dim = d;
    if (node->needs_input_grad(1)) node->index = node->save(index);
    autograd::set_history(out, node);
  }
  return out;
}

// labels: [*] int64 in [0, num_classes) -> [*, num_classes]: ones scattered into zeros along the last dim
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype) {
  check_defined("one_hot", labels, "labels");
  check_dtype("one_hot", labels, kInt64, "labels");
  TRIDENT_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got {}", num_classes);
  if (labels.numel() > 0) {
    const auto [lo, hi] = index_min_max(labels);
    TRIDENT_CHECK(hi < num_classes, "one_hot: label {} out of range [0, {})", hi, num_classes);
    TRIDENT_CHECK(lo >= 0, "one_hot: label {} out of range [0, {})", lo, num_classes);
  }
  // scatter_add needs a numeric dtype: a bool one-hot is built as int64 and converted.
  const DType work = dtype == kBool ? kInt64 : dtype;
  Shape shape = labels.sizes();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, {.dtype = work, .device = labels.device()});
  const Tensor index = labels.unsqueeze(-1);  // [*, 1]
  const Tensor one = ones({}, {.dtype = work, .device = labels.device()}).expand(index.sizes());
  scatter_add_into(out, labels.dim(), index, one);
  return out.to(dtype);
}

Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
  return trident::index_select(*this, dim, index);
}
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const { return trident::gather(*this, dim, index); }
Tensor Tensor::scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return trident::scatter_add(*this, dim, index, src);
}

}  // namespace trident
