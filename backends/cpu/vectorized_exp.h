// exp written so that a loop calling it vectorises (no calls, no branches, no tables): for softmax and friends.
//
// Note [Vectorised exp]
// exp(x) = 2^n * exp(r) with n = round(x / ln 2) and r = x - n ln 2, |r| <= ln(2)/2 ~ 0.347.
//   - n is rounded with the "magic number" trick: adding 1.5 * 2^23 (2^52 for double) pushes the fraction bits out
//     of the mantissa, so the float's low mantissa bits then hold n as an integer.
//   - r is computed in two steps (Cody-Waite): ln 2 = hi + lo, where hi has few significant bits so n * hi is exact.
//   - exp(r) is its Taylor polynomial, evaluated by Horner's rule with fused multiply-adds: degree 7 for float
//   (truncation error
//     r^8 / 8! < 6e-9, a tenth of a float ulp), degree 13 for double (< 5e-18).
//   - 2^n is built from its exponent bits. n can reach the largest exponent + 1 just below the overflow threshold,
//     so a factor 2 is split off there; below the underflow threshold the result is 0 (results that would be
//     subnormal are flushed), above the overflow threshold +inf, and NaN stays NaN.
// Accuracy: within ~2 ulp of the correctly rounded result for float, ~4 ulp for double.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace trident::cpu {

inline float vectorized_exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;       // 355 / 512: exact in 9 bits
  constexpr float kLn2Lo = -2.12194440e-4f;    // ln 2 - kLn2Hi
  constexpr float kMagic = 12582912.0f;        // 1.5 * 2^23
  constexpr float kUnderflow = -87.33654475f;  // ln(FLT_MIN): below, the result would be subnormal
  constexpr float kOverflow = 88.72283905f;    // ln(FLT_MAX)
  const float xc = x < kUnderflow ? kUnderflow : (x > kOverflow ? kOverflow : x);  // NaN passes through
  const float shifted = std::fma(xc, kLog2e, kMagic);
  const float n = shifted - kMagic;
  const std::int32_t ni = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(shifted) - 0x4B400000u);
  float r = std::fma(n, -kLn2Hi, xc);
  r = std::fma(n, -kLn2Lo, r);
  float p = 1.0f / 5040.0f;
  p = std::fma(p, r, 1.0f / 720.0f);
  p = std::fma(p, r, 1.0f / 120.0f);
  p = std::fma(p, r, 1.0f / 24.0f);
  p = std::fma(p, r, 1.0f / 6.0f);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const std::int32_t n1 = ni > 127 ? 127 : ni;  // 2^128 is not a float: split off a factor 2
  const float scale = std::bit_cast<float>(static_cast<std::uint32_t>(n1 + 127) << 23);
  float result = p * scale * (ni > 127 ? 2.0f : 1.0f);
  result = x < kUnderflow ? 0.0f : result;
  result = x > kOverflow ? std::numeric_limits<float>::infinity() : result;
  return result;
}

inline double vectorized_exp(double x) {
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

}  // namespace trident::cpu
