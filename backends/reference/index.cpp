// Reference indexing: see index.h.
#include "trident/backends/reference/index.h"

#include <vector>

#include "trident/ops/factory.h"

namespace trident::reference {
namespace {

using Index = std::vector<std::int64_t>;

// The multi-index of the C-order linear position i in a tensor of `sizes`.
Index unravel(std::int64_t i, const Shape& sizes) {
  Index p(sizes.size());
  for (std::size_t d = sizes.size(); d-- > 0;) {
    p[d] = i % sizes[d];
    i /= sizes[d];
  }
  return p;
}

// The C-order linear position of the multi-index p in a tensor of `sizes`.
std::int64_t ravel(const Index& p, const Shape& sizes) {
  std::int64_t i = 0;
  for (std::size_t d = 0; d < sizes.size(); ++d) i = i * sizes[d] + p[d];
  return i;
}

Tensor from_values(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return tensor(values, shape).to(dtype);
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
  Shape shape = x.sizes();
  shape[static_cast<std::size_t>(dim)] = static_cast<std::int64_t>(iv.size());
  std::vector<double> out(static_cast<std::size_t>(shape_numel(shape)));
  for (std::int64_t i = 0; i < shape_numel(shape); ++i) {
    Index p = unravel(i, shape);
    p[static_cast<std::size_t>(dim)] = iv[static_cast<std::size_t>(p[static_cast<std::size_t>(dim)])];
    out[static_cast<std::size_t>(i)] = xv[static_cast<std::size_t>(ravel(p, x.sizes()))];
  }
  return from_values(out, shape, x.dtype());
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
  std::vector<double> out(iv.size());
  for (std::size_t i = 0; i < iv.size(); ++i) {
    Index p = unravel(static_cast<std::int64_t>(i), index.sizes());
    p[static_cast<std::size_t>(dim)] = iv[i];
    out[i] = xv[static_cast<std::size_t>(ravel(p, x.sizes()))];
  }
  return from_values(out, index.sizes(), x.dtype());
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  std::vector<double> out = x.to_vector<double>();
  const std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
  const std::vector<double> sv = src.to_vector<double>();
  for (std::size_t i = 0; i < iv.size(); ++i) {
    Index p = unravel(static_cast<std::int64_t>(i), index.sizes());
    p[static_cast<std::size_t>(dim)] = iv[i];
    out[static_cast<std::size_t>(ravel(p, x.sizes()))] += sv[i];
  }
  return from_values(out, x.sizes(), x.dtype());
}

}  // namespace trident::reference
