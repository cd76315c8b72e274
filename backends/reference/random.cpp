// Reference random samples, one element at a time. See backends/reference/random.h.
#include "trident/backends/reference/random.h"

#include <cmath>

#include "trident/core/random.h"

namespace trident::reference {

std::vector<double> random_samples(kernels::RandomKind kind, DType dtype, std::int64_t n, std::uint64_t seed,
                                   std::uint64_t offset, double a, double b) {
  using kernels::RandomKind;
  const std::int64_t per_block = kernels::random_elements_per_block(kind, dtype);
  const double two_pi = 2.0 * std::acos(-1.0);
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::array<std::uint32_t, 4> w = philox4x32(seed, offset + static_cast<std::uint64_t>(i / per_block));
    const auto k = static_cast<std::size_t>(i % per_block);
    auto word64 = [&](std::size_t j) { return (static_cast<std::uint64_t>(w[2 * j + 1]) << 32) | w[2 * j]; };
    double v = 0;
    switch (kind) {
      case RandomKind::Uniform: {
        const double u = dtype == kFloat64 ? std::ldexp(static_cast<double>(word64(k) >> 11), -53)
                                           : std::ldexp(static_cast<double>(w[k] >> 8), -24);
        v = a + (b - a) * u;
        break;
      }
      case RandomKind::Normal: {
        double u1, u2;
        if (dtype == kFloat64) {
          u1 = std::ldexp(static_cast<double>((word64(0) >> 11) + 1), -53);
          u2 = std::ldexp(static_cast<double>(word64(1) >> 11), -53);
        } else {
          const std::size_t pair = k / 2;
          u1 = std::ldexp(static_cast<double>((w[2 * pair] >> 8) + 1), -24);
          u2 = std::ldexp(static_cast<double>(w[2 * pair + 1] >> 8), -24);
        }
        const double r = std::sqrt(-2.0 * std::log(u1));
        v = a + b * (k % 2 == 0 ? r * std::cos(two_pi * u2) : r * std::sin(two_pi * u2));
        break;
      }
      case RandomKind::Randint: {
        const auto span = static_cast<unsigned __int128>(static_cast<std::int64_t>(b) - static_cast<std::int64_t>(a));
        v = a + static_cast<double>(static_cast<std::uint64_t>((word64(k) * span) >> 64));
        break;
      }
      case RandomKind::Bernoulli:
        v = std::ldexp(static_cast<double>(w[k]), -32) < a ? 1.0 : 0.0;
        break;
    }
    out[static_cast<std::size_t>(i)] = v;
  }
  return out;
}

}  // namespace trident::reference
