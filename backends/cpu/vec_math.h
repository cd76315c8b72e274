// Vectorisable float32 exp, expm1, sigmoid and tanh for the CPU elementwise kernels.
//
// std::exp and friends are opaque library calls, so a loop over them runs one element at a time (glibc's vector
// variants are only declared under -ffast-math). These inline versions use nothing but arithmetic, comparisons,
// selects and float<->int bit casts, which GCC and Clang turn into AVX2/AVX-512 code inside `#pragma omp simd`
// loops: about 10x faster than the scalar calls. float64 keeps the exact library functions (float64 is the dtype of
// gradchecks, where accuracy matters more than speed).
//
// Accuracy: exp_f32 is within 1 ulp of the correctly rounded result over their whole range (including
// the subnormal range and the overflow to +inf); tanh_f32 and sigmoid_f32 within 3 ulp. NaN in gives NaN out.
// tests/test_elementwise.cpp checks them against float64 std:: functions (backends/reference/elementwise.h).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

// Forced inlining: a call per element would keep the loops that use these functions scalar.
#define TRIDENT_VEC_INLINE inline __attribute__((always_inline))

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
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;      // 355/512: 9 significant bits
inline constexpr float kLn2Lo = -2.12194440e-4f;   // ln 2 - kLn2Hi
inline constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
inline constexpr std::int32_t kRoundMagicBits = 0x4B400000;

// exp(r) - 1 for |r| <= 0.35 (degree-8 Taylor polynomial, Horner form).
TRIDENT_VEC_INLINE float expm1_reduced(float r) {
  float p = 1.0f / 40320.0f;
  p = std::fma(p, r, 1.0f / 5040.0f);
  p = std::fma(p, r, 1.0f / 720.0f);
  p = std::fma(p, r, 1.0f / 120.0f);
  p = std::fma(p, r, 1.0f / 24.0f);
  p = std::fma(p, r, 1.0f / 6.0f);
  p = std::fma(p, r, 0.5f);
  return std::fma(p * r, r, r);  // r + r^2 * p
}

// 2^k for k in [-126, 127]
TRIDENT_VEC_INLINE float pow2_int(std::int32_t k) { return std::bit_cast<float>((k + 127) << 23); }

// x = k ln 2 + r (see the Note); x must be finite and |x| < 2^21.
struct ReducedArgument {
  float r;
  std::int32_t k;
};
TRIDENT_VEC_INLINE ReducedArgument reduce_ln2(float x) {
  const float t = std::fma(x, kLog2e, kRoundMagic);
  const float n = t - kRoundMagic;
  const float r = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
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
  return std::fma(s, expm1_reduced(r), s - 1.0f);
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

}  // namespace trident::cpu
