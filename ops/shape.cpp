// Shape ops (views) and copies (clone, contiguous, to). Shape contract: ops/shape.h.
#include "trident/ops/shape.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"
#include "trident/ops/reduce.h"

namespace trident {

using autograd::Node;

namespace {

// grad: out's shape -> the input's shape (same number of elements)
struct ReshapeBackward final : Node {
  std::string name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.reshape(input_shapes[0])}; }
};

// grad: permuted -> input order
struct PermuteBackward final : Node {
  Dims inverse;
  std::string name() const override { return "PermuteBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.permute(inverse)}; }
};

// grad: expanded shape -> input shape, summing over the broadcast dims
struct ExpandBackward final : Node {
  std::string name() const override { return "ExpandBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {sum_to(grad, input_shapes[0])}; }
};

// grad: sliced shape -> input shape, zero outside the slice
struct SliceBackward final : Node {
  std::int64_t dim = 0, start = 0, end = 0, step = 1;
  std::string name() const override { return "SliceBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor g = zeros(input_shapes[0], {.dtype = grad.dtype(), .device = grad.device()});
    g.slice(dim, start, end, step).copy_(grad);
    return {g};
  }
};

struct CloneBackward final : Node {
  std::string name() const override { return "CloneBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad}; }
};

struct ToDtypeBackward final : Node {
  std::string name() const override { return "ToDtypeBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.to(input_dtypes[0])}; }
};

struct ToDeviceBackward final : Node {
  Device source;
  std::string name() const override { return "ToDeviceBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.to(source)}; }
};

template <typename N>
Tensor with_history(Tensor out, const Tensor& in) {
  if (auto node = autograd::make_node<N>({&in})) autograd::set_history(out, node);
  return out;
}

// Strides for viewing (sizes, strides) as new_sizes without copying, if possible (the chunk rule: each run of old
// dims that is contiguous within itself can be split or merged freely).
std::optional<Shape> view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes) {
  const std::int64_t numel = shape_numel(sizes);
  Shape new_strides(new_sizes.size());
  if (numel <= 1 || sizes.empty()) return contiguous_strides(new_sizes);
  std::int64_t view_d = static_cast<std::int64_t>(new_sizes.size()) - 1;
  std::int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

Shape infer_shape(const Shape& shape, std::int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  std::int64_t known = 1;
  std::optional<std::size_t> infer;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TRIDENT_CHECK(!infer, "{}: only one size may be -1, got {}", op, shape_str(shape));
      infer = i;
    } else {
      TRIDENT_CHECK(out[i] >= 0, "{}: invalid size {} in {}", op, out[i], shape_str(shape));
      known *= out[i];
    }
  }
  if (infer) {
    TRIDENT_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for input of shape {} ({} elements)", op,
                  shape_str(shape), shape_str(from), numel);
    out[*infer] = numel / known;
  }
  TRIDENT_CHECK(shape_numel(out) == numel, "{}: shape {} is invalid for input of shape {} ({} elements)", op,
                shape_str(shape), shape_str(from), numel);
  return out;
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  check_defined("view", x);
  const Shape new_sizes = infer_shape(shape, x.numel(), "view", x.sizes());
  auto strides = view_strides(x.sizes(), x.strides(), new_sizes);
  TRIDENT_CHECK(strides.has_value(), "view: shape {} is not compatible with the input's strides (sizes {}, strides {});"
                " use reshape", shape_str(new_sizes), shape_str(x.sizes()), shape_str(x.strides()));
  return with_history<ReshapeBackward>(make_view(x, new_sizes, *strides, x.storage_offset()), x);
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x);
  const Shape new_sizes = infer_shape(shape, x.numel(), "reshape", x.sizes());
  if (view_strides(x.sizes(), x.strides(), new_sizes)) return view(x, new_sizes);
  return view(x.contiguous(), new_sizes);
}

Tensor permute(const Tensor& x, const Dims& order) {
  check_defined("permute", x);
  TRIDENT_CHECK(static_cast<std::int64_t>(order.size()) == x.dim(), "permute: order {} has {} dims, the tensor has {}",
                shape_str(order), order.size(), x.dim());
  Shape sizes(order.size()), strides(order.size());
  Dims inverse(order.size());
  std::vector<bool> seen(order.size(), false);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto d = static_cast<std::size_t>(wrap_dim(order[i], x.dim(), "permute"));
    TRIDENT_CHECK(!seen[d], "permute: dim {} repeated in {}", order[i], shape_str(order));
    seen[d] = true;
    sizes[i] = x.sizes()[d];
    strides[i] = x.strides()[d];
    inverse[d] = static_cast<std::int64_t>(i);
  }
  Tensor out = make_view(x, sizes, strides, x.storage_offset());
  if (auto node = autograd::make_node<PermuteBackward>({&x})) {
    node->inverse = inverse;
    autograd::set_history(out, node);
  }
  return out;
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", x);
  Dims order(static_cast<std::size_t>(x.dim()));
  std::iota(order.begin(), order.end(), 0);
  if (x.dim() == 0) return permute(x, order);
  std::swap(order[wrap_dim(dim0, x.dim(), "transpose")], order[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, order);
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  check_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  const std::int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  TRIDENT_CHECK(s <= e, "flatten: start_dim {} comes after end_dim {}", start_dim, end_dim);
  Shape shape(x.sizes().begin(), x.sizes().begin() + s);
  std::int64_t n = 1;
  for (std::int64_t d = s; d <= e; ++d) n *= x.size(d);
  shape.push_back(n);
  shape.insert(shape.end(), x.sizes().begin() + e + 1, x.sizes().end());
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x) {
  check_defined("squeeze", x);
  Shape sizes, strides;
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (x.size(d) != 1) {
      sizes.push_back(x.size(d));
      strides.push_back(x.stride(d));
    }
  return with_history<ReshapeBackward>(make_view(x, sizes, strides, x.storage_offset()), x);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  check_defined("squeeze", x);
  if (x.dim() == 0) return with_history<ReshapeBackward>(make_view(x, {}, {}, x.storage_offset()), x);
  const std::int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  Shape sizes = x.sizes(), strides = x.strides();
  if (sizes[d] == 1) {
    sizes.erase(sizes.begin() + d);
    strides.erase(strides.begin() + d);
  }
  return with_history<ReshapeBackward>(make_view(x, sizes, strides, x.storage_offset()), x);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  check_defined("unsqueeze", x);
  const std::int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape sizes = x.sizes(), strides = x.strides();
  const std::int64_t st = d < x.dim() ? sizes[d] * strides[d] : 1;
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  return with_history<ReshapeBackward>(make_view(x, sizes, strides, x.storage_offset()), x);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined("expand", x);
  TRIDENT_CHECK(static_cast<std::int64_t>(shape.size()) >= x.dim(), "expand: cannot expand shape {} to {} (fewer dims)",
                shape_str(x.sizes()), shape_str(shape));
  if (shape == x.sizes()) return x;
  const std::size_t lead = shape.size() - static_cast<std::size_t>(x.dim());
  Shape sizes(shape.size()), strides(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      TRIDENT_CHECK(shape[i] >= 0, "expand: size -1 is not allowed for a new leading dim in {}", shape_str(shape));
      sizes[i] = shape[i];
      strides[i] = 0;
      continue;
    }
    const std::int64_t have = x.sizes()[i - lead];
    const std::int64_t want = shape[i] == -1 ? have : shape[i];
    TRIDENT_CHECK(have == want || have == 1, "expand: cannot expand shape {} to {} (dim {} has size {}, not 1)",
                  shape_str(x.sizes()), shape_str(shape), i - lead, have);
    sizes[i] = want;
    strides[i] = have == want ? x.strides()[i - lead] : 0;
  }
  return with_history<ExpandBackward>(make_view(x, sizes, strides, x.storage_offset()), x);
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  check_defined("slice", x);
  TRIDENT_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const std::int64_t d = wrap_dim(dim, x.dim(), "slice");
  const std::int64_t n = x.size(d);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Shape sizes = x.sizes(), strides = x.strides();
  sizes[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor out = make_view(x, sizes, strides, x.storage_offset() + start * x.stride(d));
  if (auto node = autograd::make_node<SliceBackward>({&x})) {
    node->dim = d;
    node->start = start;
    node->end = end;
    node->step = step;
    autograd::set_history(out, node);
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), {.dtype = dtype(), .device = device()});
  kernels::copy(device(), *this, out);
  return with_history<CloneBackward>(out, *this);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty(sizes(), {.dtype = t, .device = device()});
  kernels::copy(device(), *this, out);
  if (is_floating(t)) return with_history<ToDtypeBackward>(out, *this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = empty(sizes(), {.dtype = dtype(), .device = d});
  // The non-CPU side's backend moves the data (see kernels::copy).
  kernels::copy(d.is_cpu() ? device() : d, *this, out);
  if (auto node = autograd::make_node<ToDeviceBackward>({this})) {
    node->source = device();
    autograd::set_history(out, node);
  }
  return out;
}

Tensor Tensor::reshape(const Shape& s) const { return trident::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return trident::view(*this, s); }
Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const { return trident::transpose(*this, a, b); }
Tensor Tensor::t() const {
  TRIDENT_CHECK(dim() <= 2, "t: expected a tensor with at most 2 dims, got shape {}", shape_str(sizes()));
  return dim() < 2 ? *this : trident::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const Dims& order) const { return trident::permute(*this, order); }
Tensor Tensor::flatten(std::int64_t s, std::int64_t e) const { return trident::flatten(*this, s, e); }
Tensor Tensor::squeeze() const { return trident::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t d) const { return trident::squeeze(*this, d); }
Tensor Tensor::unsqueeze(std::int64_t d) const { return trident::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return trident::expand(*this, s); }
Tensor Tensor::slice(std::int64_t d, std::int64_t s, std::int64_t e, std::int64_t st) const {
  return trident::slice(*this, d, s, e, st);
}

}  // namespace trident
