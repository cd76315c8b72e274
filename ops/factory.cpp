// Constant factories and tensors from C++ data. (Ranges and random factories: see below.)
#include "trident/ops/factory.h"

#include "trident/backends/kernels.h"
#include "trident/ops/checks.h"

namespace trident {

Tensor full(const Shape& shape, double value, TensorOptions options) {
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  kernels::fill(t.device(), t, value);
  if (wants_grad) t.set_requires_grad(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double v) { return full(t.sizes(), v, {.dtype = t.dtype(), .device = t.device()}); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  Shape s = shape;
  if (s == Shape{-1}) s = {static_cast<std::int64_t>(values.size())};
  TRIDENT_CHECK(shape_numel(s) == static_cast<std::int64_t>(values.size()),
                "tensor: {} values do not fill shape {} ({} elements)", values.size(), shape_str(s), shape_numel(s));
  const bool wants_grad = options.requires_grad;
  Tensor host = empty(s, {.dtype = dtype_of<T>()});
  T* p = host.data_ptr<T>();
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  Tensor out = host.to(options.dtype).to(options.device).detach();
  if (wants_grad) out.set_requires_grad(true);
  return out;
}
template Tensor tensor<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor tensor<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, TensorOptions);
template Tensor tensor<bool>(const std::vector<bool>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<float> v, const Shape& s) { return tensor(std::vector<float>(v), s); }
Tensor tensor(std::initializer_list<double> v, const Shape& s) { return tensor(std::vector<double>(v), s); }
Tensor tensor(std::initializer_list<std::int64_t> v, const Shape& s) { return tensor(std::vector<std::int64_t>(v), s); }
Tensor tensor(std::initializer_list<bool> v, const Shape& s) { return tensor(std::vector<bool>(v), s); }

}  // namespace trident
