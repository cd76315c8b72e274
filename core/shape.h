// Shapes, strides and the shape arithmetic every op shares (broadcasting, dim wrapping).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace trident {

using Shape = std::vector<std::int64_t>;  // sizes or strides, outermost first

std::string shape_str(const Shape& s);  // "[32, 64]"
std::int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& sizes);  // row-major (C order) strides in elements

// Broadcast two shapes (NumPy rules: align right, sizes equal or one of them 1). Throws
// "<op>: shapes [2, 3] and [4] cannot be broadcast" on failure.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Turn a possibly negative dim into [0, ndim); "<op>: dim 3 out of range for a 2-d tensor" otherwise.
std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op);

}  // namespace trident
