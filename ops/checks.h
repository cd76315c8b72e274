// Argument checks shared by ops. Each names the op in its message.
#pragma once

#include "trident/core/tensor.h"

namespace trident {

inline void check_defined(const char* op, const Tensor& t, const char* what = "input") {
  TRIDENT_CHECK(t.defined(), "{}: {} is an undefined tensor", op, what);
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  TRIDENT_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} and {} (convert one with .to(dtype))", op, a.dtype(),
                b.dtype());
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  TRIDENT_CHECK(a.device() == b.device(), "{}: tensors on different devices: {} and {}", op, a.device(), b.device());
}

inline void check_floating(const char* op, const Tensor& t) {
  TRIDENT_CHECK(is_floating(t.dtype()), "{}: expected a floating tensor (float32 or float64), got {}", op, t.dtype());
}

inline void check_dtype(const char* op, const Tensor& t, DType expected, const char* what = "input") {
  TRIDENT_CHECK(t.dtype() == expected, "{}: {} must be {}, got {}", op, what, expected, t.dtype());
}

inline void check_dim(const char* op, const Tensor& t, std::int64_t expected, const char* what = "input") {
  TRIDENT_CHECK(t.dim() == expected, "{}: {} must be {}-d, got shape {}", op, what, expected, shape_str(t.sizes()));
}

}  // namespace trident
