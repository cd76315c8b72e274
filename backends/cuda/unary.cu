// CUDA unary kernels: out[i] = op(in[i]) for every UnaryOp (launch.h; contract: backends/kernels.h, unary).
// Each op mirrors the CPU kernel (backends/cpu/elementwise.cpp) formula for formula, so the two agree to rounding.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "trident/backends/cuda/loops.cuh"

namespace trident::cuda {
namespace {

template <typename T>
struct NegFn {
  __device__ T operator()(T x) const { return -x; }
};
template <typename T>
struct ExpFn {
  __device__ T operator()(T x) const { return exp(x); }
};
template <typename T>
struct LogFn {
  __device__ T operator()(T x) const { return log(x); }
};
template <typename T>
struct SqrtFn {
  __device__ T operator()(T x) const { return sqrt(x); }
};
template <typename T>
struct AbsFn {
  __device__ T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) {
      return x < 0 ? -x : x;
    } else {
      return fabs(x);
    }
  }
};
// relu keeps NaN (x <= 0 is false for NaN), as the CPU kernel and PyTorch do.
template <typename T>
struct ReluFn {
  __device__ T operator()(T x) const { return x <= T(0) ? T(0) : x; }
};
// Stable in both tails: exp of a non-positive argument only.
template <typename T>
struct SigmoidFn {
  __device__ T operator()(T x) const {
    if (x >= T(0)) return T(1) / (T(1) + exp(-x));
    const T e = exp(x);
    return e / (T(1) + e);
  }
};
template <typename T>
struct TanhFn {
  __device__ T operator()(T x) const { return tanh(x); }
};
// log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): no overflow for large x.
template <typename T>
struct SoftplusFn {
  __device__ T operator()(T x) const { return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x))); }
};
template <typename T>
struct SignFn {
  __device__ T operator()(T x) const { return x == x ? T((x > T(0)) - (x < T(0))) : x; }  // NaN stays NaN
};
template <typename T>
struct ReciprocalFn {
  __device__ T operator()(T x) const { return T(1) / x; }
};
// Integer power by repeated squaring, wrapping on overflow; negative exponents truncate 1 / x^-e toward zero
// (the CPU kernel's int_pow, backends/cpu/elementwise.cpp).
struct IntPowFn {
  std::int64_t e;
  __device__ std::int64_t operator()(std::int64_t x) const {
    if (e < 0) return x == 1 ? 1 : (x == -1 ? ((e & 1) ? -1 : 1) : 0);
    unsigned long long base = static_cast<unsigned long long>(x), result = 1;
    for (unsigned long long k = static_cast<unsigned long long>(e); k != 0; k >>= 1) {
      if (k & 1) result *= base;
      base *= base;
    }
    return static_cast<std::int64_t>(result);
  }
};
template <typename T>
struct SquareFn {
  __device__ T operator()(T x) const { return x * x; }
};
template <typename T>
struct IdentityFn {
  __device__ T operator()(T x) const { return x; }
};
template <typename T>
struct PowFn {
  T e;
  __device__ T operator()(T x) const { return pow(x, e); }
};
// min(max(x, lo), hi), as PyTorch (lo > hi gives hi everywhere); NaN stays NaN (comparisons with NaN are false).
template <typename T>
struct ClampFn {
  T lo, hi;
  __device__ T operator()(T x) const {
    const T v = x < lo ? lo : x;
    return v > hi ? hi : v;
  }
};
// Integer clamp goes through double, like the CPU kernel (the bounds may be +-inf).
struct ClampInt64Fn {
  double lo, hi;
  __device__ std::int64_t operator()(std::int64_t x) const {
    double v = static_cast<double>(x);
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return static_cast<std::int64_t>(v);
  }
};

template <typename T>
cudaError_t unary_floating(UnaryKind op, const ElementwiseArgs& a, double arg0, double arg1) {
  switch (op) {
    case UnaryKind::Neg:
      return map<T, T>(a, NegFn<T>{});
    case UnaryKind::Exp:
      return map<T, T>(a, ExpFn<T>{});
    case UnaryKind::Log:
      return map<T, T>(a, LogFn<T>{});
    case UnaryKind::Sqrt:
      return map<T, T>(a, SqrtFn<T>{});
    case UnaryKind::Abs:
      return map<T, T>(a, AbsFn<T>{});
    case UnaryKind::Relu:
      return map<T, T>(a, ReluFn<T>{});
    case UnaryKind::Sigmoid:
      return map<T, T>(a, SigmoidFn<T>{});
    case UnaryKind::Tanh:
      return map<T, T>(a, TanhFn<T>{});
    case UnaryKind::Softplus:
      return map<T, T>(a, SoftplusFn<T>{});
    case UnaryKind::Sign:
      return map<T, T>(a, SignFn<T>{});
    case UnaryKind::PowScalar:
      if (arg0 == 2.0) return map<T, T>(a, SquareFn<T>{});
      if (arg0 == 1.0) return map<T, T>(a, IdentityFn<T>{});
      if (arg0 == 0.5) return map<T, T>(a, SqrtFn<T>{});
      if (arg0 == -1.0) return map<T, T>(a, ReciprocalFn<T>{});
      return map<T, T>(a, PowFn<T>{static_cast<T>(arg0)});
    case UnaryKind::Clamp:
      return map<T, T>(a, ClampFn<T>{static_cast<T>(arg0), static_cast<T>(arg1)});
  }
  return cudaErrorInvalidValue;
}

cudaError_t unary_int64(UnaryKind op, const ElementwiseArgs& a, double arg0, double arg1) {
  using T = std::int64_t;
  switch (op) {
    case UnaryKind::Neg:
      return map<T, T>(a, NegFn<T>{});
    case UnaryKind::Abs:
      return map<T, T>(a, AbsFn<T>{});
    case UnaryKind::Relu:
      return map<T, T>(a, ReluFn<T>{});
    case UnaryKind::Sign:
      return map<T, T>(a, SignFn<T>{});
    case UnaryKind::Clamp:
      return map<T, T>(a, ClampInt64Fn{arg0, arg1});
    case UnaryKind::PowScalar:
      return map<T, T>(a, IntPowFn{static_cast<std::int64_t>(arg0)});
    default:
      return cudaErrorInvalidValue;  // kernels.cpp reports these as errors before launching
  }
}

}  // namespace

cudaError_t launch_unary(UnaryKind op, const ElementwiseArgs& a, double arg0, double arg1) {
  switch (a.dtype[0]) {
    case ScalarType::Float32:
      return unary_floating<float>(op, a, arg0, arg1);
    case ScalarType::Float64:
      return unary_floating<double>(op, a, arg0, arg1);
    case ScalarType::Int64:
      return unary_int64(op, a, arg0, arg1);
    case ScalarType::Bool:
      break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace trident::cuda
