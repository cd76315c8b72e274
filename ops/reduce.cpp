// Reductions and their backward nodes. Shape contract: ops/reduce.h.
#include "trident/ops/reduce.h"

#include <algorithm>
#include <limits>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;
using kernels::ReduceOp;

namespace {

// Which dims a reduction covers (sorted, unique, wrapped). An empty list means all.
std::vector<bool> reduced_mask(const Tensor& x, const Dims& dims, const char* op) {
  std::vector<bool> mask(static_cast<std::size_t>(x.dim()), dims.empty());
  for (auto d : dims) {
    const auto w = static_cast<std::size_t>(wrap_dim(d, x.dim(), op));
    TRIDENT_CHECK(!mask[w] || dims.empty(), "{}: dim {} appears more than once", op, d);
    mask[w] = true;
  }
  return mask;
}

Shape keepdim_shape(const Tensor& x, const std::vector<bool>& mask) {
  Shape s = x.sizes();
  for (std::size_t d = 0; d < s.size(); ++d)
    if (mask[d]) s[d] = 1;
  return s;
}

Shape dropped_shape(const Tensor& x, const std::vector<bool>& mask) {
  Shape s;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (!mask[d]) s.push_back(x.size(static_cast<std::int64_t>(d)));
  return s;
}

// grad: reduced shape -> x's shape (expand back over the reduced dims)
struct SumBackward final : Node {
  Shape keep_shape;  // x's shape with reduced dims set to 1
  std::string name() const override { return "SumBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    return {grad.reshape(keep_shape).expand(input_shapes[0]).contiguous()};
  }
};

}  // namespace

// Run a reduction kernel into the keepdim shape, then drop the dims unless keepdim.
Tensor reduce_forward(const char* op, ReduceOp kind, const Tensor& x, const std::vector<bool>& mask, bool keepdim,
                      DType out_dtype) {
  Tensor out = empty(keepdim_shape(x, mask), {.dtype = out_dtype, .device = x.device()});
  if (x.numel() == 0) {
    TRIDENT_CHECK(kind == ReduceOp::Sum, "{}: cannot reduce an empty tensor of shape {}", op, shape_str(x.sizes()));
    out.zero_();
  } else {
    kernels::reduce(x.device(), kind, x, out);
  }
  return keepdim ? out : out.view(dropped_shape(x, mask));
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined("sum", x);
  const auto mask = reduced_mask(x, dims, "sum");
  const DType out_dtype = x.dtype() == kBool ? kInt64 : x.dtype();
  Tensor out = reduce_forward("sum", ReduceOp::Sum, x, mask, keepdim, out_dtype);
  if (auto node = autograd::make_node<SumBackward>({&x})) {
    node->keep_shape = keepdim_shape(x, mask);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined("mean", x);
  check_floating("mean", x);
  const auto mask = reduced_mask(x, dims, "mean");
  std::int64_t count = 1;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) count *= x.size(static_cast<std::int64_t>(d));
  const double scale = count == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / static_cast<double>(count);
  return mul(sum(x, dims, keepdim), scale);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.sizes() == shape) return grad;
  const std::int64_t lead = grad.dim() - static_cast<std::int64_t>(shape.size());
  TRIDENT_ASSERT(lead >= 0, "sum_to: cannot reduce shape {} to {}", shape_str(grad.sizes()), shape_str(shape));
  Dims dims;
  for (std::int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && grad.size(d) != 1) {
      dims.push_back(d);
    }
  }
  Tensor r = dims.empty() ? grad : sum(grad, dims, true);
  return r.reshape(shape);
}

Tensor Tensor::sum() const { return trident::sum(*this); }
Tensor Tensor::sum(const Dims& dims, bool keepdim) const { return trident::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return trident::mean(*this); }
Tensor Tensor::mean(const Dims& dims, bool keepdim) const { return trident::mean(*this, dims, keepdim); }

}  // namespace trident
