#include "trident/core/shape.h"

#include <algorithm>

#include "trident/core/error.h"

namespace trident {

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  std::int64_t st = 1;
  for (std::size_t i = sizes.size(); i-- > 0;) {
    strides[i] = st;
    st *= std::max<std::int64_t>(sizes[i], 1);
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TRIDENT_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast", op, shape_str(a),
                  shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op) {
  const std::int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  TRIDENT_CHECK(dim >= lo && dim <= hi, "{}: dim {} out of range for a {}-d tensor (expected {} to {})", op, dim, ndim,
                lo, hi);
  return dim < 0 ? dim + std::max<std::int64_t>(ndim, 1) : dim;
}

}  // namespace trident
