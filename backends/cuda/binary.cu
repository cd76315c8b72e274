// CUDA binary and where kernels (launch.h; contract: backends/kernels.h, binary and where). Broadcast operands arrive
// as stride-0 views (or as one scalar value on the contiguous path). Formulas mirror backends/cpu/elementwise.cpp.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "trident/backends/cuda/loops.cuh"

namespace trident::cuda {
namespace {

template <typename T>
struct AddFn {
  __device__ T operator()(T x, T y) const { return x + y; }
};
template <typename T>
struct SubFn {
  __device__ T operator()(T x, T y) const { return x - y; }
};
template <typename T>
struct MulFn {
  __device__ T operator()(T x, T y) const { return x * y; }
};
template <typename T>
struct DivFn {
  __device__ T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      return y == 0 ? T(0) : T(x / y);  // truncating; division by zero gives 0, as on the CPU
    } else {
      return x / y;
    }
  }
};
// Floating pow goes through float64 like the CPU kernel. Integer pow is exact (square-and-multiply, wrapping on
// overflow) rather than rounded through float64: the CPU's correctly rounded pow gives the same wherever the result
// fits in 2^53.
template <typename T>
struct PowFn {
  __device__ T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y < 0) return x == 1 ? T(1) : (x == -1 ? ((y & 1) ? T(-1) : T(1)) : T(0));  // |1 / x^n| < 1 truncates
      std::uint64_t result = 1, base = static_cast<std::uint64_t>(x);
      for (std::uint64_t e = static_cast<std::uint64_t>(y); e != 0; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
      }
      return static_cast<T>(result);
    } else {
      return static_cast<T>(pow(static_cast<double>(x), static_cast<double>(y)));
    }
  }
};
// maximum/minimum propagate NaN, like PyTorch.
template <typename T>
struct MaximumFn {
  __device__ T operator()(T x, T y) const { return (x != x || x > y) ? x : y; }
};
template <typename T>
struct MinimumFn {
  __device__ T operator()(T x, T y) const { return (x != x || x < y) ? x : y; }
};
template <typename T>
struct EqFn {
  __device__ bool operator()(T x, T y) const { return x == y; }
};
template <typename T>
struct NeFn {
  __device__ bool operator()(T x, T y) const { return x != y; }
};
template <typename T>
struct LtFn {
  __device__ bool operator()(T x, T y) const { return x < y; }
};
template <typename T>
struct LeFn {
  __device__ bool operator()(T x, T y) const { return x <= y; }
};
template <typename T>
struct GtFn {
  __device__ bool operator()(T x, T y) const { return x > y; }
};
template <typename T>
struct GeFn {
  __device__ bool operator()(T x, T y) const { return x >= y; }
};

template <typename T>
struct LogicalAndFn {
  __device__ bool operator()(T x, T y) const { return x != T(0) && y != T(0); }
};
template <typename T>
struct LogicalOrFn {
  __device__ bool operator()(T x, T y) const { return x != T(0) || y != T(0); }
};

template <typename T>
struct WhereFn {
  __device__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

template <typename T>
cudaError_t binary_typed(BinaryKind op, const ElementwiseArgs& a) {
  switch (op) {
    case BinaryKind::Eq:
      return map<bool, T, T>(a, EqFn<T>{});
    case BinaryKind::Ne:
      return map<bool, T, T>(a, NeFn<T>{});
    case BinaryKind::Lt:
      return map<bool, T, T>(a, LtFn<T>{});
    case BinaryKind::Le:
      return map<bool, T, T>(a, LeFn<T>{});
    case BinaryKind::Gt:
      return map<bool, T, T>(a, GtFn<T>{});
    case BinaryKind::Ge:
      return map<bool, T, T>(a, GeFn<T>{});
    case BinaryKind::LogicalAnd:
      return map<bool, T, T>(a, LogicalAndFn<T>{});
    case BinaryKind::LogicalOr:
      return map<bool, T, T>(a, LogicalOrFn<T>{});
    default:
      break;
  }
  if constexpr (std::is_same_v<T, bool>) {
    return cudaErrorInvalidValue;  // no arithmetic on bool: kernels.cpp reports it before launching
  } else {
    switch (op) {
      case BinaryKind::Add:
        return map<T, T, T>(a, AddFn<T>{});
      case BinaryKind::Sub:
        return map<T, T, T>(a, SubFn<T>{});
      case BinaryKind::Mul:
        return map<T, T, T>(a, MulFn<T>{});
      case BinaryKind::Div:
        return map<T, T, T>(a, DivFn<T>{});
      case BinaryKind::Pow:
        return map<T, T, T>(a, PowFn<T>{});
      case BinaryKind::Maximum:
        return map<T, T, T>(a, MaximumFn<T>{});
      case BinaryKind::Minimum:
        return map<T, T, T>(a, MinimumFn<T>{});
      default:
        return cudaErrorInvalidValue;
    }
  }
}

}  // namespace

cudaError_t launch_binary(BinaryKind op, const ElementwiseArgs& a) {
  return dispatch_type(a.dtype[1], [&]<typename T>() { return binary_typed<T>(op, a); });
}

cudaError_t launch_where(const ElementwiseArgs& a) {
  return dispatch_type(a.dtype[0], [&]<typename T>() { return map<T, bool, T, T>(a, WhereFn<T>{}); });
}

}  // namespace trident::cuda
