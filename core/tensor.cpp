// Tensor basics: construction, metadata, element access, copies and conversion, autograd accessors, in-place ops.
#include "trident/core/tensor.h"

#include <limits>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/autograd_meta.h"
#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/elementwise.h"

namespace trident {

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_, Shape sizes_, Shape strides_, std::int64_t offset_,
                       DType dtype_)
    : storage(std::move(storage_)), sizes(std::move(sizes_)), strides(std::move(strides_)), offset(offset_),
      dtype(dtype_) {}

TensorImpl::~TensorImpl() = default;

AutogradMeta& TensorImpl::autograd_meta() {
  if (!autograd) autograd = std::make_unique<AutogradMeta>();
  return *autograd;
}

Tensor empty(const Shape& shape, TensorOptions options) {
  for (auto s : shape) TRIDENT_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(shape));
  const std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * itemsize(options.dtype);
  auto storage = std::make_shared<Storage>(nbytes, options.device);
  Tensor t(std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, options.dtype));
  if (options.requires_grad) t.set_requires_grad(true);
  return t;
}

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, std::int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(base.storage(), std::move(sizes), std::move(strides), offset,
                                             base.dtype()));
}

std::int64_t Tensor::size(std::int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
std::int64_t Tensor::stride(std::int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to place: any strides describe it (PyTorch agrees)
  std::int64_t expected = 1;
  for (std::int64_t d = dim(); d-- > 0;) {
    if (sizes()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= sizes()[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<std::int64_t>(itemsize());
}

template <typename T>
T Tensor::item() const {
  TRIDENT_CHECK(numel() == 1, "item: expected a tensor with one element, got shape {}", shape_str(sizes()));
  return at<T>(std::vector<std::int64_t>(static_cast<std::size_t>(dim()), 0));
}

template <typename T>
T Tensor::at(const std::vector<std::int64_t>& index) const {
  TRIDENT_CHECK(static_cast<std::int64_t>(index.size()) == dim(), "at: expected {} indices for shape {}, got {}", dim(),
                shape_str(sizes()), index.size());
  std::int64_t off = 0;
  for (std::int64_t d = 0; d < dim(); ++d) {
    std::int64_t i = index[d];
    TRIDENT_CHECK(i >= -sizes()[d] && i < sizes()[d], "at: index {} out of range for dim {} of size {}", i, d,
                  sizes()[d]);
    if (i < 0) i += sizes()[d];
    off += i * strides()[d];
  }
  Tensor element = make_view(*this, {}, {}, storage_offset() + off);
  if (!device().is_cpu()) element = element.to(kCPU);
  return dispatch_dtype(dtype(), "at", [&]<typename S>() -> T { return static_cast<T>(*element.data_ptr<S>()); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(kCPU).to(dtype_of<T>()).contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + c.numel());
}

#define TRIDENT_INSTANTIATE_ACCESS(T)                                    \
  template T Tensor::item<T>() const;                                   \
  template T Tensor::at<T>(const std::vector<std::int64_t>&) const;     \
  template std::vector<T> Tensor::to_vector<T>() const;
TRIDENT_INSTANTIATE_ACCESS(float)
TRIDENT_INSTANTIATE_ACCESS(double)
TRIDENT_INSTANTIATE_ACCESS(std::int64_t)
TRIDENT_INSTANTIATE_ACCESS(bool)
#undef TRIDENT_INSTANTIATE_ACCESS

Tensor Tensor::detach() const {
  return make_view(*this, sizes(), strides(), storage_offset());
}

// ---- autograd accessors ----------------------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl().autograd && impl().autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
  TRIDENT_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad (this one comes from {}); "
                "use detach() first", grad_fn() ? "an op" : "?");
  TRIDENT_CHECK(!value || is_floating(dtype()), "set_requires_grad: only floating tensors can require gradients, "
                "got {}", dtype());
  impl().autograd_meta().requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const { return !impl().autograd || impl().autograd->grad_fn == nullptr; }

Tensor Tensor::grad() const { return impl().autograd ? impl().autograd->grad : Tensor(); }

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined()) {
    TRIDENT_CHECK(grad.sizes() == sizes(), "set_grad: gradient shape {} differs from the tensor's {}",
                  shape_str(grad.sizes()), shape_str(sizes()));
    TRIDENT_CHECK(grad.dtype() == dtype(), "set_grad: gradient dtype {} differs from the tensor's {}", grad.dtype(),
                  dtype());
  }
  impl().autograd_meta().grad = grad;
}

void Tensor::zero_grad() {
  if (impl().autograd && impl().autograd->grad.defined()) {
    NoGradGuard guard;
    impl().autograd->grad.zero_();
  }
}

const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<autograd::Node> none;
  return impl().autograd ? impl().autograd->grad_fn : none;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  TRIDENT_CHECK(requires_grad(), "backward: the tensor does not require grad and has no grad_fn (did you call "
                "set_requires_grad on the inputs, or run under NoGradGuard?)");
  Tensor g = gradient;
  if (!g.defined()) {
    TRIDENT_CHECK(numel() == 1, "backward: a gradient can be created implicitly only for a tensor with one element; "
                  "this one has shape {} (pass the gradient explicitly)", shape_str(sizes()));
    g = empty(sizes(), {.dtype = dtype(), .device = device()});
    g.fill_(1.0);
  }
  TRIDENT_CHECK(g.sizes() == sizes(), "backward: gradient shape {} differs from the tensor's {}", shape_str(g.sizes()),
                shape_str(sizes()));
  TRIDENT_CHECK(g.dtype() == dtype(), "backward: gradient dtype {} differs from the tensor's {}", g.dtype(), dtype());
  TRIDENT_CHECK(g.device() == device(), "backward: gradient on {}, tensor on {}", g.device(), device());
  autograd::run_backward(*this, g, retain_graph);
}

// ---- in-place ----------------------------------------------------------------------------------------------------------

namespace {
void check_inplace(const Tensor& t, const char* op) {
  TRIDENT_CHECK(!(is_grad_enabled() && t.requires_grad()),
                "{}: a tensor that requires grad cannot be modified in place while grad mode is on "
                "(optimizers and initialisers run under NoGradGuard)", op);
}

void inplace_binary(Tensor& self, kernels::BinaryOp op, const Tensor& other, const char* name) {
  check_inplace(self, name);
  TRIDENT_CHECK(self.dtype() == other.dtype(), "{}: dtype mismatch: {} and {}", name, self.dtype(), other.dtype());
  TRIDENT_CHECK(self.device() == other.device(), "{}: device mismatch: {} and {}", name, self.device(),
                other.device());
  const Shape b = broadcast_shapes(self.sizes(), other.sizes(), name);
  TRIDENT_CHECK(b == self.sizes(), "{}: the result shape {} would differ from the tensor's {}", name, shape_str(b),
                shape_str(self.sizes()));
  const Tensor rhs = other.expand(self.sizes());
  kernels::binary(self.device(), op, self, rhs, self);
  self.storage()->bump_version();
}

Tensor scalar_like(const Tensor& t, double v) {
  Tensor s = empty({}, {.dtype = t.dtype(), .device = t.device()});
  kernels::fill(t.device(), s, v);
  return s;
}
}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  kernels::fill(device(), *this, value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  TRIDENT_CHECK(src.device() == device(), "copy_: source on {}, destination on {} (use .to(device) first)",
                src.device(), device());
  const Shape b = broadcast_shapes(sizes(), src.sizes(), "copy_");
  TRIDENT_CHECK(b == sizes(), "copy_: source shape {} cannot be broadcast to {}", shape_str(src.sizes()),
                shape_str(sizes()));
  kernels::copy(device(), src.expand(sizes()), *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  if (alpha == 1.0) {
    inplace_binary(*this, kernels::BinaryOp::Add, other, "add_");
  } else {
    NoGradGuard guard;
    inplace_binary(*this, kernels::BinaryOp::Add, trident::mul(other, alpha), "add_");
  }
  return *this;
}
Tensor& Tensor::add_(double value) {
  inplace_binary(*this, kernels::BinaryOp::Add, scalar_like(*this, value), "add_");
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) { return add_(other, -alpha); }
Tensor& Tensor::mul_(const Tensor& other) {
  inplace_binary(*this, kernels::BinaryOp::Mul, other, "mul_");
  return *this;
}
Tensor& Tensor::mul_(double value) {
  inplace_binary(*this, kernels::BinaryOp::Mul, scalar_like(*this, value), "mul_");
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  inplace_binary(*this, kernels::BinaryOp::Div, other, "div_");
  return *this;
}
Tensor& Tensor::div_(double value) {
  inplace_binary(*this, kernels::BinaryOp::Div, scalar_like(*this, value), "div_");
  return *this;
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  check_inplace(*this, "clamp_");
  TRIDENT_CHECK(is_contiguous(), "clamp_: the tensor must be contiguous");
  kernels::unary(device(), kernels::UnaryOp::Clamp, *this, *this,
                 min.value_or(-std::numeric_limits<double>::infinity()),
                 max.value_or(std::numeric_limits<double>::infinity()));
  storage()->bump_version();
  return *this;
}

}  // namespace trident
