// The CUDA backend against the CPU backend: every CUDA kernel (copy, fill, unary, binary, where, reduce) runs on the
// same inputs as its CPU twin and must agree -- exactly where the arithmetic is exact (copies, conversions,
// comparisons, max/min/argmax, integer ops), to a few float ulps elsewhere (transcendental functions differ between
// CUDA's math library and glibc by an ulp or two). Also: the caching allocator, autograd on CUDA tensors, errors.
//
// Compiled in every build. Without a usable GPU (TRIDENT_CUDA=OFF, or no device) the CUDA tests skip and only the
// availability checks run. Ops not yet written on this branch (exp, maximum, where, max, argmax, ...) are reached
// through their kernels (backends/kernels.h), called on the CPU and on the GPU with the same tensors.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "gradcheck.h"
#include "trident/backends/kernels.h"

using namespace trident;
using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

const Device kCuda = Device::cuda(0);
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string skip_message() {
  return std::string("no CUDA device (built with TRIDENT_CUDA=") + (cuda_is_built() ? "ON" : "OFF") + ")";
}

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_is_available()) GTEST_SKIP() << skip_message();
  }
};

// Values from N(0, 1) in `dtype` (int64: rounded 4x, so small integers with many ties; bool: x > 0). With `ties`,
// floating values are rounded to halves so that comparisons and max/min meet equal values.
Tensor random_values(const Shape& shape, DType dtype, std::uint32_t seed, bool ties = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) {
    x = normal(rng);
    if (dtype == kInt64) x = std::round(4 * x);
    if (dtype == kBool) x = x > 0 ? 1 : 0;
    if (ties) x = std::round(2 * x) / 2;
  }
  return tensor(v, shape).to(dtype);
}

// Values from U[lo, hi) in `dtype` (int64: rounded down).
Tensor uniform_values(const Shape& shape, DType dtype, std::uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = dtype == kInt64 ? std::floor(uniform(rng)) : uniform(rng);
  return tensor(v, shape).to(dtype);
}

// A view of a tensor, applied alike to the CPU tensor and to its copy on the GPU.
using View = std::function<Tensor(const Tensor&)>;
const View kSame = [](const Tensor& t) { return t; };

// Puts `value` at flat positions of a contiguous CPU tensor.
void set_values(const Tensor& t, const std::vector<std::int64_t>& positions, double value) {
  const Tensor flat = t.view({-1});
  for (auto p : positions) flat.slice(0, p, p + 1).fill_(value);
}

// got (any device) equals want (CPU): same shape and dtype, NaN where want is NaN, equal infinities, and otherwise
// |got - want| <= atol + rtol * |want|.
void expect_close(const Tensor& got, const Tensor& want, double rtol = 0.0, double atol = 0.0,
                  const std::string& what = "") {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  if (want.dtype() == kInt64 || want.dtype() == kBool) {
    EXPECT_EQ(got.to_vector<std::int64_t>(), want.to_vector<std::int64_t>()) << what;
    return;
  }
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  int failures = 0;
  for (std::size_t i = 0; i < w.size() && failures < 5; ++i) {
    bool ok;
    if (std::isnan(w[i])) {
      ok = std::isnan(g[i]);
    } else if (std::isinf(w[i])) {
      ok = g[i] == w[i];
    } else {
      ok = std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]);
    }
    if (!ok) {
      ++failures;
      ADD_FAILURE() << what << ": element " << i << ": got " << g[i] << ", want " << w[i];
    }
  }
}

void expect_exact(const Tensor& got, const Tensor& want, const std::string& what = "") {
  expect_close(got, want, 0.0, 0.0, what);
}

// Tolerances for results of floating math that may differ by a few ulps between CUDA and the CPU.
double rtol_for(DType t) { return t == kFloat32 ? 1e-5 : 1e-12; }
double atol_for(DType t) { return t == kFloat32 ? 1e-6 : 1e-14; }

const char* op_name(UnaryOp op) {
  static const char* names[] = {"neg",     "exp",  "log",      "sqrt", "abs",        "relu",
                                "sigmoid", "tanh", "softplus", "sign", "pow_scalar", "clamp"};
  return names[static_cast<int>(op)];
}

const char* op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  return names[static_cast<int>(op)];
}

const char* op_name(ReduceOp op) {
  static const char* names[] = {"sum", "max", "min", "argmax", "argmin"};
  return names[static_cast<int>(op)];
}

}  // namespace

// ---- availability (runs in every build) --------------------------------------------------------------------------

TEST(CudaRuntime, AvailabilityIsConsistent) {
  const int n = cuda_device_count();
  EXPECT_GE(n, 0);
  EXPECT_EQ(cuda_is_available(), n > 0);
  if (!cuda_is_built()) {
    EXPECT_EQ(n, 0);
    EXPECT_THROW_MSG(empty({2}, {.device = kCuda}),
                     "cuda:0: no allocator for this device (built with TRIDENT_CUDA=OFF?)");
  } else if (n == 0) {
    EXPECT_THROW_MSG(empty({2}, {.device = kCuda}), "cuda:0: no CUDA device is available");
  }
  // Callable in every build (no-ops without CUDA).
  cuda::empty_cache();
  cuda::synchronize();
  const cuda::MemoryStats s = cuda::memory_stats();
  EXPECT_LE(s.allocated_bytes, s.reserved_bytes);
}

TEST_F(Cuda, DeviceIndexOutOfRange) {
  const int n = cuda_device_count();
  EXPECT_THROW_MSG(
      empty({2}, {.device = Device::cuda(n)}),
      "cuda:" + std::to_string(n) + ": device index out of range (" + std::to_string(n) + " CUDA device(s))");
}

// ---- the caching allocator --------------------------------------------------------------------------------------

TEST_F(Cuda, AllocatorReusesFreedBlocks) {
  cuda::empty_cache();
  const cuda::MemoryStats before = cuda::memory_stats();
  void* first = nullptr;
  {
    Tensor t = empty({1 << 20}, {.device = kCuda});  // 4 MiB
    first = t.raw_data();
    EXPECT_GE(cuda::memory_stats().allocated_bytes, before.allocated_bytes + (4u << 20));
  }
  const cuda::MemoryStats freed = cuda::memory_stats();
  EXPECT_EQ(freed.allocated_bytes, before.allocated_bytes);  // back in the cache, still reserved
  EXPECT_GE(freed.reserved_bytes, freed.allocated_bytes + (4u << 20));
  {
    Tensor again = empty({1 << 20}, {.device = kCuda});  // same size class: the cached block, no cudaMalloc
    EXPECT_EQ(again.raw_data(), first);
    const cuda::MemoryStats s = cuda::memory_stats();
    EXPECT_EQ(s.num_device_mallocs, freed.num_device_mallocs);
    EXPECT_EQ(s.num_cache_hits, freed.num_cache_hits + 1);
    Tensor slightly_smaller = empty({(1 << 20) - 1000}, {.device = kCuda});  // same class, but that block is taken
    EXPECT_NE(slightly_smaller.raw_data(), first);
  }
  cuda::empty_cache();
  const cuda::MemoryStats emptied = cuda::memory_stats();
  EXPECT_EQ(emptied.reserved_bytes, emptied.allocated_bytes);  // nothing cached any more
  EXPECT_GE(emptied.peak_allocated_bytes, before.allocated_bytes + (8u << 20) - 4000);
}

TEST_F(Cuda, AllocatorOutOfMemoryIsAnError) {
  // 4 TiB: more than any GPU has; cudaMalloc fails, the cache is released, the retry fails, and the error says so.
  EXPECT_THROW_MSG(empty({std::int64_t{1} << 40}, {.device = kCuda}), "cuda allocator: out of memory allocating");
  Tensor fine = ones({16}, {.device = kCuda});  // the device still works afterwards
  EXPECT_EQ(fine.sum().item<float>(), 16.f);
}

// ---- copies -----------------------------------------------------------------------------------------------------

TEST_F(Cuda, RoundTripContiguousEveryDtype) {
  const std::vector<Shape> shapes = {{}, {1}, {7}, {1023}, {4097}, {3, 5, 7}, {0}, {2, 0, 3}};
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    for (const Shape& s : shapes) {
      const Tensor x = random_values(s, t, 11);
      const Tensor g = x.to(kCuda);
      EXPECT_EQ(g.device(), kCuda);
      EXPECT_EQ(g.sizes(), s);
      EXPECT_EQ(g.dtype(), t);
      expect_exact(g.cpu(), x, fmt::format("{} {}", t, shape_str(s)));
      expect_exact(g.clone().cpu(), x, fmt::format("clone {} {}", t, shape_str(s)));
    }
  }
}

TEST_F(Cuda, RoundTripStrided) {
  const Tensor x = random_values({6, 8}, kFloat32, 3);
  const Tensor xc = x.to(kCuda);
  // Host views to the device.
  expect_exact(x.t().to(kCuda).cpu(), x.t().contiguous(), "host transpose");
  expect_exact(x.slice(1, 1, 7, 2).to(kCuda).cpu(), x.slice(1, 1, 7, 2).contiguous(), "host slice");
  expect_exact(tensor({1.f, 2.f, 3.f}, {3, 1}).expand({3, 4}).to(kCuda).cpu(),
               tensor({1.f, 2.f, 3.f}, {3, 1}).expand({3, 4}).contiguous(), "host expand");
  // Device views to the host, and device-to-device copies of views.
  expect_exact(xc.t().cpu(), x.t().contiguous(), "device transpose");
  expect_exact(xc.slice(0, 1, 5, 3).t().clone().cpu(), x.slice(0, 1, 5, 3).t().contiguous(), "device clone");
  const Tensor y = random_values({2, 3, 4, 5}, kFloat64, 4);
  expect_exact(y.to(kCuda).permute({3, 1, 0, 2}).contiguous().cpu(), y.permute({3, 1, 0, 2}).contiguous(), "permute");
  // Writes into strided device views (copy_, with broadcasting), and into host views from the device.
  Tensor dst = zeros({6, 8}, {.device = kCuda});
  dst.slice(1, 0, 8, 2).copy_(xc.slice(1, 0, 4));
  dst.slice(1, 1, 8, 2).copy_(tensor({9.f, 8.f, 7.f, 6.f}, {4}).to(kCuda));
  Tensor want = zeros({6, 8});
  want.slice(1, 0, 8, 2).copy_(x.slice(1, 0, 4));
  want.slice(1, 1, 8, 2).copy_(tensor({9.f, 8.f, 7.f, 6.f}, {4}));
  expect_exact(dst.cpu(), want, "copy_ into views");
  Tensor host_dst = zeros({8, 6});
  kernels::copy(kCuda, xc, host_dst.t());  // device -> strided host view
  expect_exact(host_dst, x.t().contiguous(), "into a host view");
  Tensor dev_dst = zeros({8, 6}, {.device = kCuda});
  kernels::copy(kCuda, x, dev_dst.t());  // host -> strided device view
  expect_exact(dev_dst.cpu(), x.t().contiguous(), "into a device view");
}

TEST_F(Cuda, DtypeConversions) {
  const std::vector<DType> types = {kFloat32, kFloat64, kInt64, kBool};
  for (DType from : types) {
    const Tensor x = random_values({5, 7}, from, 5);
    for (DType to : types) {
      const std::string what = fmt::format("{} -> {}", from, to);
      expect_exact(x.to(kCuda).to(to).cpu(), x.to(to), what + " on the device");
      expect_exact(x.to(kCuda).t().to(to).cpu(), x.t().to(to), what + " strided");
      // Converting while crossing devices, in both directions, into strided destinations.
      Tensor d = zeros({7, 5}, {.dtype = to, .device = kCuda});
      kernels::copy(kCuda, x, d.t());
      expect_exact(d.cpu().t(), x.to(to), what + " host -> device");
      Tensor h = zeros({7, 5}, {.dtype = to});
      kernels::copy(kCuda, x.to(kCuda), h.t());
      expect_exact(h.t(), x.to(to), what + " device -> host");
    }
  }
}

TEST_F(Cuda, Fill) {
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    expect_exact(full({3, 1000}, 2.5, {.dtype = t, .device = kCuda}).cpu(), full({3, 1000}, 2.5, {.dtype = t}),
                 fmt::format("full {}", t));
    Tensor g = zeros({4, 6}, {.dtype = t, .device = kCuda});
    Tensor c = zeros({4, 6}, {.dtype = t});
    g.slice(1, 1, 6, 2).fill_(-3.0);
    c.slice(1, 1, 6, 2).fill_(-3.0);
    expect_exact(g.cpu(), c, fmt::format("strided fill {}", t));
  }
}

// ---- elementwise ------------------------------------------------------------------------------------------------

namespace {

struct UnaryCase {
  UnaryOp op;
  double arg0 = 0, arg1 = 0;
};

std::vector<UnaryCase> unary_cases() {
  return {{UnaryOp::Neg},
          {UnaryOp::Exp},
          {UnaryOp::Log},
          {UnaryOp::Sqrt},
          {UnaryOp::Abs},
          {UnaryOp::Relu},
          {UnaryOp::Sigmoid},
          {UnaryOp::Tanh},
          {UnaryOp::Softplus},
          {UnaryOp::Sign},
          {UnaryOp::PowScalar, 2},
          {UnaryOp::PowScalar, 1},
          {UnaryOp::PowScalar, 0.5},
          {UnaryOp::PowScalar, 3},
          {UnaryOp::PowScalar, -1.5},
          {UnaryOp::PowScalar, -1},
          {UnaryOp::Clamp, 0.5, -0.5},  // min > max: max everywhere, as PyTorch
          {UnaryOp::Clamp, -0.5, 0.7},
          {UnaryOp::Clamp, -kInf, 0.3},
          {UnaryOp::Clamp, 0.1, kInf}};
}

bool defined_for_int64(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu || op == UnaryOp::Sign ||
         op == UnaryOp::Clamp || op == UnaryOp::PowScalar;
}

// Runs the unary kernel on the CPU over view(x) and on the GPU over the same view of x's copy there, and compares.
void check_unary(const UnaryCase& c, const Tensor& base, const View& view, const std::string& layout) {
  const Tensor x = view(base), xc = view(base.to(kCuda));
  Tensor want = empty(x.sizes(), {.dtype = x.dtype()});
  kernels::unary(kCPU, c.op, x, want, c.arg0, c.arg1);
  Tensor got = empty(x.sizes(), {.dtype = x.dtype(), .device = kCuda});
  kernels::unary(kCuda, c.op, xc, got, c.arg0, c.arg1);
  expect_close(got.cpu(), want, rtol_for(x.dtype()), atol_for(x.dtype()),
               fmt::format("{}({}, {}) {} {}", op_name(c.op), c.arg0, c.arg1, x.dtype(), layout));
}

}  // namespace

TEST_F(Cuda, EveryUnaryOpMatchesCpu) {
  for (DType t : {kFloat32, kFloat64, kInt64}) {
    // 4103 elements: the vectorised path and a tail; specials at the front for floating types.
    Tensor x = random_values({4103}, t, 7) * (t == kInt64 ? 1.0 : 3.0);
    if (t != kInt64) {
      const std::vector<double> specials = {0.0, -0.0, kInf, -kInf, kNaN, 1e-30, -1e-30, 80.0, -80.0, 700.0, -700.0};
      for (std::size_t i = 0; i < specials.size(); ++i) set_values(x, {static_cast<std::int64_t>(i)}, specials[i]);
    }
    const Tensor xc = x.to(kCuda);
    for (const UnaryCase& c : unary_cases()) {
      if (t == kInt64 && !defined_for_int64(c.op)) {
        Tensor out = empty(x.sizes(), {.dtype = t, .device = kCuda});
        EXPECT_THROW_MSG(kernels::unary(kCuda, c.op, xc, out, c.arg0, c.arg1),
                         fmt::format("unary: operation {} is not defined for int64 tensors", static_cast<int>(c.op)));
        continue;
      }
      check_unary(c, x, kSame, "contiguous");
      check_unary(
          c, x,
          [](const Tensor& t) {
            return t.view({11, 373}).t();
          },
          "transposed");
      // Contiguous but not 16-byte aligned: the one-element-per-thread path.
      check_unary(
          c, x, [](const Tensor& t) { return t.slice(0, 1, 4103); }, "misaligned");
    }
  }
  // In place (out is in), as clamp_ and the optimizers use it.
  Tensor x = random_values({1000}, kFloat32, 8);
  Tensor xc = x.to(kCuda);
  kernels::unary(kCuda, UnaryOp::Relu, xc, xc, 0, 0);
  kernels::unary(kCPU, UnaryOp::Relu, x, x, 0, 0);
  expect_exact(xc.cpu(), x, "in-place relu");
  expect_exact(xc.clamp_(-0.2, 0.2).cpu(), x.clamp_(-0.2, 0.2), "clamp_");
  EXPECT_THROW_MSG(kernels::unary(kCuda, UnaryOp::Neg, ones({2}, {.dtype = kBool, .device = kCuda}),
                                  ones({2}, {.dtype = kBool, .device = kCuda}), 0, 0),
                   "unary: expected a numeric dtype (float32, float64 or int64), got bool");
}

namespace {

bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

// Runs the binary kernel on both devices over views of a and b, broadcast to their common shape.
void check_binary(BinaryOp op, const Tensor& a_base, const Tensor& b_base, const View& view_a, const View& view_b,
                  const std::string& layout) {
  const Tensor a = view_a(a_base), b = view_b(b_base);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), "test");
  const DType out_dtype = is_comparison(op) ? kBool : a.dtype();
  Tensor want = empty(shape, {.dtype = out_dtype});
  kernels::binary(kCPU, op, a.expand(shape), b.expand(shape), want);
  const Tensor ac = view_a(a_base.to(kCuda)), bc = view_b(b_base.to(kCuda));
  Tensor got = empty(shape, {.dtype = out_dtype, .device = kCuda});
  kernels::binary(kCuda, op, ac.expand(shape), bc.expand(shape), got);
  // Floating pow computes in float64 with each device's pow; the rest is exact.
  const bool exact = op != BinaryOp::Pow || a.dtype() == kInt64;
  expect_close(got.cpu(), want, exact ? 0.0 : rtol_for(a.dtype()), exact ? 0.0 : atol_for(a.dtype()),
               fmt::format("{} {} {}", op_name(op), a.dtype(), layout));
}

}  // namespace

TEST_F(Cuda, EveryBinaryOpMatchesCpu) {
  const std::vector<BinaryOp> ops = {BinaryOp::Add,     BinaryOp::Sub,     BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow,
                                     BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Eq,  BinaryOp::Ne,  BinaryOp::Lt,
                                     BinaryOp::Le,      BinaryOp::Gt,      BinaryOp::Ge};
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    for (BinaryOp op : ops) {
      if (t == kBool && !is_comparison(op)) {
        Tensor a = ones({3}, {.dtype = kBool, .device = kCuda});
        EXPECT_THROW_MSG(kernels::binary(kCuda, op, a, a, empty({3}, {.dtype = kBool, .device = kCuda})),
                         "binary: arithmetic is not defined for bool tensors");
        continue;
      }
      Tensor a = random_values({4, 3, 5}, t, 21, /*ties=*/true);
      Tensor b = random_values({4, 3, 5}, t, 22, /*ties=*/true);
      if (op == BinaryOp::Pow) {
        if (t == kInt64) {
          a = uniform_values({4, 3, 5}, t, 23, -9, 10);
          b = uniform_values({4, 3, 5}, t, 24, 0, 12);  // up to 9^11 (< 2^53: exact in float64 on the CPU)
        } else {
          a = uniform_values({4, 3, 5}, t, 23, 0.1, 3);
          b = uniform_values({4, 3, 5}, t, 24, -3, 3);
        }
      }
      if (t != kInt64 && t != kBool && op != BinaryOp::Pow) {
        set_values(a, {0, 7}, kNaN);
        set_values(b, {7, 9}, kNaN);
        set_values(a, {11}, kInf);
        set_values(b, {12}, -kInf);
      }
      const View permuted = [](const Tensor& t) { return t.permute({2, 0, 1}); };
      const View element = [](const Tensor& t) { return t.slice(0, 1, 2).slice(1, 1, 2).slice(2, 1, 2).view({}); };
      check_binary(op, a, b, kSame, kSame, "contiguous");
      check_binary(op, a, b, permuted, permuted, "permuted");
      check_binary(
          op, a, b, [](const Tensor& t) { return t.slice(2, 0, 1); }, [](const Tensor& t) { return t.slice(1, 0, 1); },
          "broadcast [4,3,1] op [4,1,5]");
      check_binary(op, a, b, element, kSame, "scalar op tensor");
      check_binary(op, a, b, kSame, element, "tensor op scalar");
      check_binary(
          op, a, b, [](const Tensor& t) { return t.view({-1}).slice(0, 1, 60); },
          [](const Tensor& t) { return t.view({-1}).slice(0, 0, 59); }, "misaligned");
    }
  }
  // Integer division by zero gives 0 on both devices.
  check_binary(BinaryOp::Div, tensor(std::vector<std::int64_t>{7, -7, 0}), tensor(std::vector<std::int64_t>{0, 2, 0}),
               kSame, kSame, "int64 / 0");
}

TEST_F(Cuda, ArithmeticOpsBroadcastAndInPlace) {
  const Tensor a = random_values({4, 1, 5}, kFloat32, 31);
  const Tensor b = random_values({3, 1}, kFloat32, 32);
  const Tensor ac = a.to(kCuda), bc = b.to(kCuda);
  expect_exact((ac + bc).cpu(), a + b, "add");
  expect_exact((ac - bc).cpu(), a - b, "sub");
  expect_exact((ac * bc).cpu(), a * b, "mul");
  expect_exact((ac / bc).cpu(), a / b, "div");
  expect_exact((2.0 - ac * 3.0).cpu(), 2.0 - a * 3.0, "scalars");
  expect_exact((-ac).cpu(), -a, "neg");
  Tensor x = random_values({4, 3, 5}, kFloat64, 33);
  Tensor xc = x.to(kCuda);
  xc.add_(bc.to(kFloat64), 0.5).mul_(2.0).div_(xc * xc + 1.0).add_(-1.0);
  x.add_(b.to(kFloat64), 0.5).mul_(2.0).div_(x * x + 1.0).add_(-1.0);
  expect_exact(xc.cpu(), x, "in-place chain");
}

TEST_F(Cuda, WhereMatchesCpu) {
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    const Tensor cond = random_values({4, 1, 5}, kBool, 41);
    const Tensor a = random_values({3, 1}, t, 42);
    const Tensor b = random_values({}, t, 43);
    const Shape shape = {4, 3, 5};
    Tensor want = empty(shape, {.dtype = t});
    kernels::where(kCPU, cond.expand(shape), a.expand(shape), b.expand(shape), want);
    Tensor got = empty(shape, {.dtype = t, .device = kCuda});
    kernels::where(kCuda, cond.to(kCuda).expand(shape), a.to(kCuda).expand(shape), b.to(kCuda).expand(shape), got);
    expect_exact(got.cpu(), want, fmt::format("where {}", t));
    // All contiguous (the vectorised path).
    const Tensor c2 = random_values({1000}, kBool, 44), a2 = random_values({1000}, t, 45),
                 b2 = random_values({1000}, t, 46);
    Tensor want2 = empty({1000}, {.dtype = t});
    kernels::where(kCPU, c2, a2, b2, want2);
    Tensor got2 = empty({1000}, {.dtype = t, .device = kCuda});
    kernels::where(kCuda, c2.to(kCuda), a2.to(kCuda), b2.to(kCuda), got2);
    expect_exact(got2.cpu(), want2, fmt::format("where contiguous {}", t));
  }
}

// ---- reductions -------------------------------------------------------------------------------------------------

namespace {

// Runs the reduce kernel over the dims in `dims` (the keepdim form) on the CPU over view(base) and on the GPU over
// the same view of base's copy there, and compares.
void check_reduce(ReduceOp op, const Tensor& base, const Dims& dims, const std::string& layout,
                  const View& view = kSame) {
  const Tensor x = view(base), xc = view(base.to(kCuda));
  Shape out_shape = x.sizes();
  for (auto d : dims) out_shape[static_cast<std::size_t>(d)] = 1;
  const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  const DType out_dtype = arg || x.dtype() == kBool ? kInt64 : x.dtype();
  Tensor want = empty(out_shape, {.dtype = out_dtype});
  kernels::reduce(kCPU, op, x, want);
  Tensor got = empty(out_shape, {.dtype = out_dtype, .device = kCuda});
  kernels::reduce(kCuda, op, xc, got);
  const bool exact = op != ReduceOp::Sum || x.dtype() == kInt64 || x.dtype() == kBool;
  // Sum: float64 sums differ only by the summation order. float32: the CUDA kernel widens every element to float64,
  // the CPU's contiguous path adds blocks of 64 in float32 first (Note [float sums in float64] in
  // backends/cpu/reduce.cpp), whose error is at most ~3 * 2^-24 * sum|x|: the tolerance is that bound (with margin)
  // scaled by the largest sum of magnitudes among the outputs.
  double atol = 1e-12;
  if (!exact && x.dtype() == kFloat32) {
    Tensor magnitudes = empty(out_shape, {.dtype = out_dtype});
    kernels::reduce(kCPU, ReduceOp::Sum, x.abs(), magnitudes);
    atol = 4e-7 * std::max(1.0, magnitudes.max().item<double>());
  }
  expect_close(
      got.cpu(), want, exact ? 0.0 : atol, exact ? 0.0 : 1e-12,
      fmt::format("{} over {} of {} {} {}", op_name(op), shape_str(dims), x.dtype(), shape_str(x.sizes()), layout));
}

}  // namespace

TEST_F(Cuda, EveryReductionOverSeveralDimSets) {
  const std::vector<Dims> dim_sets = {{}, {0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}};
  for (DType t : {kFloat32, kFloat64, kInt64}) {
    Tensor x = random_values({5, 6, 7}, t, 51, /*ties=*/true);
    if (t != kInt64) set_values(x, {17, 100}, kNaN);  // NaN must reach the max/min of the outputs that contain it
    const Tensor clean = random_values({5, 6, 7}, t, 52, /*ties=*/true);
    // Non-contiguous inputs: a permuted view (the reduced dims are no longer innermost) and a stepped slice.
    const View permuted = [](const Tensor& t) { return t.permute({2, 0, 1}); };
    const View stepped = [](const Tensor& t) { return t.slice(1, 0, 6, 2); };
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min}) {
      const Tensor& in = op == ReduceOp::Sum ? clean : x;
      for (const Dims& dims : dim_sets) {
        if (dims.empty()) continue;  // the op layer turns "no dims" into all dims
        check_reduce(op, in, dims, "contiguous");
        check_reduce(op, in, dims, "permuted", permuted);
        check_reduce(op, in, dims, "stepped", stepped);
      }
    }
    for (ReduceOp op : {ReduceOp::ArgMax, ReduceOp::ArgMin}) {
      for (std::int64_t d = 0; d < 3; ++d) {
        check_reduce(op, clean, {d}, "ties");  // rounded values: many ties, the first index must win
        check_reduce(op, x, {d}, "ties and NaN");
        check_reduce(op, x, {d}, "permuted", permuted);
      }
    }
  }
  // bool: sum counts (int64), argmax finds the first true.
  const Tensor b = random_values({5, 6, 7}, kBool, 53);
  for (const Dims& dims : dim_sets)
    if (!dims.empty()) check_reduce(ReduceOp::Sum, b, dims, "bool");
  check_reduce(ReduceOp::ArgMax, b, {1}, "bool");
}

TEST_F(Cuda, LargeReductionsUseSplitsAndStayAccurate) {
  // Few outputs and long reductions: the reduced range is split across blocks, then combined.
  const Tensor rows = random_values({3, 200000}, kFloat32, 61);
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin})
    check_reduce(op, rows, {1}, "long rows");
  const Tensor cols = random_values({200000, 3}, kFloat64, 62);
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin})
    check_reduce(op, cols, {0}, "long columns");
  const Tensor square = random_values({1000, 999}, kFloat32, 63);
  for (std::int64_t d : {0, 1}) check_reduce(ReduceOp::Sum, square, {d}, "square");
  // A full float32 sum of 4M values of one sign: a float32 accumulator would be off by ~1e-4 relative.
  const Tensor big = uniform_values({1 << 22}, kFloat32, 64, 0, 1);
  check_reduce(ReduceOp::Sum, big, {0}, "4M");
  const double exact = big.to(kFloat64).sum().item<double>();
  EXPECT_NEAR(big.to(kCuda).sum().item<float>(), exact, exact * 1e-7);
  // The maximum repeated at many indices across different splits: the first index wins.
  Tensor ties = zeros({300000, 2});
  set_values(ties, {2 * 150001, 2 * 170000, 2 * 299999, 2 * 250000 + 1, 2 * 5 + 1}, 5.0);
  check_reduce(ReduceOp::ArgMax, ties, {0}, "spread ties");
  check_reduce(ReduceOp::ArgMax, ties, {1}, "spread ties, transposed", [](const Tensor& t) { return t.t(); });
  // Contiguous rows (the vector-load path) with many ties, aligned and not (a slice shifts the rows' start), for
  // every op and dtype: the first index among ties must win whichever thread or vector lane saw it.
  for (DType t : {kFloat32, kFloat64, kInt64}) {
    const Tensor tied = random_values({7, 1001}, t, 66, /*ties=*/true);
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin}) {
      check_reduce(op, tied, {1}, "rows with ties");
      check_reduce(op, tied, {1}, "shifted rows with ties", [](const Tensor& x) { return x.slice(1, 3, 1001); });
    }
  }
  // One NaN at the very end of a long reduction.
  Tensor nan_at_end = random_values({1 << 20}, kFloat32, 65);
  set_values(nan_at_end, {(1 << 20) - 1}, kNaN);
  for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin})
    check_reduce(op, nan_at_end, {0}, "NaN at the end");
}

TEST_F(Cuda, SumAndMeanOps) {
  const Tensor x = random_values({4, 5, 6}, kFloat64, 71);
  const Tensor xc = x.to(kCuda);
  expect_close(xc.sum().cpu(), x.sum(), 1e-12, 1e-12, "sum()");
  expect_close(xc.sum({0, 2}).cpu(), x.sum({0, 2}), 1e-12, 1e-12, "sum({0, 2})");
  expect_close(xc.sum({-1}, true).cpu(), x.sum({-1}, true), 1e-12, 1e-12, "sum keepdim");
  expect_close(xc.mean({1}).cpu(), x.mean({1}), 1e-12, 1e-12, "mean");
  expect_close(xc.transpose(0, 2).sum({0}).cpu(), x.transpose(0, 2).sum({0}), 1e-12, 1e-12, "sum of a transpose");
  const Tensor flags = random_values({10, 10}, kBool, 72);
  expect_exact(flags.to(kCuda).sum({1}).cpu(), flags.sum({1}), "bool sum");
  expect_exact(zeros({0, 3}, {.device = kCuda}).sum({0}).cpu(), zeros({3}), "empty sum");
}

// ---- matmul (cuBLAS) ------------------------------------------------------------------------------------------------

namespace {

// Runs kernels::matmul on the CPU and on the GPU with the same views of a and b (3-d after the view) and compares.
// Tolerance: the standard bound for a length-K dot product in floating point, |error| <= K * eps * (|a| @ |b|),
// doubled to cover the two sides (the CPU and cuBLAS sum in different orders).
void check_matmul(const Tensor& a, const Tensor& b, const View& va, const View& vb, const std::string& what) {
  const Tensor ah = va(a), bh = vb(b);
  const Tensor ag = va(a.to(kCuda)), bg = vb(b.to(kCuda));
  const std::int64_t B = ah.size(0), M = ah.size(1), K = ah.size(2), N = bh.size(2);
  const Tensor want = empty({B, M, N}, {.dtype = a.dtype()});
  const Tensor got = empty({B, M, N}, {.dtype = a.dtype(), .device = kCuda});
  kernels::matmul(kCPU, ah, bh, want);
  kernels::matmul(kCuda, ag, bg, got);
  const Tensor bound = empty({B, M, N}, {.dtype = a.dtype()});
  kernels::matmul(kCPU, ah.abs(), bh.abs(), bound);
  const double eps = a.dtype() == kFloat32 ? 0x1p-23 : 0x1p-52;
  const auto g = got.cpu().to_vector<double>(), w = want.to_vector<double>(), e = bound.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  int failures = 0;
  for (std::size_t i = 0; i < w.size() && failures < 5; ++i) {
    if (!(std::abs(g[i] - w[i]) <= 2.0 * static_cast<double>(K) * eps * e[i])) {
      ++failures;
      ADD_FAILURE() << what << ": element " << i << ": got " << g[i] << ", want " << w[i];
    }
  }
}

}  // namespace

TEST_F(Cuda, MatmulMatchesCpu) {
  const std::int64_t B = 3, M = 33, K = 47, N = 29;
  for (DType t : {kFloat32, kFloat64}) {
    const std::string dt = t == kFloat32 ? "float32 " : "float64 ";
    // Plain contiguous operands, one matrix and a batch.
    check_matmul(random_values({1, M, K}, t, 91), random_values({1, K, N}, t, 92), kSame, kSame, dt + "2-d");
    check_matmul(random_values({B, M, K}, t, 93), random_values({B, K, N}, t, 94), kSame, kSame, dt + "batched");
    // Transposed views (column-contiguous matrices: cuBLAS op T, read in place).
    const View tr = [](const Tensor& x) { return x.transpose(1, 2); };
    const Tensor at = random_values({B, K, M}, t, 95), bt = random_values({B, N, K}, t, 96);
    check_matmul(at, bt, tr, tr, dt + "both transposed");
    check_matmul(at, random_values({B, K, N}, t, 97), tr, kSame, dt + "a transposed");
    check_matmul(random_values({B, M, K}, t, 98), bt, kSame, tr, dt + "b transposed");
    // Row-sliced (leading dimension > cols) and column-stepped (copied first) matrices.
    const View rows = [K](const Tensor& x) { return x.slice(2, 0, K); };
    const View stepped = [K](const Tensor& x) { return x.slice(2, 0, 2 * K, 2); };
    check_matmul(random_values({B, M, K + 5}, t, 99), random_values({B, K, N}, t, 100), rows, kSame, dt + "row slice");
    check_matmul(random_values({B, M, 2 * K}, t, 101), random_values({B, K, N}, t, 102), stepped, kSame,
                 dt + "stepped columns");
    // A matrix broadcast over the batch (batch stride 0), plain and transposed.
    const View bcast = [B](const Tensor& x) { return x.expand({B, -1, -1}); };
    const View bcast_tr = [B](const Tensor& x) { return x.transpose(1, 2).expand({B, -1, -1}); };
    check_matmul(random_values({B, M, K}, t, 103), random_values({1, K, N}, t, 104), kSame, bcast, dt + "b broadcast");
    check_matmul(random_values({1, K, M}, t, 105), random_values({B, K, N}, t, 106), bcast_tr, kSame,
                 dt + "a broadcast transposed");
    // Vectors: M == 1 or N == 1 or K == 1.
    check_matmul(random_values({B, 1, K}, t, 107), random_values({B, K, N}, t, 108), kSame, kSame, dt + "M = 1");
    check_matmul(random_values({B, M, K}, t, 109), random_values({B, K, 1}, t, 110), kSame, kSame, dt + "N = 1");
    check_matmul(random_values({B, M, 1}, t, 111), random_values({B, 1, N}, t, 112), kSame, kSame, dt + "K = 1");
  }
}

TEST_F(Cuda, MatmulEmptyAndOp) {
  // K == 0 writes zeros (the output starts as garbage: filled with 7 first).
  const Tensor a = zeros({2, 3, 0}, {.device = kCuda}), b = zeros({2, 0, 4}, {.device = kCuda});
  const Tensor out = full({2, 3, 4}, 7.0, {.device = kCuda});
  kernels::matmul(kCuda, a, b, out);
  expect_exact(out.cpu(), zeros({2, 3, 4}), "K = 0");
  // Through the op, with its backward (which multiplies by transposed views).
  for (DType t : {kFloat32, kFloat64}) {
    const Tensor x = random_values({5, 6}, t, 113), w = random_values({6, 3}, t, 114);
    auto leaf = [](const Tensor& v, Device d) {
      Tensor l = v.to(d).detach();
      l.set_requires_grad(true);
      return l;
    };
    const Tensor xg = leaf(x, kCuda), wg = leaf(w, kCuda), xh = leaf(x, kCPU), wh = leaf(w, kCPU);
    const Tensor yg = xg.matmul(wg), yh = xh.matmul(wh);
    EXPECT_EQ(yg.device(), kCuda);
    const double tol = t == kFloat32 ? 1e-5 : 1e-12;
    expect_close(yg.cpu(), yh, tol, tol, "matmul op");
    (yg * yg).sum().backward();
    (yh * yh).sum().backward();
    expect_close(xg.grad().cpu(), xh.grad(), tol, tol, "matmul dx");
    expect_close(wg.grad().cpu(), wh.grad(), tol, tol, "matmul dw");
  }
}

// ---- softmax --------------------------------------------------------------------------------------------------------

namespace {

double max_abs_finite(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>())
    if (std::isfinite(v)) m = std::max(m, std::abs(v));
  return m;
}

// softmax / log_softmax forward and backward on the CPU and the GPU with the same (viewed) inputs.
// Tolerances follow the error bounds of the computation: a D-term sum in floating point has relative error up to
// about D * eps, which enters every output (relatively for softmax, absolutely through log(sum) for log_softmax, and
// times sum(|g|) for the backward); exp and log differ by an ulp or two between CUDA and glibc.
void check_softmax(const Tensor& x, std::int64_t dim, bool log, const View& view, const std::string& what) {
  const Tensor xh = view(x), xg = view(x.to(kCuda));
  const double eps = x.dtype() == kFloat32 ? 0x1p-23 : 0x1p-52;
  const double D = static_cast<double>(xh.size(dim));
  const Tensor want = empty(xh.sizes(), {.dtype = x.dtype()});
  const Tensor got = empty(xh.sizes(), {.dtype = x.dtype(), .device = kCuda});
  kernels::softmax(kCPU, xh, want, dim, log);
  kernels::softmax(kCuda, xg, got, dim, log);
  const double fwd_tol = (8 + D) * eps;
  expect_close(got.cpu(), want, fwd_tol, fwd_tol * (1 + max_abs_finite(xh) + std::log(D + 1)), what + " forward");
  // Backward from the CPU forward's output and a random upstream gradient (viewed like x).
  const Tensor g = random_values(x.sizes(), x.dtype(), 120);
  const Tensor gh = view(g), gg = view(g.to(kCuda));
  const Tensor yg = want.to(kCuda);
  const Tensor gx_want = empty(xh.sizes(), {.dtype = x.dtype()});
  const Tensor gx_got = empty(xh.sizes(), {.dtype = x.dtype(), .device = kCuda});
  kernels::softmax_backward(kCPU, gh, want, gx_want, dim, log);
  kernels::softmax_backward(kCuda, gg, yg, gx_got, dim, log);
  const double bwd_tol = (8 + D) * eps;
  expect_close(gx_got.cpu(), gx_want, bwd_tol, bwd_tol * D * (1 + max_abs_finite(gh)), what + " backward");
}

}  // namespace

TEST_F(Cuda, SoftmaxMatchesCpu) {
  const std::vector<Shape> shapes = {{7}, {4, 33}, {3, 1000}, {2, 5, 7, 3}, {64, 2}, {1, 1}};
  const View transposed = [](const Tensor& t) { return t.dim() >= 2 ? t.transpose(0, t.dim() - 1) : t; };
  for (DType t : {kFloat32, kFloat64}) {
    for (const Shape& shape : shapes) {
      const Tensor x = random_values(shape, t, 121);
      for (std::int64_t dim = 0; dim < static_cast<std::int64_t>(shape.size()); ++dim) {
        for (bool log : {false, true}) {
          const std::string what = std::string(log ? "log_softmax " : "softmax ") +
                                   (t == kFloat32 ? "float32 " : "float64 ") + shape_str(shape) + " dim " +
                                   std::to_string(dim);
          check_softmax(x, dim, log, kSame, what);
          check_softmax(x, dim, log, transposed, what + " transposed");
        }
      }
    }
    // -inf entries give 0 / -inf; an all -inf slice, a NaN or a +inf gives a NaN slice -- on both devices alike.
    for (bool log : {false, true}) {
      for (std::int64_t dim : {0, 1}) {
        Tensor x = random_values({6, 40}, t, 122);
        set_values(x, {0, 5, 41, 42, 239}, -kInf);
        x.slice(0, 2, 3).fill_(-kInf);  // row 2 all -inf
        set_values(x, {130}, kNaN);     // row 3 (and column 10)
        set_values(x, {175}, kInf);     // row 4 (and column 15)
        const std::string what =
            std::string(log ? "log_softmax" : "softmax") + " special values dim " + std::to_string(dim);
        check_softmax(x, dim, log, kSame, what);
      }
    }
  }
}

TEST_F(Cuda, SoftmaxOpBackward) {
  for (DType t : {kFloat32, kFloat64}) {
    const Tensor x = random_values({4, 9, 5}, t, 123), w = random_values({4, 9, 5}, t, 124);
    for (std::int64_t dim : {1, 2}) {
      auto leaf = [](const Tensor& v, Device d) {
        Tensor l = v.to(d).detach();
        l.set_requires_grad(true);
        return l;
      };
      const Tensor xg = leaf(x, kCuda), xh = leaf(x, kCPU);
      const Tensor lg = (xg.softmax(dim) * w.to(kCuda)).sum() + (xg.log_softmax(dim) * w.to(kCuda)).sum();
      const Tensor lh = (xh.softmax(dim) * w).sum() + (xh.log_softmax(dim) * w).sum();
      lg.backward();
      lh.backward();
      const double tol = t == kFloat32 ? 1e-5 : 1e-12;
      expect_close(lg.cpu(), lh, tol, tol * 100, "loss");
      expect_close(xg.grad().cpu(), xh.grad(), tol, tol * 10, "dx");
    }
  }
}

// ---- autograd -------------------------------------------------------------------------------------------------------

TEST_F(Cuda, BackwardOnCudaEqualsCpu) {
  const Tensor x = random_tensor({4, 3}, 81), w = random_tensor({3}, 82), b = random_tensor({4, 1}, 83);
  auto graph = [](const Tensor& x, const Tensor& w, const Tensor& b) {
    const Tensor h = (x * w + b) / (x * x + 1.0) - x;
    return (h * h).mean() + (h.sum({1}) * 0.5).sum();
  };
  auto leaf = [](const Tensor& t, Device d) {
    Tensor l = t.to(d).detach();
    l.set_requires_grad(true);
    return l;
  };
  const Tensor xg = leaf(x, kCuda), wg = leaf(w, kCuda), bg = leaf(b, kCuda);
  const Tensor xh = leaf(x, kCPU), wh = leaf(w, kCPU), bh = leaf(b, kCPU);
  const Tensor lg = graph(xg, wg, bg), lh = graph(xh, wh, bh);
  EXPECT_EQ(lg.device(), kCuda);
  lg.backward();
  lh.backward();
  EXPECT_EQ(xg.grad().device(), kCuda);
  expect_close(lg.cpu(), lh, 1e-12, 1e-12, "loss");
  expect_close(xg.grad().cpu(), xh.grad(), 1e-12, 1e-12, "dx");
  expect_close(wg.grad().cpu(), wh.grad(), 1e-12, 1e-12, "dw");
  expect_close(bg.grad().cpu(), bh.grad(), 1e-12, 1e-12, "db");
}

TEST_F(Cuda, GradientsFlowBackAcrossDevices) {
  // CPU leaves, the computation on the GPU: to(Device) is differentiable in both directions.
  Tensor x = tensor({1.0, -2.0, 3.0}).set_requires_grad();
  ((x.to(kCuda) * 2.0).sum() * 3.0).backward();
  EXPECT_EQ(x.grad().device(), kCPU);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 6, 6}));
  // Finite differences through a function that runs on the GPU.
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor a = in[0].to(kCuda), b = in[1].to(kCuda);
        return ((a * b - a / (b * b + 1.0)).sum({1}) + a.mean()).cpu();
      },
      {random_tensor({3, 4}, 84), random_tensor({1, 4}, 85)}));
}

// ---- errors ---------------------------------------------------------------------------------------------------------

TEST_F(Cuda, MixingDevicesIsAnError) {
  const Tensor a = ones({2}), b = ones({2}, {.device = kCuda});
  EXPECT_THROW_MSG(a + b, "add: tensors on different devices: cpu and cuda:0");
  EXPECT_THROW_MSG(b * a, "mul: tensors on different devices: cuda:0 and cpu");
  Tensor c = zeros({2}, {.device = kCuda});
  EXPECT_THROW_MSG(c.copy_(a), "copy_: source on cpu, destination on cuda:0");
}
