// Elementwise ops and their backward nodes. Shape contract: ops/elementwise.h.
#include "trident/ops/elementwise.h"

#include <cmath>
#include <limits>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"
#include "trident/ops/reduce.h"

namespace trident {

using autograd::Node;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

// t as a stride-0 broadcast view of `shape`, without autograd history (the op's own node covers the broadcast).
Tensor broadcast_view(const Tensor& t, const Shape& shape) { return t.sizes() == shape ? t : t.detach().expand(shape); }

// Forward of a binary op: check, broadcast, allocate, run the kernel. No autograd.
Tensor binary_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b, DType out_dtype) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), op);
  Tensor out = empty(shape, {.dtype = out_dtype, .device = a.device()});
  kernels::binary(a.device(), kind, broadcast_view(a, shape), broadcast_view(b, shape), out);
  return out;
}

// Forward of a unary op: out = op(x), same shape and dtype. The caller checks x; no autograd.
Tensor unary_forward(UnaryOp kind, const Tensor& x, double arg0 = 0.0, double arg1 = 0.0) {
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  kernels::unary(x.device(), kind, x, out, arg0, arg1);
  return out;
}

void check_not_bool(const char* op, const Tensor& x) {
  check_defined(op, x);
  TRIDENT_CHECK(x.dtype() != kBool, "{}: not defined for bool tensors (convert with .to(dtype))", op);
}

void check_floating_input(const char* op, const Tensor& x) {
  check_defined(op, x);
  check_floating(op, x);
}

Tensor arithmetic_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  TRIDENT_CHECK(a.dtype() != kBool, "{}: arithmetic on bool tensors is not defined (convert with .to(dtype))", op);
  return binary_forward(op, kind, a, b, a.dtype());
}

Tensor scalar_as(const Tensor& like, double v) { return full({}, v, {.dtype = like.dtype(), .device = like.device()}); }

// grad: [broadcast] -> dL/da: a's shape, dL/db: b's shape
struct AddBackward final : Node {
  double alpha = 1.0;  // out = a + alpha * b (alpha = -1 for sub)
  std::string name() const override { return alpha == 1.0 ? "AddBackward" : "SubBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor ga, gb;
    if (needs_input_grad(0)) ga = sum_to(grad, input_shapes[0]);
    if (needs_input_grad(1)) gb = sum_to(alpha == 1.0 ? grad : neg(grad), input_shapes[1]);
    return {ga, gb};
  }
};

// d(a*b)/da = b, d(a*b)/db = a
struct MulBackward final : Node {
  std::size_t a = 0, b = 0;  // saved: the other operand is each one's gradient factor
  std::string name() const override { return "MulBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor ga, gb;
    if (needs_input_grad(0)) ga = sum_to(mul(grad, saved(b)), input_shapes[0]);
    if (needs_input_grad(1)) gb = sum_to(mul(grad, saved(a)), input_shapes[1]);
    return {ga, gb};
  }
};

// d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
struct DivBackward final : Node {
  std::size_t a = 0, b = 0;  // saved: both operands
  std::string name() const override { return "DivBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor ga, gb;
    const Tensor bv = saved(b);
    const Tensor grad_over_b = div(grad, bv);
    if (needs_input_grad(0)) ga = sum_to(grad_over_b, input_shapes[0]);
    if (needs_input_grad(1)) gb = sum_to(neg(mul(grad_over_b, div(saved(a), bv))), input_shapes[1]);
    return {ga, gb};
  }
};

struct NegBackward final : Node {
  std::string name() const override { return "NegBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {neg(grad)}; }
};

// ---- math functions ------------------------------------------------------------------------------------------------

// pow(x, e) with a constant e: d/dx = e * x^(e-1); for e = 0 the gradient is 0 everywhere (x^0 = 1 is constant,
// also at x = 0 where x^-1 would be inf).
struct PowScalarBackward final : Node {
  double exponent = 1.0;
  std::size_t x = 0;  // saved: the base, for x^(e-1)
  std::string name() const override { return "PowBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    if (exponent == 0.0) return {zeros_like(grad)};
    return {mul(grad, mul(pow(saved(x), exponent - 1.0), exponent))};
  }
};

// Note [Gradient of pow in the exponent]
// out = x^e with both tensors: d/dx = e * x^(e-1) and d/de = x^e * log(x) = out * log(x). At x = 0, log(x) = -inf
// and out = 0 (for e > 0), so the product would be NaN although x^e is flat in e there (0^e = 0 for every e > 0); the
// gradient is defined as 0 wherever x == 0 (PyTorch does the same for e >= 0). For x < 0, x^e is real only for integer
// e and log(x) is NaN: the exponent's gradient is NaN there, as in PyTorch -- pow is differentiable in the exponent
// only for x > 0 (ops/elementwise.h). In the base, the gradient is 0 wherever e == 0 (x^0 = 1 is constant in x), also
// at x = 0 where e * x^(e-1) would be 0 * inf.
struct PowTensorBackward final : Node {
  std::size_t x = 0, e = 0;  // saved: base and exponent, for e * x^(e-1)
  std::size_t out = 0;       // saved when the exponent needs a gradient: x^e, for out * log(x)
  std::string name() const override { return "PowBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor gx, ge;
    const Tensor xv = saved(x), ev = saved(e);
    const Tensor zero = scalar_as(grad, 0.0);
    if (needs_input_grad(0)) {
      const Tensor dout_dx = where(eq(ev, 0.0), zero, mul(ev, pow(xv, sub(ev, 1.0))));
      gx = sum_to(mul(grad, dout_dx), input_shapes[0]);
    }
    if (needs_input_grad(1)) {
      const Tensor dout_de = where(eq(xv, 0.0), zero, mul(saved(out), log(xv)));
      ge = sum_to(mul(grad, dout_de), input_shapes[1]);
    }
    return {gx, ge};
  }
};

// d(e^x)/dx = e^x: the output itself.
struct ExpBackward final : Node {
  std::size_t out = 0;  // saved: e^x (cheaper than recomputing it)
  std::string name() const override { return "ExpBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {mul(grad, saved(out))}; }
};

// d(log x)/dx = 1/x
struct LogBackward final : Node {
  std::size_t x = 0;  // saved: the input
  std::string name() const override { return "LogBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {div(grad, saved(x))}; }
};

// d(sqrt x)/dx = 1 / (2 sqrt x)
struct SqrtBackward final : Node {
  std::size_t out = 0;  // saved: sqrt(x), the denominator
  std::string name() const override { return "SqrtBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {div(grad, mul(saved(out), 2.0))}; }
};

// d|x|/dx = sign(x), 0 at x = 0
struct AbsBackward final : Node {
  std::size_t x = 0;  // saved: the input, for its sign
  std::string name() const override { return "AbsBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {mul(grad, sign(saved(x)))}; }
};

// Note [Gradient of clamp at the bounds]
// clamp passes the gradient where min < x < max (strictly) and blocks it elsewhere. At x == min or x == max the
// function has a kink and either one-sided derivative is a valid choice; trident takes 0, consistently with relu
// (= clamp_min(x, 0), gradient 0 at 0). PyTorch passes the gradient at the bounds instead (min <= x <= max); the two
// agree everywhere else. NaN inputs get gradient 0 (every comparison with NaN is false).
struct ClampBackward final : Node {
  std::optional<double> min, max;
  std::size_t x = 0;  // saved: the input, to find where it lies strictly inside the range
  std::string name() const override { return "ClampBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor xv = saved(x);
    Tensor inside;
    if (min) inside = gt(xv, *min);
    if (max) inside = inside.defined() ? logical_and(inside, lt(xv, *max)) : lt(xv, *max);
    return {where(inside, grad, scalar_as(grad, 0.0))};
  }
};

// ---- activations ---------------------------------------------------------------------------------------------------

// d relu(x)/dx = 1 for x > 0, else 0 (0 at x = 0, PyTorch's convention). out > 0 exactly where x > 0.
struct ReluBackward final : Node {
  std::size_t out = 0;  // saved: relu(x), whose sign is the mask
  std::string name() const override { return "ReluBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    return {where(gt(saved(out), 0.0), grad, scalar_as(grad, 0.0))};
  }
};

// d sigmoid(x)/dx = s (1 - s) with s = sigmoid(x)
struct SigmoidBackward final : Node {
  std::size_t out = 0;  // saved: s = sigmoid(x)
  std::string name() const override { return "SigmoidBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor s = saved(out);
    return {mul(grad, mul(s, 1.0 - s))};
  }
};

// d tanh(x)/dx = 1 - y^2 with y = tanh(x)
struct TanhBackward final : Node {
  std::size_t out = 0;  // saved: y = tanh(x)
  std::string name() const override { return "TanhBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor y = saved(out);
    return {mul(grad, 1.0 - mul(y, y))};
  }
};

// d log(1 + e^x)/dx = e^x / (1 + e^x) = sigmoid(x)
struct SoftplusBackward final : Node {
  std::size_t x = 0;  // saved: the input (the output would need exp and a subtraction to give sigmoid back)
  std::string name() const override { return "SoftplusBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override { return {mul(grad, sigmoid(saved(x)))}; }
};

// ---- maximum / minimum / where -------------------------------------------------------------------------------------

// Note [Gradient of maximum and minimum at ties]
// maximum(a, b) is a when a > b and b when a < b, so the gradient goes to the larger input. Where a == b neither
// choice is better than the other; as PyTorch does, each input receives half of the gradient, so the two halves still
// add up to the full gradient (and maximum(x, x) has gradient 1 in x). Where an input is NaN, both comparisons are
// false and both inputs receive the gradient (again as PyTorch). minimum is the mirror image.
struct MaxMinBackward final : Node {
  bool is_max = true;
  std::size_t a = 0, b = 0;  // saved: both operands, to find which one was selected
  std::string name() const override { return is_max ? "MaximumBackward" : "MinimumBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor av = saved(a), bv = saved(b);
    const Tensor zero = scalar_as(grad, 0.0);
    const Tensor half = mul(grad, 0.5);
    const Tensor tie = eq(av, bv);
    Tensor ga, gb;
    if (needs_input_grad(0)) {
      const Tensor a_loses = is_max ? lt(av, bv) : gt(av, bv);
      ga = sum_to(where(tie, half, where(a_loses, zero, grad)), input_shapes[0]);
    }
    if (needs_input_grad(1)) {
      const Tensor b_loses = is_max ? gt(av, bv) : lt(av, bv);
      gb = sum_to(where(tie, half, where(b_loses, zero, grad)), input_shapes[1]);
    }
    return {ga, gb};
  }
};

// where(cond, a, b): the gradient goes to a where cond holds and to b elsewhere, each summed back to its shape.
struct WhereBackward final : Node {
  std::size_t cond = 0;  // saved: the condition (not differentiable, so it is not one of the node's inputs)
  std::string name() const override { return "WhereBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor c = saved(cond);
    const Tensor zero = scalar_as(grad, 0.0);
    Tensor ga, gb;
    if (needs_input_grad(0)) ga = sum_to(where(c, grad, zero), input_shapes[0]);
    if (needs_input_grad(1)) gb = sum_to(where(c, zero, grad), input_shapes[1]);
    return {ga, gb};
  }
};

// Note [Comparing with a double scalar]
// A scalar takes the tensor's dtype (trident's rule). For float32/float64 tensors this is what PyTorch does too. For
// int64 and bool tensors converting a non-integer scalar would change the answer (x < 0.5 would become x < 0), so the
// comparison is first rewritten with an integer bound that gives the same result for every integer x:
//   x < s  <=> x < ceil(s)     x <= s <=> x <= floor(s)     x > s <=> x > floor(s)     x >= s <=> x >= ceil(s)
//   x == s is false and x != s true everywhere when s is not an integer.
// A bound outside the dtype's range (int64, or {0, 1} for bool), an infinite one or NaN makes the result the same
// for every element; it is then a constant tensor.
bool compare_doubles(BinaryOp kind, double x, double y) {
  switch (kind) {
    case BinaryOp::Eq:
      return x == y;
    case BinaryOp::Ne:
      return x != y;
    case BinaryOp::Lt:
      return x < y;
    case BinaryOp::Le:
      return x <= y;
    case BinaryOp::Gt:
      return x > y;
    case BinaryOp::Ge:
      return x >= y;
    default:
      TRIDENT_ASSERT(false, "compare_doubles: not a comparison");
      return false;
  }
}

Tensor compare_scalar(const char* op, BinaryOp kind, const Tensor& a, double s) {
  check_defined(op, a);
  if (is_floating(a.dtype())) return binary_forward(op, kind, a, scalar_as(a, s), kBool);
  auto constant = [&](bool value) {
    return full(a.sizes(), value ? 1.0 : 0.0, {.dtype = kBool, .device = a.device()});
  };
  if (std::isnan(s)) return constant(compare_doubles(kind, 0.0, s));
  double bound = s;
  if (bound != std::floor(bound)) {  // finite, not an integer
    if (kind == BinaryOp::Eq || kind == BinaryOp::Ne) return constant(kind == BinaryOp::Ne);
    bound = (kind == BinaryOp::Lt || kind == BinaryOp::Ge) ? std::ceil(bound) : std::floor(bound);
  }
  const bool is_bool = a.dtype() == kBool;
  const double lowest = is_bool ? 0.0 : -9223372036854775808.0;          // -2^63
  if (bound < lowest) return constant(compare_doubles(kind, 1.0, 0.0));  // every x > bound
  if (is_bool ? bound > 1.0 : bound >= 9223372036854775808.0) return constant(compare_doubles(kind, 0.0, 1.0));
  return binary_forward(op, kind, a, scalar_as(a, bound), kBool);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("add", BinaryOp::Add, a, b);
  if (auto node = autograd::make_node<AddBackward>({&a, &b})) autograd::set_history(out, node);
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("sub", BinaryOp::Sub, a, b);
  if (auto node = autograd::make_node<AddBackward>({&a, &b})) {
    node->alpha = -1.0;
    autograd::set_history(out, node);
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("mul", BinaryOp::Mul, a, b);
  if (auto node = autograd::make_node<MulBackward>({&a, &b})) {
    node->a = node->save(a);
    node->b = node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("div", BinaryOp::Div, a, b);
  if (auto node = autograd::make_node<DivBackward>({&a, &b})) {
    node->a = node->save(a);
    node->b = node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_as(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_as(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_as(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_as(a, b)); }

Tensor neg(const Tensor& x) {
  check_defined("neg", x);
  TRIDENT_CHECK(x.dtype() != kBool, "neg: not defined for bool tensors (use logical_not)");
  Tensor out = unary_forward(UnaryOp::Neg, x);
  if (auto node = autograd::make_node<NegBackward>({&x})) autograd::set_history(out, node);
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_as(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_as(b, a), b); }

// ---- math functions ------------------------------------------------------------------------------------------------

// x: [*] -> [*]
Tensor pow(const Tensor& x, double exponent) {
  check_not_bool("pow", x);
  if (x.dtype() == kInt64) {
    TRIDENT_CHECK(exponent >= 0.0 && exponent == std::floor(exponent) && exponent < 9.2e18,
                  "pow: an int64 tensor needs a non-negative integer exponent, got {} (convert with .to(kFloat64))",
                  exponent);
  }
  Tensor out = unary_forward(UnaryOp::PowScalar, x, exponent);
  if (auto node = autograd::make_node<PowScalarBackward>({&x})) {
    node->exponent = exponent;
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

// x: [*x], exponent: [*e] -> broadcast([*x], [*e])
Tensor pow(const Tensor& x, const Tensor& exponent) {
  Tensor out = arithmetic_forward("pow", BinaryOp::Pow, x, exponent);
  if (auto node = autograd::make_node<PowTensorBackward>({&x, &exponent})) {
    node->x = node->save(x);
    node->e = node->save(exponent);
    if (node->needs_input_grad(1)) node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

// x: [*] -> [*] for every unary op below
Tensor exp(const Tensor& x) {
  check_floating_input("exp", x);
  Tensor out = unary_forward(UnaryOp::Exp, x);
  if (auto node = autograd::make_node<ExpBackward>({&x})) {
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor log(const Tensor& x) {
  check_floating_input("log", x);
  Tensor out = unary_forward(UnaryOp::Log, x);
  if (auto node = autograd::make_node<LogBackward>({&x})) {
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  check_floating_input("sqrt", x);
  Tensor out = unary_forward(UnaryOp::Sqrt, x);
  if (auto node = autograd::make_node<SqrtBackward>({&x})) {
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor abs(const Tensor& x) {
  check_not_bool("abs", x);
  Tensor out = unary_forward(UnaryOp::Abs, x);
  if (auto node = autograd::make_node<AbsBackward>({&x})) {
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor sign(const Tensor& x) {
  check_not_bool("sign", x);
  return unary_forward(UnaryOp::Sign, x);  // no gradient: the output does not require grad
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  check_not_bool("clamp", x);
  TRIDENT_CHECK(min || max, "clamp: at least one of min and max must be given");
  TRIDENT_CHECK(!(min && std::isnan(*min)) && !(max && std::isnan(*max)), "clamp: a bound is NaN (min {}, max {})",
                min.value_or(-std::numeric_limits<double>::infinity()),
                max.value_or(std::numeric_limits<double>::infinity()));
  Tensor out = unary_forward(UnaryOp::Clamp, x, min.value_or(-std::numeric_limits<double>::infinity()),
                             max.value_or(std::numeric_limits<double>::infinity()));
  if (auto node = autograd::make_node<ClampBackward>({&x})) {
    node->min = min;
    node->max = max;
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::nullopt); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, std::nullopt, max); }

// ---- activations ---------------------------------------------------------------------------------------------------

Tensor relu(const Tensor& x) {
  check_not_bool("relu", x);
  Tensor out = unary_forward(UnaryOp::Relu, x);
  if (auto node = autograd::make_node<ReluBackward>({&x})) {
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  check_floating_input("sigmoid", x);
  Tensor out = unary_forward(UnaryOp::Sigmoid, x);
  if (auto node = autograd::make_node<SigmoidBackward>({&x})) {
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  check_floating_input("tanh", x);
  Tensor out = unary_forward(UnaryOp::Tanh, x);
  if (auto node = autograd::make_node<TanhBackward>({&x})) {
    node->out = node->save(out);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor softplus(const Tensor& x) {
  check_floating_input("softplus", x);
  Tensor out = unary_forward(UnaryOp::Softplus, x);
  if (auto node = autograd::make_node<SoftplusBackward>({&x})) {
    node->x = node->save(x);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- maximum / minimum ---------------------------------------------------------------------------------------------

// a: [*a], b: [*b] -> broadcast([*a], [*b])
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("maximum", BinaryOp::Maximum, a, b);
  if (auto node = autograd::make_node<MaxMinBackward>({&a, &b})) {
    node->is_max = true;
    node->a = node->save(a);
    node->b = node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = arithmetic_forward("minimum", BinaryOp::Minimum, a, b);
  if (auto node = autograd::make_node<MaxMinBackward>({&a, &b})) {
    node->is_max = false;
    node->a = node->save(a);
    node->b = node->save(b);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- comparisons and logic (bool outputs, no gradient) -------------------------------------------------------------

// a: [*a], b: [*b] -> bool broadcast([*a], [*b]); a: [*], scalar -> bool [*]
Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward("eq", BinaryOp::Eq, a, b, kBool); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward("ne", BinaryOp::Ne, a, b, kBool); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward("lt", BinaryOp::Lt, a, b, kBool); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward("le", BinaryOp::Le, a, b, kBool); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward("gt", BinaryOp::Gt, a, b, kBool); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward("ge", BinaryOp::Ge, a, b, kBool); }
Tensor eq(const Tensor& a, double b) { return compare_scalar("eq", BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, double b) { return compare_scalar("ne", BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, double b) { return compare_scalar("lt", BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, double b) { return compare_scalar("le", BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, double b) { return compare_scalar("gt", BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, double b) { return compare_scalar("ge", BinaryOp::Ge, a, b); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  check_defined("logical_and", a);
  check_defined("logical_and", b);
  check_dtype("logical_and", a, kBool, "a");
  check_dtype("logical_and", b, kBool, "b");
  return binary_forward("logical_and", BinaryOp::LogicalAnd, a, b, kBool);
}

Tensor logical_or(const Tensor& a, const Tensor& b) {
  check_defined("logical_or", a);
  check_defined("logical_or", b);
  check_dtype("logical_or", a, kBool, "a");
  check_dtype("logical_or", b, kBool, "b");
  return binary_forward("logical_or", BinaryOp::LogicalOr, a, b, kBool);
}

// not a == (a == false)
Tensor logical_not(const Tensor& a) {
  check_defined("logical_not", a);
  check_dtype("logical_not", a, kBool);
  return binary_forward("logical_not", BinaryOp::Eq, a, scalar_as(a, 0.0), kBool);
}

// ---- where ---------------------------------------------------------------------------------------------------------

// cond: [*c] bool, a: [*a], b: [*b] -> broadcast([*c], [*a], [*b])
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined("where", cond, "cond");
  check_defined("where", a, "a");
  check_defined("where", b, "b");
  check_dtype("where", cond, kBool, "cond");
  check_same_dtype("where", a, b);
  check_same_device("where", a, b);
  check_same_device("where", cond, a);
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor out = empty(shape, {.dtype = a.dtype(), .device = a.device()});
  kernels::where(a.device(), broadcast_view(cond, shape), broadcast_view(a, shape), broadcast_view(b, shape), out);
  if (auto node = autograd::make_node<WhereBackward>({&a, &b})) {
    node->cond = node->save(cond);
    autograd::set_history(out, node);
  }
  return out;
}

// ---- Tensor members ------------------------------------------------------------------------------------------------

Tensor Tensor::add(const Tensor& o) const { return trident::add(*this, o); }
Tensor Tensor::sub(const Tensor& o) const { return trident::sub(*this, o); }
Tensor Tensor::mul(const Tensor& o) const { return trident::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return trident::div(*this, o); }
Tensor Tensor::neg() const { return trident::neg(*this); }
Tensor Tensor::pow(double e) const { return trident::pow(*this, e); }
Tensor Tensor::pow(const Tensor& e) const { return trident::pow(*this, e); }
Tensor Tensor::exp() const { return trident::exp(*this); }
Tensor Tensor::log() const { return trident::log(*this); }
Tensor Tensor::sqrt() const { return trident::sqrt(*this); }
Tensor Tensor::abs() const { return trident::abs(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return trident::clamp(*this, min, max);
}
Tensor Tensor::clamp_min(double min) const { return trident::clamp_min(*this, min); }
Tensor Tensor::clamp_max(double max) const { return trident::clamp_max(*this, max); }
Tensor Tensor::relu() const { return trident::relu(*this); }
Tensor Tensor::sigmoid() const { return trident::sigmoid(*this); }
Tensor Tensor::tanh() const { return trident::tanh(*this); }
Tensor Tensor::softplus() const { return trident::softplus(*this); }
Tensor Tensor::maximum(const Tensor& o) const { return trident::maximum(*this, o); }
Tensor Tensor::minimum(const Tensor& o) const { return trident::minimum(*this, o); }
Tensor Tensor::eq(const Tensor& o) const { return trident::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return trident::ne(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return trident::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return trident::le(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return trident::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return trident::ge(*this, o); }
Tensor Tensor::eq(double o) const { return trident::eq(*this, o); }
Tensor Tensor::ne(double o) const { return trident::ne(*this, o); }
Tensor Tensor::lt(double o) const { return trident::lt(*this, o); }
Tensor Tensor::le(double o) const { return trident::le(*this, o); }
Tensor Tensor::gt(double o) const { return trident::gt(*this, o); }
Tensor Tensor::ge(double o) const { return trident::ge(*this, o); }

}  // namespace trident
