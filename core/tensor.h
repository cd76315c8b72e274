// Tensor: the one user-facing type of trident.
//
// A Tensor is a cheap handle (a shared pointer) to a TensorImpl, which holds
//   storage  -- a reference-counted buffer on one device, shared by all views of it,
//   sizes, strides (in elements) and a storage offset -- so transpose/slice/expand/... are views,
//   dtype, and the autograd metadata (requires_grad, grad, grad_fn) when the tensor takes part in autograd.
// Copying a Tensor copies the handle, not the data (as in PyTorch); clone() copies the data.
//
// The member functions below are thin forwards to the free functions of ops/ (trident::add, trident::sum, ...),
// defined beside them, so that each op is written once.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trident/core/device.h"
#include "trident/core/dtype.h"
#include "trident/core/error.h"
#include "trident/core/shape.h"
#include "trident/core/storage.h"

namespace trident {

namespace autograd {
class Node;
}

class Tensor;
using Dims = std::vector<std::int64_t>;

// Options for factories: zeros({2, 3}, {.dtype = kFloat64, .requires_grad = true}).
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = kCPU;
  bool requires_grad = false;
};

// Per-tensor autograd state; absent (nullptr) for plain data tensors.
struct AutogradMeta;

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, Shape sizes, Shape strides, std::int64_t offset, DType dtype);
  ~TensorImpl();

  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;
  std::int64_t offset = 0;  // in elements
  DType dtype;
  std::unique_ptr<AutogradMeta> autograd;  // see core/autograd/autograd_meta.h

  AutogradMeta& autograd_meta();  // creates it on first use
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false), like PyTorch's empty optional gradient
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata -------------------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& shape() const { return impl().sizes; }
  std::int64_t size(std::int64_t dim) const;  // negative dims count from the end
  const Shape& strides() const { return impl().strides; }
  std::int64_t stride(std::int64_t dim) const;
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().sizes.size()); }
  std::int64_t numel() const { return shape_numel(impl().sizes); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  std::int64_t storage_offset() const { return impl().offset; }
  bool is_contiguous() const;
  std::size_t itemsize() const { return trident::itemsize(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  std::uint64_t version() const { return impl().storage->version(); }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }  // same handle target
  bool shares_storage(const Tensor& other) const { return storage() == other.storage(); }

  TensorImpl& impl() const {
    TRIDENT_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- raw data (CPU) ---------------------------------------------------------------------------------------------
  // Pointer to the first element (storage + offset). data_ptr<T> checks that T matches the dtype.
  void* raw_data() const;
  template <typename T>
  T* data_ptr() const {
    TRIDENT_CHECK(dtype_of<T>() == dtype(), "data_ptr: tensor is {}, asked for {}", dtype(), dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  // The single element of a one-element tensor, converted to T (copies from the device if needed).
  template <typename T>
  T item() const;
  // Element access for tests and small programs: at<float>({i, j}). Reads one element (copies from the device).
  template <typename T>
  T at(const std::vector<std::int64_t>& index) const;
  // All elements in C order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- conversion and copies --------------------------------------------------------------------------------------
  Tensor to(DType dtype) const;    // same tensor when the dtype already matches
  Tensor to(Device device) const;  // same tensor when already there
  Tensor cpu() const { return to(kCPU); }
  Tensor clone() const;       // a contiguous copy; differentiable
  Tensor contiguous() const;  // *this when already contiguous, else a copy; differentiable
  Tensor detach() const;      // shares storage, no autograd history, requires_grad false

  // ---- autograd ---------------------------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value = true);  // only on leaves
  Tensor& requires_grad_(bool value = true) { return set_requires_grad(value); }
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reaches this leaf
  void set_grad(const Tensor& grad);
  void zero_grad();  // zeroes .grad() in place when it exists (keeps its memory, like zero_grad(set_to_none=False))
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  // Reverse-mode differentiation from this tensor. Without `gradient` the tensor must hold one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  // ---- in-place (for optimizers and initialisation; refuse tensors that need gradients while grad mode is on) ---
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // broadcasts src to this shape, converts dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other
  Tensor& add_(double value);
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double value);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);

  // ---- elementwise (ops/elementwise.h) ----------------------------------------------------------------------------
  Tensor add(const Tensor& other) const;
  Tensor sub(const Tensor& other) const;
  Tensor mul(const Tensor& other) const;
  Tensor div(const Tensor& other) const;
  Tensor neg() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor clamp(std::optional<double> min, std::optional<double> max) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor softplus() const;
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  Tensor eq(const Tensor& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor le(const Tensor& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor eq(double other) const;
  Tensor ne(double other) const;
  Tensor lt(double other) const;
  Tensor le(double other) const;
  Tensor gt(double other) const;
  Tensor ge(double other) const;

  // ---- reductions (ops/reduce.h, ops/softmax.h) -------------------------------------------------------------------
  Tensor sum() const;
  Tensor sum(const Dims& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Dims& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(const Dims& dims, bool keepdim = false) const;
  Tensor min() const;
  Tensor min(const Dims& dims, bool keepdim = false) const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor argmin(std::int64_t dim, bool keepdim = false) const;
  Tensor logsumexp(const Dims& dims, bool keepdim = false) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  // ---- linear algebra (ops/matmul.h) ------------------------------------------------------------------------------
  Tensor matmul(const Tensor& other) const;

  // ---- shape and views (ops/shape.h) ------------------------------------------------------------------------------
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy; one size may be -1
  Tensor view(const Shape& shape) const;     // always a view; error when the strides do not allow it
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;  // 2-d transpose
  Tensor permute(const Dims& order) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;

  // ---- indexing (ops/index.h) -------------------------------------------------------------------------------------
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;
  Tensor scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Arithmetic operators with PyTorch's meaning (elementwise, broadcasting; scalars take the tensor's dtype).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- construction ---------------------------------------------------------------------------------------------------
// An uninitialised tensor of the given shape (contiguous).
Tensor empty(const Shape& shape, TensorOptions options = {});
// A tensor that views `storage` with the given geometry (no copy).
Tensor make_view(const Tensor& base, Shape sizes, Shape strides, std::int64_t offset);

}  // namespace trident
