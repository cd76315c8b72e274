// CPU kernels: copy, fill, unary, binary, where. Contract: backends/kernels.h.
//
// Each kernel is one strided loop (loops.h) whose inner run has a contiguous fast path that the compiler
// vectorises, and a strided path for views.
#include <cmath>
#include <cstring>
#include <limits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/cpu/vec_math.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

template <typename T>
inline T at_bytes(const char* p, std::int64_t i, std::int64_t stride) {
  return *reinterpret_cast<const T*>(p + i * stride);
}

void cpu_copy(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;  // empty storages have null data: memcpy(nullptr, nullptr, 0) is undefined
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous() && src.numel() == dst.numel()) {
    const std::size_t nbytes = static_cast<std::size_t>(dst.numel()) * dst.itemsize();
    char* d = static_cast<char*>(dst.raw_data());
    const char* s = static_cast<const char*>(src.raw_data());
    if (nbytes < static_cast<std::size_t>(kParallelGrain) * 4 || omp_get_max_threads() == 1) {
      std::memcpy(d, s, nbytes);
      return;
    }
#pragma omp parallel
    {
      const std::size_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const std::size_t chunk = (nbytes + nt - 1) / nt / 64 * 64 + 64;
      const std::size_t lo = std::min(nbytes, t * chunk), hi = std::min(nbytes, lo + chunk);
      if (lo < hi) std::memcpy(d + lo, s + lo, hi - lo);
    }
    return;
  }
  dispatch_dtype(dst.dtype(), "copy", [&]<typename D>() {
    dispatch_dtype(src.dtype(), "copy", [&]<typename S>() {
      for_each_strided<2>(dst.sizes(), {&dst, &src}, [](char** p, const std::int64_t* st, std::int64_t n) {
        for (std::int64_t i = 0; i < n; ++i)
          *reinterpret_cast<D*>(p[0] + i * st[0]) = static_cast<D>(at_bytes<S>(p[1], i, st[1]));
      });
    });
  });
}

void cpu_fill(const Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), "fill", [&]<typename T>() {
    const T v = static_cast<T>(value);
    for_each_strided<1>(dst.sizes(), {&dst}, [v](char** p, const std::int64_t* st, std::int64_t n) {
      if (st[0] == sizeof(T)) {
        T* o = reinterpret_cast<T*>(p[0]);
        for (std::int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (std::int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * st[0]) = v;
      }
    });
  });
}

// The per-run loops below are "flattened": everything they call (the op's lambda and the vec_math functions in it) is
// inlined into them, so the contiguous loop is one vectorised body. Without it GCC may keep a large op lambda (log,
// softplus) as a call per element, which also stops vectorisation.
#define TRIDENT_FLATTEN __attribute__((flatten))

// Run f over out[i] = f(in[i]) with a contiguous fast path.
template <typename T, typename F>
void unary_loop(const Tensor& in, const Tensor& out, F f) {
  for_each_strided<2>(out.sizes(), {&out, &in}, [f](char** p, const std::int64_t* st, std::int64_t n) TRIDENT_FLATTEN {
    if (st[0] == sizeof(T) && st[1] == sizeof(T)) {
      T* o = reinterpret_cast<T*>(p[0]);
      const T* x = reinterpret_cast<const T*>(p[1]);
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * st[0]) = f(at_bytes<T>(p[1], i, st[1]));
    }
  });
}

// Integer power by repeated squaring (wrapping on overflow, like PyTorch's integer pow). Negative exponents give
// 1 / x^-e truncated toward zero: 1 for x = 1, +-1 for x = -1, and 0 otherwise (including x = 0, like div by 0).
inline std::int64_t int_pow(std::int64_t x, std::int64_t e) {
  if (e < 0) return x == 1 ? 1 : (x == -1 ? ((e & 1) ? -1 : 1) : 0);
  std::uint64_t base = static_cast<std::uint64_t>(x), result = 1;  // unsigned: overflow wraps, no UB
  for (std::uint64_t k = static_cast<std::uint64_t>(e); k != 0; k >>= 1) {
    if (k & 1) result *= base;
    base *= base;
  }
  return static_cast<std::int64_t>(result);
}

// float32 exp/log/sigmoid/tanh/softplus use the vectorisable versions of vec_math.h; float64 the library functions.
template <typename T>
TRIDENT_VEC_INLINE T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_f32(x);
  } else {
    return std::exp(x);
  }
}

template <typename T>
TRIDENT_VEC_INLINE T log_of(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return log_f32(x);
  } else {
    return std::log(x);
  }
}

template <typename T>
TRIDENT_VEC_INLINE T softplus_of(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return softplus_f32(x);
  } else {
    // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): no overflow for large x; NaN stays NaN.
    return (x > T(0) ? x : T(0)) + std::log1p(std::exp(-std::abs(x)));
  }
}

template <typename T>
TRIDENT_VEC_INLINE T sigmoid_of(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return sigmoid_f32(x);
  } else {
    // Stable in both tails: exp sees only -|x|; see sigmoid_f32.
    const T e = std::exp(-std::abs(x));
    const T s = T(1) / (T(1) + e);
    return x >= T(0) ? s : e * s;
  }
}

template <typename T>
TRIDENT_VEC_INLINE T tanh_of(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return tanh_f32(x);
  } else {
    return std::tanh(x);
  }
}

void cpu_unary(kernels::UnaryOp op, const Tensor& in, const Tensor& out, double arg0, double arg1) {
  using kernels::UnaryOp;
  dispatch_numeric(in.dtype(), "unary", [&]<typename T>() {
    if constexpr (std::is_same_v<T, std::int64_t>) {
      switch (op) {
        case UnaryOp::Neg:
          return unary_loop<T>(in, out, [](T x) { return -x; });
        case UnaryOp::Abs:
          return unary_loop<T>(in, out, [](T x) { return x < 0 ? -x : x; });
        case UnaryOp::Relu:
          return unary_loop<T>(in, out, [](T x) { return x > 0 ? x : T(0); });
        case UnaryOp::Sign:
          return unary_loop<T>(in, out, [](T x) { return T((x > 0) - (x < 0)); });
        case UnaryOp::PowScalar: {
          const T e = static_cast<T>(arg0);  // ops pass integral exponents for int64 tensors
          return unary_loop<T>(in, out, [e](T x) { return int_pow(x, e); });
        }
        case UnaryOp::Clamp: {
          const double lo = arg0, hi = arg1;
          return unary_loop<T>(in, out, [lo, hi](T x) {
            double v = static_cast<double>(x);
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            return static_cast<T>(v);
          });
        }
        default:
          TRIDENT_CHECK(false, "unary: operation {} is not defined for int64 tensors", static_cast<int>(op));
      }
    } else {
      switch (op) {
        case UnaryOp::Neg:
          return unary_loop<T>(in, out, [](T x) { return -x; });
        case UnaryOp::Exp:
          return unary_loop<T>(in, out, [](T x) { return exp_of(x); });
        case UnaryOp::Log:
          return unary_loop<T>(in, out, [](T x) { return log_of(x); });
        case UnaryOp::Sqrt:
          return unary_loop<T>(in, out, [](T x) { return std::sqrt(x); });
        case UnaryOp::Abs:
          return unary_loop<T>(in, out, [](T x) { return std::abs(x); });
        // relu keeps NaN (x > 0 is false for NaN, so test the other way round), as PyTorch does.
        case UnaryOp::Relu:
          return unary_loop<T>(in, out, [](T x) { return x <= T(0) ? T(0) : x; });
        case UnaryOp::Sigmoid:
          return unary_loop<T>(in, out, [](T x) { return sigmoid_of(x); });
        case UnaryOp::Tanh:
          return unary_loop<T>(in, out, [](T x) { return tanh_of(x); });
        case UnaryOp::Softplus:
          return unary_loop<T>(in, out, [](T x) { return softplus_of(x); });
        // sign(NaN) = NaN (PyTorch's convention) rather than 0.
        case UnaryOp::Sign:
          return unary_loop<T>(in, out, [](T x) { return x == x ? T((x > T(0)) - (x < T(0))) : x; });
        case UnaryOp::PowScalar: {
          const T e = static_cast<T>(arg0);
          if (arg0 == 2.0) return unary_loop<T>(in, out, [](T x) { return x * x; });
          if (arg0 == 1.0) return unary_loop<T>(in, out, [](T x) { return x; });
          if (arg0 == 0.5) return unary_loop<T>(in, out, [](T x) { return std::sqrt(x); });
          if (arg0 == -1.0) return unary_loop<T>(in, out, [](T x) { return T(1) / x; });
          return unary_loop<T>(in, out, [e](T x) { return std::pow(x, e); });
        }
        case UnaryOp::Clamp: {
          const T lo = static_cast<T>(arg0), hi = static_cast<T>(arg1);
          // min(max(x, lo), hi), as PyTorch (so lo > hi gives hi everywhere); NaN stays NaN (comparisons are false).
          return unary_loop<T>(in, out, [lo, hi](T x) {
            const T v = x < lo ? lo : x;
            return v > hi ? hi : v;
          });
        }
      }
    }
  });
}

template <typename T, typename R, typename F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  for_each_strided<3>(
      out.sizes(), {&out, &a, &b}, [f](char** p, const std::int64_t* st, std::int64_t n) TRIDENT_FLATTEN {
        R* o = reinterpret_cast<R*>(p[0]);
        const T* x = reinterpret_cast<const T*>(p[1]);
        const T* y = reinterpret_cast<const T*>(p[2]);
        if (st[0] == sizeof(R) && st[1] == sizeof(T) && st[2] == sizeof(T)) {
#pragma omp simd
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        } else if (st[0] == sizeof(R) && st[1] == sizeof(T) && st[2] == 0) {  // tensor op scalar
          const T s = *y;
#pragma omp simd
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], s);
        } else if (st[0] == sizeof(R) && st[1] == 0 && st[2] == sizeof(T)) {  // scalar op tensor
          const T s = *x;
#pragma omp simd
          for (std::int64_t i = 0; i < n; ++i) o[i] = f(s, y[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i)
            *reinterpret_cast<R*>(p[0] + i * st[0]) = f(at_bytes<T>(p[1], i, st[1]), at_bytes<T>(p[2], i, st[2]));
        }
      });
}

void cpu_binary(kernels::BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using kernels::BinaryOp;
  dispatch_dtype(a.dtype(), "binary", [&]<typename T>() {
    switch (op) {
      case BinaryOp::Eq:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x == y; });
      case BinaryOp::Ne:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x != y; });
      case BinaryOp::Lt:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x < y; });
      case BinaryOp::Le:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x <= y; });
      case BinaryOp::Gt:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x > y; });
      case BinaryOp::Ge:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x >= y; });
      // Logical ops read any dtype as "nonzero is true" (ops only pass bool tensors).
      case BinaryOp::LogicalAnd:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return (x != T(0)) & (y != T(0)); });
      case BinaryOp::LogicalOr:
        return binary_loop<T, bool>(a, b, out, [](T x, T y) { return (x != T(0)) | (y != T(0)); });
      default:
        break;
    }
    if constexpr (std::is_same_v<T, bool>) {
      TRIDENT_CHECK(false, "binary: arithmetic is not defined for bool tensors");
    } else {
      switch (op) {
        case BinaryOp::Add:
          return binary_loop<T, T>(a, b, out, [](T x, T y) { return x + y; });
        case BinaryOp::Sub:
          return binary_loop<T, T>(a, b, out, [](T x, T y) { return x - y; });
        case BinaryOp::Mul:
          return binary_loop<T, T>(a, b, out, [](T x, T y) { return x * y; });
        case BinaryOp::Div:
          if constexpr (std::is_integral_v<T>) {
            // Integer division truncating toward zero; division by zero gives 0 rather than a crash.
            return binary_loop<T, T>(a, b, out, [](T x, T y) { return y == 0 ? T(0) : T(x / y); });
          } else {
            return binary_loop<T, T>(a, b, out, [](T x, T y) { return x / y; });
          }
        case BinaryOp::Pow:
          if constexpr (std::is_integral_v<T>) {
            return binary_loop<T, T>(a, b, out, [](T x, T y) { return int_pow(x, y); });
          } else {
            return binary_loop<T, T>(a, b, out, [](T x, T y) { return std::pow(x, y); });
          }
        // maximum/minimum propagate NaN, like PyTorch.
        case BinaryOp::Maximum:
          return binary_loop<T, T>(a, b, out, [](T x, T y) { return (x != x || x > y) ? x : y; });
        case BinaryOp::Minimum:
          return binary_loop<T, T>(a, b, out, [](T x, T y) { return (x != x || x < y) ? x : y; });
        default:
          break;
      }
    }
  });
}

void cpu_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_dtype(out.dtype(), "where", [&]<typename T>() {
    for_each_strided<4>(out.sizes(), {&out, &cond, &a, &b}, [](char** p, const std::int64_t* st, std::int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      const bool* c = reinterpret_cast<const bool*>(p[1]);
      const T* x = reinterpret_cast<const T*>(p[2]);
      const T* y = reinterpret_cast<const T*>(p[3]);
      constexpr std::int64_t s = sizeof(T);
      if (st[0] == s && st[1] == 1 && st[2] == s && st[3] == s) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
      } else if (st[0] == s && st[1] == 1 && st[2] == s && st[3] == 0) {  // where(mask, t, scalar): masked gradients
        const T v = *y;
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : v;
      } else if (st[0] == s && st[1] == 1 && st[2] == 0 && st[3] == s) {
        const T v = *x;
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) o[i] = c[i] ? v : y[i];
      } else {
        for (std::int64_t i = 0; i < n; ++i)
          *reinterpret_cast<T*>(p[0] + i * st[0]) =
              at_bytes<bool>(p[1], i, st[1]) ? at_bytes<T>(p[2], i, st[2]) : at_bytes<T>(p[3], i, st[3]);
      }
    });
  });
}

TRIDENT_REGISTER_KERNEL(kernels::copy, DeviceType::CPU, &cpu_copy);
TRIDENT_REGISTER_KERNEL(kernels::fill, DeviceType::CPU, &cpu_fill);
TRIDENT_REGISTER_KERNEL(kernels::unary, DeviceType::CPU, &cpu_unary);
TRIDENT_REGISTER_KERNEL(kernels::binary, DeviceType::CPU, &cpu_binary);
TRIDENT_REGISTER_KERNEL(kernels::where, DeviceType::CPU, &cpu_where);

}  // namespace
}  // namespace trident::cpu
