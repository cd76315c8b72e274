// Vectorisable float32 exp, log, sigmoid, tanh and softplus for the CPU elementwise kernels.
//
// std::exp and friends are opaque library calls, so a loop over them runs one element at a time (glibc's vector
// variants are only declared under -ffast-math). These inline versions use nothing but arithmetic, comparisons,
// selects and float<->int bit casts, which GCC and Clang turn into AVX2/AVX-512 code inside `#pragma omp simd`
// loops: several times faster than the scalar calls (1M floats, one thread: log 4.7x, softplus 29x). float64 keeps the
// exact library functions (float64 is the dtype of gradchecks, where accuracy matters more than speed).
//
// Accuracy, measured over all 2^32 float32 inputs against float64 <cmath> (with FMA; every 11th input without):
// exp_f32 and log_f32 are within 1 ulp of the exact result over their whole range (including subnormal inputs and
// results and the overflow to +inf), softplus_f32 within 2.1 ulp, sigmoid_f32 and tanh_f32 within 3 ulp. NaN in gives
// NaN out.
// tests/test_elementwise.cpp checks them against float64 std:: functions (backends/reference/elementwise.h).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

// Forced inlining: a call per element would keep the loops that use these functions scalar.
#define TRIDENT_VEC_INLINE inline __attribute__((always_inline))
// Writing style that keeps loops vectorisable: no branches, only selects (c ? a : b) between values that are computed
// unconditionally. A select around arithmetic (c ? x * y : x) is a conditional operation that could raise a
// floating-point exception, which GCC (-ftrapping-math, the default) will not speculate, so the loop stays scalar.

namespace trident::cpu {

// Note [Vectorised exp]
// exp(x) = 2^k * exp(r) with k = round(x / ln 2) and r = x - k ln 2, so |r| <= ln(2)/2 ~ 0.347.
//   - round() is the 1.5 * 2^23 trick: t = x * log2(e) + 1.5 * 2^23 has no fraction bits left, so it is rounded to an
//     integer, t - 1.5 * 2^23 is k as a float, and the low mantissa bits of t are k as an integer (bits(t) -
//     bits(1.5 * 2^23) = k for |k| < 2^22). Two additions and an integer subtraction; no float->int conversion.
//   - k ln 2 is subtracted in two steps (Cody-Waite): kLn2Hi has 9 significant bits, so k * kLn2Hi and x - k * kLn2Hi
//     are exact for the k that occur; kLn2Lo carries the rest of ln 2.
//   - exp(r) - 1 is its Taylor polynomial of degree 8: the first omitted term r^9/9! < 2.4e-10 is far below half an
//     ulp of float32. (A minimax polynomial would save one term; Taylor coefficients are easy to check.)
//   - 2^k is built from exponent bits. To reach the subnormal range (k down to -150) and 2^128 without leaving the
//     range of normal float exponents, it is applied as two factors 2^(k >> 1) * 2^(k - (k >> 1)); the last
//     multiplication rounds once, so subnormal results are correctly (gradually) rounded too.
//   - x is clamped to [-104, 89] first: exp(-104) underflows to 0 and exp(89) overflows to +inf through the scaling
//     itself, so no special cases are needed beyond NaN, which the clamp maps to a finite value and a final select
//     restores.
namespace vec_math_detail {
// a * b + c, fused where the target has FMA (-march=native on any recent x86 or ARM). Without it, std::fma would be a
// library call per element (slow, and it stops vectorisation); the unfused form costs at most an ulp here.
TRIDENT_VEC_INLINE float fmadd(float a, float b, float c) {
#if defined(__FMA__) || defined(__aarch64__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;      // 355/512: 9 significant bits
inline constexpr float kLn2Lo = -2.12194440e-4f;   // ln 2 - kLn2Hi
inline constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
inline constexpr std::int32_t kRoundMagicBits = 0x4B400000;

// exp(r) - 1 for |r| <= 0.35 (degree-8 Taylor polynomial, Horner form).
TRIDENT_VEC_INLINE float expm1_reduced(float r) {
  float p = 1.0f / 40320.0f;
  p = fmadd(p, r, 1.0f / 5040.0f);
  p = fmadd(p, r, 1.0f / 720.0f);
  p = fmadd(p, r, 1.0f / 120.0f);
  p = fmadd(p, r, 1.0f / 24.0f);
  p = fmadd(p, r, 1.0f / 6.0f);
  p = fmadd(p, r, 0.5f);
  return fmadd(p * r, r, r);  // r + r^2 * p
}

// 2^k for k in [-126, 127]
TRIDENT_VEC_INLINE float pow2_int(std::int32_t k) { return std::bit_cast<float>((k + 127) << 23); }

// x = k ln 2 + r (see the Note); x must be finite and |x| < 2^21.
struct ReducedArgument {
  float r;
  std::int32_t k;
};
TRIDENT_VEC_INLINE ReducedArgument reduce_ln2(float x) {
  const float t = fmadd(x, kLog2e, kRoundMagic);
  const float n = t - kRoundMagic;
  const float r = fmadd(-n, kLn2Lo, fmadd(-n, kLn2Hi, x));
  return {r, std::bit_cast<std::int32_t>(t) - kRoundMagicBits};
}
}  // namespace vec_math_detail

// e^x for float32 (see Note [Vectorised exp]).
TRIDENT_VEC_INLINE float exp_f32(float x) {
  using namespace vec_math_detail;
  float xc = x >= -104.0f ? x : -104.0f;  // NaN -> -104 (restored below)
  xc = xc <= 89.0f ? xc : 89.0f;
  const auto [r, k] = reduce_ln2(xc);
  const std::int32_t k1 = k >> 1, k2 = k - k1;
  const float y = (expm1_reduced(r) + 1.0f) * pow2_int(k1) * pow2_int(k2);
  return x == x ? y : x;
}

// e^x - 1 for float32 and x in [0, 20] (the range tanh_f32 needs; no clamping, no NaN handling), accurate in relative
// terms near 0: expm1(x) = 2^k (expm1(r) + 1) - 1 = 2^k expm1(r) + (2^k - 1), which for k = 0 is the polynomial
// itself. 2^k - 1 is exact for these k.
TRIDENT_VEC_INLINE float expm1_f32_small_range(float x) {
  using namespace vec_math_detail;
  const auto [r, k] = reduce_ln2(x);
  const float s = pow2_int(k);
  return fmadd(s, expm1_reduced(r), s - 1.0f);
}

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: exp only ever sees -|x| <= 0, so it cannot
// overflow, and the negative tail keeps full relative precision down to the subnormal range. Both branches are
// computed and one is selected, so the loop stays vectorised.
TRIDENT_VEC_INLINE float sigmoid_f32(float x) {
  const float e = exp_f32(-std::fabs(x));
  const float s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;
}

// tanh(x) = sign(x) * expm1(2|x|) / (expm1(2|x|) + 2). Using expm1 keeps full relative precision for small |x|
// (1 - 2/(e^2x + 1) would cancel). For |x| >= 9.1 tanh rounds to +-1 in float32, so |x| is clamped there, which also
// keeps expm1 far from overflow.
TRIDENT_VEC_INLINE float tanh_f32(float x) {
  float a = std::fabs(x);
  a = a <= 9.1f ? a : 9.1f;  // NaN -> 9.1 (restored below)
  const float e = expm1_f32_small_range(2.0f * a);
  const float t = std::copysign(e / (e + 2.0f), x);
  return x == x ? t : x;
}

// Note [Vectorised log]
// x = 2^k * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)), read from the exponent and mantissa bits (subnormal x are first
// scaled by 2^23); f is exact. With s = f / (2 + f), |s| <= 0.1716, z = s^2:
//   log(1 + f) = log((1 + s) / (1 - s)) = 2 atanh(s) = 2s + s R(z),   R(z) = 2z/3 + 2z^2/5 + ... + 2z^6/13
// (the next term is < 1e-12 relative, far below half an ulp). Since 2s = f - s f, this is log(1 + f) = f - s (f - R):
// f is exact and the rounding of the division only touches the small correction s (f - R), which keeps the result
// within an ulp (fdlibm's log is built the same way). Then log(x) = k ln 2 + log(1 + f), with k * kLn2Hi exact
// (Cody-Waite again). 0 -> -inf, negative -> NaN, +inf -> +inf.
namespace vec_math_detail {
// log(1 + f) for f in [-0.2929, 1] (so s = f / (2 + f) is within [-0.1716, 1/3]); the series is long enough for
// |s| <= 1/3 (next term < 2e-9 relative there, < 1e-12 for |s| <= 0.1716).
TRIDENT_VEC_INLINE float log1p_reduced(float f) {
  const float s = f / (2.0f + f);
  const float z = s * s;
  float r = 2.0f / 17.0f;
  r = fmadd(r, z, 2.0f / 15.0f);
  r = fmadd(r, z, 2.0f / 13.0f);
  r = fmadd(r, z, 2.0f / 11.0f);
  r = fmadd(r, z, 2.0f / 9.0f);
  r = fmadd(r, z, 2.0f / 7.0f);
  r = fmadd(r, z, 2.0f / 5.0f);
  r = fmadd(r, z, 2.0f / 3.0f);
  r *= z;
  return fmadd(-s, f - r, f);
}
}  // namespace vec_math_detail

TRIDENT_VEC_INLINE float log_f32(float x) {
  using namespace vec_math_detail;
  const bool subnormal = x < 1.17549435e-38f;  // also 0 and negatives, which are replaced below
  const float scaled = x * 8388608.0f;         // 2^23; computed unconditionally (see below)
  const float xs = subnormal ? scaled : x;
  const std::int32_t bits = std::bit_cast<std::int32_t>(xs);
  const float m1 = std::bit_cast<float>((bits & 0x007FFFFF) | 0x3F800000);  // mantissa in [1, 2)
  const bool halve = m1 > 1.41421356f;
  const float half_m1 = 0.5f * m1;
  const float m = halve ? half_m1 : m1;
  // k, adjusted for the halving and the 2^23 scaling (float selects: GCC 12 does not if-convert this as int selects)
  const float kf = static_cast<float>(((bits >> 23) & 0xFF) - 127) + (halve ? 1.0f : 0.0f) - (subnormal ? 23.0f : 0.0f);
  const float y = fmadd(kf, kLn2Hi, fmadd(kf, kLn2Lo, log1p_reduced(m - 1.0f)));
  const float inf = std::bit_cast<float>(0x7F800000);
  const float special = x == 0.0f ? -inf : std::bit_cast<float>(0x7FC00000);  // log(0) = -inf; log(x < 0 or NaN) = NaN
  return x > 0.0f ? (x < inf ? y : x) : special;  // selects, not branches: the loop must stay vectorised
}

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): e^-|x| is in (0, 1], so nothing overflows, and log1p of it is the series
// of Note [Vectorised log] directly (no cancellation for tiny arguments: log1p(u) ~ u).
TRIDENT_VEC_INLINE float softplus_f32(float x) {
  const float log1p_u = vec_math_detail::log1p_reduced(exp_f32(-std::fabs(x)));
  return (x > 0.0f ? x : 0.0f) + log1p_u;  // NaN: -|x| is NaN, so log1p_u is NaN
}

// e^x for float64, by the method of Note [Vectorised exp] with a degree-13 Taylor polynomial (truncation error below
// 5e-18) and the clamps at ln(DBL_MIN) / ln(DBL_MAX): results that would be subnormal flush to 0. Within 4 double ulps
// (tests/test_softmax.cpp). For the float64 softmax; float64 elementwise exp keeps std::exp.
TRIDENT_VEC_INLINE double exp_f64(double x) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 0.693147180369123816490;  // ln 2 with the low 32 bits of the mantissa cleared
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kMagic = 6755399441055744.0;       // 1.5 * 2^52
  constexpr double kUnderflow = -708.39641853226408;  // ln(DBL_MIN)
  constexpr double kOverflow = 709.78271289338397;    // ln(DBL_MAX)
  const double xc = x < kUnderflow ? kUnderflow : (x > kOverflow ? kOverflow : x);
  const double shifted = std::fma(xc, kLog2e, kMagic);
  const double n = shifted - kMagic;
  const std::int64_t ni = static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(shifted) - 0x4338000000000000ull);
  double r = std::fma(n, -kLn2Hi, xc);
  r = std::fma(n, -kLn2Lo, r);
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = std::fma(p, r, 1.0 / 479001600.0);
  p = std::fma(p, r, 1.0 / 39916800.0);
  p = std::fma(p, r, 1.0 / 3628800.0);
  p = std::fma(p, r, 1.0 / 362880.0);
  p = std::fma(p, r, 1.0 / 40320.0);
  p = std::fma(p, r, 1.0 / 5040.0);
  p = std::fma(p, r, 1.0 / 720.0);
  p = std::fma(p, r, 1.0 / 120.0);
  p = std::fma(p, r, 1.0 / 24.0);
  p = std::fma(p, r, 1.0 / 6.0);
  p = std::fma(p, r, 0.5);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  const std::int64_t n1 = ni > 1023 ? 1023 : ni;
  const double scale = std::bit_cast<double>(static_cast<std::uint64_t>(n1 + 1023) << 52);
  double result = p * scale * (ni > 1023 ? 2.0 : 1.0);
  result = x < kUnderflow ? 0.0 : result;
  result = x > kOverflow ? std::numeric_limits<double>::infinity() : result;
  return result;
}


// exp for either floating type, for kernels templated on it (softmax).
TRIDENT_VEC_INLINE float vec_exp(float x) { return exp_f32(x); }
TRIDENT_VEC_INLINE double vec_exp(double x) { return exp_f64(x); }

}  // namespace trident::cpu
