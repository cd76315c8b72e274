// Constant factories and tensors from C++ data; ranges (arange, linspace, eye); random tensors.
#include "trident/ops/factory.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "trident/backends/kernels.h"
#include "trident/core/philox.h"
#include "trident/ops/checks.h"

namespace trident {

Tensor full(const Shape& shape, double value, TensorOptions options) {
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  kernels::fill(t.device(), t, value);
  if (wants_grad) t.set_requires_grad(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double v) { return full(t.sizes(), v, {.dtype = t.dtype(), .device = t.device()}); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  Shape s = shape;
  if (s == Shape{-1}) s = {static_cast<std::int64_t>(values.size())};
  TRIDENT_CHECK(shape_numel(s) == static_cast<std::int64_t>(values.size()),
                "tensor: {} values do not fill shape {} ({} elements)", values.size(), shape_str(s), shape_numel(s));
  const bool wants_grad = options.requires_grad;
  Tensor host = empty(s, {.dtype = dtype_of<T>()});
  T* p = host.data_ptr<T>();
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  Tensor out = host.to(options.dtype).to(options.device).detach();
  if (wants_grad) out.set_requires_grad(true);
  return out;
}
template Tensor tensor<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor tensor<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, TensorOptions);
template Tensor tensor<bool>(const std::vector<bool>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<float> v, const Shape& s) { return tensor(std::vector<float>(v), s); }
Tensor tensor(std::initializer_list<double> v, const Shape& s) { return tensor(std::vector<double>(v), s); }
Tensor tensor(std::initializer_list<std::int64_t> v, const Shape& s) { return tensor(std::vector<std::int64_t>(v), s); }
Tensor tensor(std::initializer_list<bool> v, const Shape& s) { return tensor(std::vector<bool>(v), s); }

// ---- ranges ---------------------------------------------------------------------------------------------------------
// Ranges are computed on the host in double and converted once, then moved to the requested device.

namespace {

// Move a host-built factory result to options.device and make it a leaf that requires grad when asked.
Tensor finish_factory(Tensor host, const TensorOptions& options) {
  Tensor t = host.to(options.device);
  if (options.requires_grad) t.set_requires_grad(true);
  return t;
}

// out[i] = value(i) converted to options.dtype, for i in [0, n).
template <typename ValueAt>
Tensor host_sequence(const char* op, std::int64_t n, const TensorOptions& options, ValueAt value) {
  TRIDENT_CHECK(options.dtype != kBool, "{}: dtype bool is not supported (use float32, float64 or int64)", op);
  Tensor host = empty({n}, {.dtype = options.dtype});
  dispatch_numeric(options.dtype, op, [&]<typename T>() {
    T* p = host.data_ptr<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(value(i));
  });
  return finish_factory(host, options);
}

}  // namespace

Tensor arange(double end, TensorOptions options) { return arange(0.0, end, 1.0, options); }

// [] -> [ceil((end - start) / step)]: start, start + step, ... up to but excluding end.
Tensor arange(double start, double end, double step, TensorOptions options) {
  TRIDENT_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
                "arange: start, end and step must be finite, got start={} end={} step={}", start, end, step);
  TRIDENT_CHECK(step != 0.0, "arange: step must be nonzero");
  TRIDENT_CHECK(step > 0 ? end >= start : end <= start,
                "arange: a step of {} never reaches end={} from start={} (the step's sign is wrong)", step, end, start);
  const double count = std::ceil((end - start) / step);
  TRIDENT_CHECK(count < 0x1p62, "arange: {} elements are too many", count);
  return host_sequence("arange", static_cast<std::int64_t>(count), options,
                       [=](std::int64_t i) { return start + static_cast<double>(i) * step; });
}

// [] -> [steps]: start, ..., end, evenly spaced (end included when steps > 1).
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  TRIDENT_CHECK(steps >= 0, "linspace: steps must be non-negative, got {}", steps);
  TRIDENT_CHECK(std::isfinite(start) && std::isfinite(end), "linspace: start and end must be finite, got {} and {}",
                start, end);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // The first half counts up from start and the second half down from end, so both ends are exact (as PyTorch).
  const std::int64_t half = steps / 2;
  return host_sequence("linspace", steps, options, [=](std::int64_t i) {
    if (steps == 1) return start;
    return i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
  });
}

// [] -> [n, m]: ones on the main diagonal, zeros elsewhere.
Tensor eye(std::int64_t n, std::int64_t m, TensorOptions options) {
  if (m < 0) m = n;
  TRIDENT_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  Tensor host = zeros({n, m}, {.dtype = options.dtype});
  dispatch_dtype(options.dtype, "eye", [&]<typename T>() {
    T* p = host.data_ptr<T>();
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return finish_factory(host, options);
}

// ---- random ---------------------------------------------------------------------------------------------------------
// Every random factory reserves its blocks of the Philox stream from the generator (under the generator's lock) and
// fills its output with kernels::random_fill; see Note [Random streams] in backends/kernels.h.

namespace {

Generator& generator_or_default(Generator* gen) { return gen != nullptr ? *gen : default_generator(); }

Tensor random_tensor(const Shape& shape, TensorOptions options, Generator* gen, kernels::RandomKind kind, double a,
                     double b) {
  const bool wants_grad = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  const auto [seed, start] = generator_or_default(gen).reserve(kernels::random_blocks(kind, t.dtype(), t.numel()));
  kernels::random_fill(t.device(), t, kind, seed, start, a, b);
  if (wants_grad) t.set_requires_grad(true);
  return t;
}

void check_floating_options(const char* op, const TensorOptions& options) {
  TRIDENT_CHECK(is_floating(options.dtype), "{}: expected a floating dtype (float32 or float64), got {}", op,
                options.dtype);
}

}  // namespace

// shape -> shape, U[0, 1)
Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  check_floating_options("rand", options);
  return random_tensor(shape, options, gen, kernels::RandomKind::Uniform, 0.0, 1.0);
}

// shape -> shape, N(0, 1)
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  check_floating_options("randn", options);
  return random_tensor(shape, options, gen, kernels::RandomKind::Normal, 0.0, 1.0);
}

// shape -> shape, U[low, high)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator* gen) {
  check_floating_options("uniform", options);
  TRIDENT_CHECK(std::isfinite(low) && std::isfinite(high) && std::isfinite(high - low),
                "uniform: low and high must be finite, got low={} high={}", low, high);
  TRIDENT_CHECK(low < high, "uniform: expected low < high, got low={} high={}", low, high);
  return random_tensor(shape, options, gen, kernels::RandomKind::Uniform, low, high);
}

// shape -> shape, N(mean, std^2)
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen) {
  check_floating_options("normal", options);
  TRIDENT_CHECK(std::isfinite(mean) && std::isfinite(std), "normal: mean and std must be finite, got mean={} std={}",
                mean, std);
  TRIDENT_CHECK(std >= 0.0, "normal: std must be non-negative, got {}", std);
  return random_tensor(shape, options, gen, kernels::RandomKind::Normal, mean, std);
}

// shape -> shape, integers uniform in [low, high)
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  TRIDENT_CHECK(options.dtype != kBool, "randint: dtype bool is not supported (use int64, float32 or float64)");
  TRIDENT_CHECK(low < high, "randint: expected low < high, got low={} high={}", low, high);
  constexpr std::int64_t kExactLimit = std::int64_t{1} << 53;  // the kernel carries the bounds as doubles
  TRIDENT_CHECK(low >= -kExactLimit && high <= kExactLimit,
                "randint: low and high must lie within +-2^53, got low={} high={}", low, high);
  return random_tensor(shape, options, gen, kernels::RandomKind::Randint, static_cast<double>(low),
                       static_cast<double>(high));
}

// [] -> [n] int64: a uniformly random permutation of 0..n-1.
// Fisher-Yates on the host: step t (t = 0..n-2) swaps position i = n-1-t with a uniform j in [0, i], drawing j from
// the 64-bit value t of the reserved Philox blocks (two per block), so the permutation depends only on (seed, offset).
Tensor randperm(std::int64_t n, Generator* gen) {
  TRIDENT_CHECK(n >= 0, "randperm: n must be non-negative, got {}", n);
  Tensor out = empty({n}, {.dtype = kInt64});
  std::int64_t* p = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = i;
  if (n < 2) return out;
  const std::uint64_t draws = static_cast<std::uint64_t>(n - 1);
  const auto [seed, start] = generator_or_default(gen).reserve((draws + 1) / 2);
  philox::Block block{};
  for (std::uint64_t t = 0; t < draws; ++t) {
    if (t % 2 == 0) block = philox::block(seed, start + t / 2);
    const std::uint32_t* w = block.w + 2 * (t % 2);
    const auto i = static_cast<std::int64_t>(draws - t);
    const auto j = static_cast<std::int64_t>(philox::below(w[0], w[1], static_cast<std::uint64_t>(i) + 1));
    std::swap(p[i], p[j]);
  }
  return out;
}

// p: [*] (floating, values in [0, 1]) -> [*] of p's dtype: 1 where u < p for a fresh u ~ U[0, 1), else 0.
// Not differentiable: the result carries no gradient even when p requires one.
Tensor bernoulli(const Tensor& p, Generator* gen) {
  check_defined("bernoulli", p, "p");
  check_floating("bernoulli", p);
  if (p.numel() > 0) {
    const Shape all_ones(static_cast<std::size_t>(p.dim()), 1);
    Tensor lo = empty(all_ones, {.dtype = kFloat64, .device = p.device()});
    Tensor hi = empty(all_ones, {.dtype = kFloat64, .device = p.device()});
    const Tensor p64 = p.detach().to(kFloat64);
    kernels::reduce(p.device(), kernels::ReduceOp::Min, p64, lo);
    kernels::reduce(p.device(), kernels::ReduceOp::Max, p64, hi);
    const double pmin = lo.item<double>(), pmax = hi.item<double>();
    TRIDENT_CHECK(pmin >= 0.0 && pmax <= 1.0, "bernoulli: probabilities must lie in [0, 1], got values in [{}, {}]",
                  pmin, pmax);
  }
  const Tensor u =
      random_tensor(p.sizes(), {.dtype = p.dtype(), .device = p.device()}, gen, kernels::RandomKind::Uniform, 0.0, 1.0);
  Tensor hit = empty(p.sizes(), {.dtype = kBool, .device = p.device()});
  kernels::binary(p.device(), kernels::BinaryOp::Lt, u, p.detach(), hit);
  return hit.to(p.dtype());
}

// shape -> shape of options.dtype: 1 with probability p, else 0.
Tensor bernoulli(const Shape& shape, double p, TensorOptions options, Generator* gen) {
  TRIDENT_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: p must lie in [0, 1], got {}", p);
  return random_tensor(shape, options, gen, kernels::RandomKind::Bernoulli, p, 0.0);
}

}  // namespace trident
