// Reductions and their backward nodes. Shape contract: ops/reduce.h.
#include "trident/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;
using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;

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

// Number of elements each output of the reduction covers.
std::int64_t reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  std::int64_t count = 1;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) count *= x.size(static_cast<std::int64_t>(d));
  return count;
}

// The reduced dims as a list (for sum over them in backward).
Dims mask_dims(const std::vector<bool>& mask) {
  Dims dims;
  for (std::size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<std::int64_t>(d));
  return dims;
}

// ---- elementwise helpers on kernels (no autograd) ----------------------------------------------------------------
// The forward of logsumexp and the backward nodes below need exp, log, comparisons and select. They call the
// kernels directly: they are never differentiated, and run on any device that has those kernels.

Tensor scalar_like(const Tensor& t, double v) { return full({}, v, {.dtype = t.dtype(), .device = t.device()}); }

Tensor unary_kernel(UnaryOp op, const Tensor& x) {
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  kernels::unary(x.device(), op, x, out, 0.0, 0.0);
  return out;
}

// a op b (b broadcast to a's shape) -> bool
Tensor compare_kernel(BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor out = empty(a.sizes(), {.dtype = kBool, .device = a.device()});
  kernels::binary(a.device(), op, a, b.expand(a.sizes()), out);
  return out;
}

// t with every element equal to `match` replaced by `replacement`.
Tensor replace_value(const Tensor& t, double match, double replacement) {
  Tensor out = empty(t.sizes(), {.dtype = t.dtype(), .device = t.device()});
  kernels::where(t.device(), compare_kernel(BinaryOp::Eq, t, scalar_like(t, match)),
                 scalar_like(t, replacement).expand(t.sizes()), t, out);
  return out;
}

// ---- backward nodes ------------------------------------------------------------------------------------------------

// grad: reduced shape -> x's shape (expand back over the reduced dims)
struct SumBackward final : Node {
  Shape keep_shape;  // x's shape with reduced dims set to 1
  std::string name() const override { return "SumBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    return {grad.reshape(keep_shape).expand(input_shapes[0]).contiguous()};
  }
};

// Note [Gradient of max and min]
// out = max over a set S of elements (one output's reduced elements). Where a single element attains the maximum,
// the gradient flows to it alone. Where several tie, max is not differentiable; like PyTorch's amax we split the
// gradient evenly between them:
//   dL/dx_i = dL/dout * [x_i == out] / #{j in S : x_j == out}.
// This is what gradient descent wants from a tie (every tied element moves the same way, and the total equals the
// gradient of the shared value) and it is symmetric in the tied elements. A NaN maximum comes from the NaN elements
// (max propagates NaN), so they take the place of the tied maxima: the mask is [x_i == out] or [x_i is NaN]; the
// gradient is then finite and lands on the NaNs. min is the same with min.
// grad: reduced shape -> x's shape
struct ExtremumBackward final : Node {
  const char* op_name = "MaxBackward";
  Shape keep_shape;     // x's shape with the reduced dims set to 1
  Dims dims;            // the reduced dims
  std::size_t x = 0;    // saved: the input, to find the elements that attain the extremum
  std::size_t out = 0;  // saved: the extremum, in keep_shape
  std::string name() const override { return op_name; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor xv = saved(x);
    const Tensor ties = compare_kernel(BinaryOp::Eq, xv, saved(out)).to(xv.dtype());
    const Tensor nans = compare_kernel(BinaryOp::Ne, xv, xv).to(xv.dtype());  // exclusive with ties
    const Tensor mask = ties + nans;
    const Tensor count = sum(mask, dims, true);  // >= 1 for every output
    return {mask * (grad.reshape(keep_shape) / count)};
  }
};

// Note [Gradient of logsumexp]
// lse = log(sum_j exp(x_j)), so d lse / d x_i = exp(x_i) / sum_j exp(x_j) = exp(x_i - lse): the softmax of x over
// the reduced elements. Where every element is -inf, lse = -inf and x_i - lse is NaN; the function is constant
// (-inf) around such an input, so its gradient there is 0, which exp(x_i - 0) = exp(-inf) = 0 gives.
// grad: reduced shape -> x's shape
struct LogsumexpBackward final : Node {
  Shape keep_shape;
  std::size_t x = 0;    // saved: the input
  std::size_t out = 0;  // saved: lse in keep_shape; the gradient is exp(x - lse)
  std::string name() const override { return "LogsumexpBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const double inf = std::numeric_limits<double>::infinity();
    const Tensor lse = replace_value(saved(out), -inf, 0.0);
    const Tensor softmax = unary_kernel(UnaryOp::Exp, saved(x) - lse);
    return {softmax * grad.reshape(keep_shape)};
  }
};

// Run a reduction kernel into the keepdim shape, then drop the dims unless keepdim.
Tensor reduce_forward(const char* op, ReduceOp kind, const Tensor& x, const std::vector<bool>& mask, bool keepdim,
                      DType out_dtype) {
  Tensor out = empty(keepdim_shape(x, mask), {.dtype = out_dtype, .device = x.device()});
  if (out.numel() > 0) {
    if (reduced_count(x, mask) == 0) {
      TRIDENT_CHECK(kind == ReduceOp::Sum,
                    "{}: cannot reduce over zero elements (input shape {}, reduced dims {}); "
                    "the result is undefined",
                    op, shape_str(x.sizes()), shape_str(mask_dims(mask)));
      out.zero_();
    } else {
      kernels::reduce(x.device(), kind, x, out);
    }
  }
  return keepdim ? out : out.view(dropped_shape(x, mask));
}

}  // namespace

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
  const std::int64_t count = reduced_count(x, reduced_mask(x, dims, "mean"));
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

namespace {

Tensor extremum(const char* op, bool is_max, const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined(op, x);
  TRIDENT_CHECK(x.dtype() != kBool,
                "{}: not defined for bool tensors (convert with .to(kInt64), or use any/all "
                "logic), got {}",
                op, x.dtype());
  const auto mask = reduced_mask(x, dims, op);
  Tensor out = reduce_forward(op, is_max ? ReduceOp::Max : ReduceOp::Min, x, mask, true, x.dtype());
  if (auto node = autograd::make_node<ExtremumBackward>({&x})) {
    node->op_name = is_max ? "MaxBackward" : "MinBackward";
    node->keep_shape = out.sizes();
    node->dims = mask_dims(mask);
    node->x = node->save(x);
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return keepdim ? out : out.view(dropped_shape(x, mask));
}

Tensor arg_extremum(const char* op, bool is_max, const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined(op, x);
  if (x.dim() == 0) {  // one element: index 0 (dim must be 0 or -1, as for a 1-d tensor)
    wrap_dim(dim, 1, op);
    return zeros({}, {.dtype = kInt64, .device = x.device()});
  }
  std::vector<bool> mask(static_cast<std::size_t>(x.dim()), false);
  mask[static_cast<std::size_t>(wrap_dim(dim, x.dim(), op))] = true;
  return reduce_forward(op, is_max ? ReduceOp::ArgMax : ReduceOp::ArgMin, x, mask, keepdim, kInt64);
}

}  // namespace

Tensor max(const Tensor& x) { return extremum("max", true, x, {}, false); }
Tensor max(const Tensor& x, const Dims& dims, bool keepdim) { return extremum("max", true, x, dims, keepdim); }
Tensor min(const Tensor& x) { return extremum("min", false, x, {}, false); }
Tensor min(const Tensor& x, const Dims& dims, bool keepdim) { return extremum("min", false, x, dims, keepdim); }

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) { return arg_extremum("argmax", true, x, dim, keepdim); }
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extremum("argmin", false, x, dim, keepdim);
}

// lse = m + log(sum(exp(x - m))) with m the max over the reduced elements, so no exp overflows (x - m <= 0) and the
// largest term is exp(0) = 1 (the sum cannot underflow to 0). An infinite m is replaced by 0: for an all -inf slice
// x - 0 = -inf gives sum 0 and lse = log(0) = -inf (not -inf - -inf = NaN); for +inf, lse = +inf.
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
  check_defined("logsumexp", x);
  check_floating("logsumexp", x);
  const auto mask = reduced_mask(x, dims, "logsumexp");
  const Shape keep = keepdim_shape(x, mask);
  const double inf = std::numeric_limits<double>::infinity();
  Tensor out;
  {
    NoGradGuard no_grad;  // one node for the whole op, below
    if (reduced_count(x, mask) == 0) {
      out = full(keep, -inf, {.dtype = x.dtype(), .device = x.device()});  // log of an empty sum
    } else if (x.numel() == 0) {
      out = empty(keep, {.dtype = x.dtype(), .device = x.device()});
    } else {
      Tensor m = empty(keep, {.dtype = x.dtype(), .device = x.device()});
      kernels::reduce(x.device(), ReduceOp::Max, x, m);
      const Tensor shift = replace_value(replace_value(m, inf, 0.0), -inf, 0.0);
      const Tensor e = unary_kernel(UnaryOp::Exp, x - shift);
      Tensor s = empty(keep, {.dtype = x.dtype(), .device = x.device()});
      kernels::reduce(x.device(), ReduceOp::Sum, e, s);
      out = unary_kernel(UnaryOp::Log, s) + shift;
    }
  }
  if (auto node = autograd::make_node<LogsumexpBackward>({&x})) {
    node->keep_shape = keep;
    node->x = node->save(x);
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return keepdim ? out : out.view(dropped_shape(x, mask));
}

Tensor Tensor::sum() const { return trident::sum(*this); }
Tensor Tensor::sum(const Dims& dims, bool keepdim) const { return trident::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return trident::mean(*this); }
Tensor Tensor::mean(const Dims& dims, bool keepdim) const { return trident::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return trident::max(*this); }
Tensor Tensor::max(const Dims& dims, bool keepdim) const { return trident::max(*this, dims, keepdim); }
Tensor Tensor::min() const { return trident::min(*this); }
Tensor Tensor::min(const Dims& dims, bool keepdim) const { return trident::min(*this, dims, keepdim); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const { return trident::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin(std::int64_t dim, bool keepdim) const { return trident::argmin(*this, dim, keepdim); }
Tensor Tensor::logsumexp(const Dims& dims, bool keepdim) const { return trident::logsumexp(*this, dims, keepdim); }

}  // namespace trident
