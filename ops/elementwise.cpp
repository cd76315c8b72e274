// Elementwise ops and their backward nodes. Shape contract: ops/elementwise.h.
#include "trident/ops/elementwise.h"

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"
#include "trident/ops/reduce.h"

namespace trident {

using kernels::BinaryOp;
using autograd::Node;

namespace {

// Forward of a binary op: check, broadcast, allocate, run the kernel. No autograd.
Tensor binary_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b, DType out_dtype) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), op);
  Tensor out = empty(shape, {.dtype = out_dtype, .device = a.device()});
  kernels::binary(a.device(), kind, a.expand(shape), b.expand(shape), out);
  return out;
}

Tensor arithmetic_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
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
  Tensor out = empty(x.sizes(), {.dtype = x.dtype(), .device = x.device()});
  kernels::unary(x.device(), kernels::UnaryOp::Neg, x, out, 0.0, 0.0);
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

Tensor Tensor::add(const Tensor& o) const { return trident::add(*this, o); }
Tensor Tensor::sub(const Tensor& o) const { return trident::sub(*this, o); }
Tensor Tensor::mul(const Tensor& o) const { return trident::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return trident::div(*this, o); }
Tensor Tensor::neg() const { return trident::neg(*this); }

}  // namespace trident
