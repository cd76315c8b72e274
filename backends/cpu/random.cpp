// CPU random fill. Contract: backends/kernels.h, Note [Random streams].
//
// The loop runs over Philox blocks; each block writes its E elements. Threads split the blocks statically, and since
// element i depends only on (seed, offset + i / E), the result does not depend on the number of threads.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/kernels.h"
#include "trident/core/philox.h"

namespace trident::cpu {
namespace {

using kernels::RandomKind;

// Computes the E samples of one block (as double) into out[0..E).
struct Sampler {
  RandomKind kind;
  bool is_double;  // float64 streams use two words per uniform
  double a, b;
  std::uint64_t span;  // Randint: b - a

  void operator()(const philox::Block& blk, double* out) const {
    const std::uint32_t* w = blk.w;
    switch (kind) {
      case RandomKind::Uniform:
        if (is_double) {
          out[0] = a + (b - a) * philox::uniform_double(w[0], w[1]);
          out[1] = a + (b - a) * philox::uniform_double(w[2], w[3]);
        } else {
          for (int k = 0; k < 4; ++k) out[k] = a + (b - a) * static_cast<double>(philox::uniform_float(w[k]));
        }
        return;
      case RandomKind::Normal:
        if (is_double) {
          const auto z =
              philox::box_muller(philox::uniform_open0_double_grid(w[0], w[1]), philox::uniform_double(w[2], w[3]));
          out[0] = a + b * z.z0;
          out[1] = a + b * z.z1;
        } else {
          for (int k = 0; k < 4; k += 2) {
            const auto z = philox::box_muller(philox::uniform_open0_float_grid(w[k]),
                                              static_cast<double>(philox::uniform_float(w[k + 1])));
            out[k] = a + b * z.z0;
            out[k + 1] = a + b * z.z1;
          }
        }
        return;
      case RandomKind::Randint:
        out[0] = a + static_cast<double>(philox::below(w[0], w[1], span));
        out[1] = a + static_cast<double>(philox::below(w[2], w[3], span));
        return;
      case RandomKind::Bernoulli:
        for (int k = 0; k < 4; ++k) out[k] = philox::uniform_word(w[k]) < a ? 1.0 : 0.0;
        return;
    }
  }
};

template <typename T>
T convert_sample(double v, RandomKind kind, double high) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else {
    T x = static_cast<T>(v);
    if constexpr (std::is_floating_point_v<T>) {
      // U[a, b) must stay below b after rounding to T (a + (b - a) * u < b holds in the reals, not always in T).
      if (kind == RandomKind::Uniform && x >= static_cast<T>(high))
        x = std::nextafter(static_cast<T>(high), -std::numeric_limits<T>::infinity());
    }
    return x;
  }
}

void cpu_random_fill(const Tensor& dst, RandomKind kind, std::uint64_t seed, std::uint64_t offset, double a, double b) {
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  const std::int64_t per_block = kernels::random_elements_per_block(kind, dst.dtype());
  const std::int64_t nblocks = (n + per_block - 1) / per_block;
  const Sampler sampler{kind, dst.dtype() == kFloat64, a, b,
                        kind == RandomKind::Randint
                            ? static_cast<std::uint64_t>(static_cast<std::int64_t>(b) - static_cast<std::int64_t>(a))
                            : 0};
  dispatch_dtype(dst.dtype(), "random_fill", [&]<typename T>() {
    T* out = dst.data_ptr<T>();
    auto run = [&](std::int64_t blk_begin, std::int64_t blk_end) {
      double samples[4];
      for (std::int64_t blk = blk_begin; blk < blk_end; ++blk) {
        sampler(philox::block(seed, offset + static_cast<std::uint64_t>(blk)), samples);
        const std::int64_t first = blk * per_block, count = std::min(per_block, n - first);
        for (std::int64_t k = 0; k < count; ++k) out[first + k] = convert_sample<T>(samples[k], kind, b);
      }
    };
    if (n < kParallelGrain / 4 || omp_get_max_threads() == 1) {
      run(0, nblocks);
      return;
    }
#pragma omp parallel
    {
      const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const std::int64_t chunk = (nblocks + nt - 1) / nt;
      const std::int64_t lo = std::min(nblocks, t * chunk), hi = std::min(nblocks, lo + chunk);
      run(lo, hi);
    }
  });
}

TRIDENT_REGISTER_KERNEL(kernels::random_fill, DeviceType::CPU, &cpu_random_fill);

}  // namespace
}  // namespace trident::cpu
