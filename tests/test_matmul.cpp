// matmul: PyTorch's shape rules, both CPU paths (oneDNN float32, blocked float64) against the naive reference,
// strided operands, gradients, errors, empty dims and the primitive cache.
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "gradcheck.h"
#include "trident/backends/cpu/matmul.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/matmul.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

// The expected product of a and b (any shapes matmul accepts), computed by the reference kernel on contiguous,
// explicitly broadcast copies of the promoted operands.
Tensor expected_matmul(const Tensor& a, const Tensor& b) {
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  const Shape batch = broadcast_shapes(Shape(a2.sizes().begin(), a2.sizes().end() - 2),
                                       Shape(b2.sizes().begin(), b2.sizes().end() - 2), "test");
  const std::int64_t M = a2.size(-2), K = a2.size(-1), N = b2.size(-1);
  Shape a_full = batch, b_full = batch, out_shape = batch;
  a_full.insert(a_full.end(), {M, K});
  b_full.insert(b_full.end(), {K, N});
  const std::int64_t B = shape_numel(batch);
  Tensor A = a2.expand(a_full).contiguous().reshape({B, M, K});
  Tensor Bm = b2.expand(b_full).contiguous().reshape({B, K, N});
  Tensor out = empty({B, M, N}, {.dtype = a.dtype()});
  reference::matmul(A, Bm, out);
  if (a.dim() > 1) out_shape.push_back(M);
  if (b.dim() > 1) out_shape.push_back(N);
  return out.reshape(out_shape);
}

// |t| elementwise as a contiguous float64 tensor (written here so that this test does not depend on the
// elementwise family's abs).
Tensor abs_f64(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  for (double& x : v) x = std::abs(x);
  return tensor(v, t.sizes());
}


// Note [Tolerance of a float32 matmul]
// Each output element is a K-term dot product. In floating point with unit roundoff u, whatever the order of the
// additions and whether multiply-adds are fused (oneDNN blocks and reorders the sum), every product passes through
// at most K roundings, so the computed value differs from the exact one by at most
//     gamma_K(u) * sum_k |a_ik| |b_kj|,   gamma_K(u) = K u / (1 - K u)
// (Higham, "Accuracy and Stability of Numerical Algorithms", section 3.1). This is a rigorous bound, not a
// statistical one, so a test that checks it never fails by chance; it grows with K as the error can. The reference
// runs in float64 on the same inputs and has its own error of at most gamma_K(2^-53) * sum |a||b|, so a result of
// unit roundoff u (2^-24 for float32, 2^-53 for float64) is checked against the reference within
//     (gamma_K(u) + gamma_K(2^-53)) * sum_k |a_ik| |b_kj|.
constexpr double kU64 = 0x1p-53;

double tolerance_factor(std::int64_t K, DType dtype) {
  auto gamma = [K](double u) { return static_cast<double>(K) * u / (1.0 - static_cast<double>(K) * u); };
  return gamma(dtype == kFloat32 ? 0x1p-24 : kU64) + gamma(kU64);
}

// actual (a matmul of a and b in actual's dtype) against the reference, within the bound of the Note.
::testing::AssertionResult within_dot_product_bound(const Tensor& actual, const Tensor& a, const Tensor& b) {
  const std::int64_t K = a.dim() == 1 ? a.size(0) : a.size(-1);
  const double factor = tolerance_factor(K, actual.dtype());
  const Tensor exact = expected_matmul(a.to(kFloat64), b.to(kFloat64));
  const Tensor magnitude = expected_matmul(abs_f64(a), abs_f64(b));
  const auto x = actual.to_vector<double>(), y = exact.to_vector<double>(), m = magnitude.to_vector<double>();
  if (actual.sizes() != exact.sizes()) return ::testing::AssertionFailure() << "shape mismatch";
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= factor * m[i] + std::numeric_limits<double>::min()))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << x[i] << " vs " << y[i] << ", bound " << factor * m[i];
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(Matmul, HandComputed2x3At3x2) {
  // [[1 2 3] [4 5 6]] @ [[7 8] [9 10] [11 12]] = [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor a = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}).to(dt);
    Tensor b = tensor({7.0, 8.0, 9.0, 10.0, 11.0, 12.0}, {3, 2}).to(dt);
    Tensor c = matmul(a, b);
    EXPECT_EQ(c.sizes(), (Shape{2, 2}));
    EXPECT_EQ(c.dtype(), dt);
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{58, 64, 139, 154}));
    EXPECT_EQ(a.matmul(b).to_vector<double>(), (std::vector<double>{58, 64, 139, 154}));
  }
}

TEST(Matmul, HandComputedVectorCases) {
  Tensor v = tensor({1.0, 2.0, 3.0});
  Tensor m = tensor({1.0, 0.0, 2.0, 0.0, 1.0, -1.0}, {2, 3});
  Tensor d = matmul(v, v);  // 1 + 4 + 9
  EXPECT_EQ(d.dim(), 0);
  EXPECT_DOUBLE_EQ(d.item<double>(), 14.0);
  Tensor mv = matmul(m, v);  // [1 + 6, 2 - 3]
  EXPECT_EQ(mv.sizes(), (Shape{2}));
  EXPECT_EQ(mv.to_vector<double>(), (std::vector<double>{7, -1}));
  Tensor vm = matmul(tensor({1.0, 2.0}), m);  // [1, 2, 2 - 2]
  EXPECT_EQ(vm.sizes(), (Shape{3}));
  EXPECT_EQ(vm.to_vector<double>(), (std::vector<double>{1, 2, 0}));
}

// Every shape rule, in both dtypes, against the reference.
struct ShapeCase {
  Shape a, b, out;
};
const std::vector<ShapeCase> kShapeCases = {
    {{5}, {5}, {}},                           // dot
    {{3, 5}, {5}, {3}},                       // matrix-vector
    {{5}, {5, 4}, {4}},                       // vector-matrix
    {{3, 5}, {5, 4}, {3, 4}},                 // matrix-matrix
    {{2, 3, 5}, {2, 5, 4}, {2, 3, 4}},        // batched
    {{2, 3, 5}, {5, 4}, {2, 3, 4}},           // batched @ matrix (b broadcast)
    {{3, 5}, {2, 5, 4}, {2, 3, 4}},           // matrix @ batched (a broadcast)
    {{2, 1, 3, 5}, {3, 5, 4}, {2, 3, 3, 4}},  // broadcast on both sides
    {{3, 1, 3, 5}, {1, 2, 5, 4}, {3, 2, 3, 4}},
    {{2, 3, 1, 5}, {2, 1, 5, 4}, {2, 3, 1, 4}},  // broadcast in the middle dim with M = 1
    {{5}, {2, 5, 4}, {2, 4}},                    // vector @ batched
    {{2, 3, 5}, {5}, {2, 3}},                    // batched @ vector
    {{1, 3, 5}, {4, 5, 2}, {4, 3, 2}},
};

TEST(Matmul, ShapeCasesAgainstReference) {
  std::uint32_t seed = 1;
  for (const auto& c : kShapeCases) {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor a = random_tensor(c.a, seed++, 0, 0, dt), b = random_tensor(c.b, seed++, 0, 0, dt);
      Tensor out = matmul(a, b);
      EXPECT_EQ(out.sizes(), c.out) << shape_str(c.a) << " @ " << shape_str(c.b);
      EXPECT_TRUE(within_dot_product_bound(out, a, b))
          << shape_str(c.a) << " @ " << shape_str(c.b) << " " << dtype_name(dt);
    }
  }
}

// Transposed, sliced and broadcast views, through the op (which passes their strides to the kernel).
TEST(Matmul, NonContiguousInputs) {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = random_tensor({40, 30}, 11, 0, 0, dt), y = random_tensor({20, 40}, 12, 0, 0, dt);
    Tensor at = x.t();                                                       // [30, 40], column-major
    Tensor bt = y.t();                                                       // [40, 20], column-major
    Tensor rows = random_tensor({30, 70}, 13, 0, 0, dt).slice(1, 10, 50);    // [30, 40], row stride 70
    Tensor step = random_tensor({30, 80}, 14, 0, 0, dt).slice(1, 0, 80, 2);  // [30, 40], element stride 2
    Tensor b = random_tensor({40, 20}, 15, 0, 0, dt);
    for (const Tensor& a : {at, rows, step}) {
      EXPECT_TRUE(within_dot_product_bound(matmul(a, b), a, b));
      EXPECT_TRUE(within_dot_product_bound(matmul(a, bt), a, bt));
    }
    // Batched views: batch dim moved inside, and a batch broadcast by expand (stride 0).
    Tensor p = random_tensor({5, 4, 6}, 16, 0, 0, dt).transpose(0, 1);  // [4, 5, 6], batch stride 6
    Tensor q = random_tensor({4, 7, 6}, 17, 0, 0, dt).transpose(1, 2);  // [4, 6, 7], transposed matrices
    EXPECT_TRUE(within_dot_product_bound(matmul(p, q), p, q));
    Tensor e = random_tensor({6, 7}, 18, 0, 0, dt).expand({4, 6, 7});
    EXPECT_TRUE(within_dot_product_bound(matmul(p, e), p, e));
    EXPECT_TRUE(
        within_dot_product_bound(matmul(e.transpose(1, 2), p.transpose(1, 2)), e.transpose(1, 2), p.transpose(1, 2)));
    // A strided vector.
    Tensor v = random_tensor({80}, 19, 0, 0, dt).slice(0, 0, 80, 2);
    EXPECT_TRUE(within_dot_product_bound(matmul(rows, v), rows, v));
    EXPECT_TRUE(within_dot_product_bound(matmul(v, b), v, b));
  }
}

// The kernel itself, both CPU paths, against the reference on [B, M, K] @ [B, K, N] with strided operands and
// sizes that cross the float64 loop's block edges (kMC = 96, kNC = 128, kKC = 256, micro-tiles of 12 x 16).
TEST(Matmul, KernelMatchesReference) {
  struct Case {
    std::int64_t B, M, K, N;
  };
  const std::vector<Case> cases = {{1, 1, 1, 1},       {1, 13, 7, 17},  {3, 97, 257, 129},
                                   {2, 200, 300, 150}, {1, 1, 500, 33}, {4, 25, 1, 31}};
  std::uint32_t seed = 100;
  for (const auto& c : cases) {
    for (DType dt : {kFloat32, kFloat64}) {
      for (int layout = 0; layout < 4; ++layout) {
        // layout bit 0: a transposed in memory; bit 1: b broadcast over the batch (stride 0) and transposed.
        Tensor a = (layout & 1) ? random_tensor({c.B, c.K, c.M}, seed++, 0, 0, dt).transpose(1, 2)
                                : random_tensor({c.B, c.M, c.K}, seed++, 0, 0, dt);
        Tensor b = (layout & 2) ? random_tensor({c.N, c.K}, seed++, 0, 0, dt).t().unsqueeze(0).expand({c.B, c.K, c.N})
                                : random_tensor({c.B, c.K, c.N}, seed++, 0, 0, dt);
        Tensor out = empty({c.B, c.M, c.N}, {.dtype = dt});
        Tensor ref = empty({c.B, c.M, c.N}, {.dtype = kFloat64});
        kernels::matmul(kCPU, a, b, out);
        reference::matmul(a.to(kFloat64), b.to(kFloat64), ref);
        const Tensor mag = empty({c.B, c.M, c.N}, {.dtype = kFloat64});
        reference::matmul(abs_f64(a), abs_f64(b), mag);
        const double factor = tolerance_factor(c.K, dt);
        const auto x = out.to_vector<double>(), y = ref.to_vector<double>(), m = mag.to_vector<double>();
        for (std::size_t i = 0; i < x.size(); ++i)
          ASSERT_LE(std::abs(x[i] - y[i]), factor * m[i] + 1e-300)
              << "B M K N " << c.B << " " << c.M << " " << c.K << " " << c.N << " layout " << layout << " "
              << dtype_name(dt) << " element " << i;
      }
    }
  }
}

// The float64 loop at its largest tiles (192 x 512, not shrunk: one thread, nine tiles), with edges in every dim.
TEST(Matmul, Float64LargeTilesMatchReference) {
  const int saved = get_num_threads();
  set_num_threads(1);
  Tensor a = random_tensor({1, 400, 130}, 61), b = random_tensor({1, 1100, 130}, 62).transpose(1, 2);
  Tensor out = empty({1, 400, 1100}, {.dtype = kFloat64}), ref = empty({1, 400, 1100}, {.dtype = kFloat64});
  kernels::matmul(kCPU, a, b, out);
  set_num_threads(saved);
  reference::matmul(a, b, ref);
  const Tensor mag = empty({1, 400, 1100}, {.dtype = kFloat64});
  reference::matmul(abs_f64(a), abs_f64(b), mag);
  const double factor = tolerance_factor(130, kFloat64);
  const auto x = out.to_vector<double>(), y = ref.to_vector<double>(), m = mag.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_LE(std::abs(x[i] - y[i]), factor * m[i] + 1e-300) << i;
}

// Note [Tolerance of a float32 matmul] made concrete for growing K, oneDNN against the float64 reference.
TEST(Matmul, Float32WithinDotProductBound) {
  for (std::int64_t K : {1, 8, 64, 513, 2048}) {
    Tensor a = random_tensor({33, K}, 200 + static_cast<std::uint32_t>(K), 0, 0, kFloat32);
    Tensor b = random_tensor({K, 47}, 300 + static_cast<std::uint32_t>(K), 0, 0, kFloat32);
    EXPECT_TRUE(within_dot_product_bound(matmul(a, b), a, b)) << "K = " << K;
  }
}

// Transposed and row-sliced operands go to oneDNN as they are; only layouts oneDNN has no fast kernel for are copied.
TEST(Matmul, Float32ReadsStridesWithoutCopies) {
  auto info = [](const Tensor& a, const Tensor& b) {
    return cpu::matmul_plan_info(a.unsqueeze(0), b.unsqueeze(0), empty({1, a.size(0), b.size(1)}));
  };
  Tensor x = random_tensor({64, 48}, 1, 0, 0, kFloat32), y = random_tensor({32, 64}, 2, 0, 0, kFloat32);
  const auto transposed = info(x.t(), y.t());  // [48, 64] @ [64, 32], both column-major
  EXPECT_FALSE(transposed.copies_a);
  EXPECT_FALSE(transposed.copies_b);
  EXPECT_FALSE(transposed.implementation.starts_with("ref")) << transposed.implementation;
  const auto sliced = info(random_tensor({48, 100}, 3, 0, 0, kFloat32).slice(1, 0, 64), y.t());
  EXPECT_FALSE(sliced.copies_a);
  EXPECT_FALSE(sliced.implementation.starts_with("ref")) << sliced.implementation;
  const auto stepped = info(random_tensor({48, 128}, 4, 0, 0, kFloat32).slice(1, 0, 128, 2), y.t());
  EXPECT_TRUE(stepped.copies_a);
  EXPECT_FALSE(stepped.copies_b);
  // A batch broadcast (stride 0) is oneDNN's batch-1 broadcast, not a copy.
  Tensor p = random_tensor({4, 8, 16}, 5, 0, 0, kFloat32);
  const auto bcast = cpu::matmul_plan_info(p, random_tensor({16, 8}, 6, 0, 0, kFloat32).unsqueeze(0).expand({4, 16, 8}),
                                           empty({4, 8, 8}));
  EXPECT_FALSE(bcast.copies_b);
  EXPECT_FALSE(bcast.implementation.starts_with("ref")) << bcast.implementation;
}

TEST(Matmul, GradcheckEveryShapeCase) {
  std::uint32_t seed = 500;
  for (const auto& c : kShapeCases) {
    Tensor a = random_tensor(c.a, seed++), b = random_tensor(c.b, seed++);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b}))
        << shape_str(c.a) << " @ " << shape_str(c.b);
  }
}

TEST(Matmul, GradcheckStridedAndSingleInput) {
  // Transposed operands inside the function (gradcheck perturbs contiguous leaves).
  Tensor a = random_tensor({4, 3}, 1), b = random_tensor({5, 4}, 2);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); }, {a, b}));
  Tensor p = random_tensor({3, 2, 4}, 3), q = random_tensor({2, 5, 4}, 4);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) { return matmul(in[0].transpose(0, 1), in[1].transpose(1, 2)); }, {p, q}));
  // Only one input needs a gradient: the other is a constant.
  Tensor w = random_tensor({4, 5}, 5);
  EXPECT_TRUE(
      gradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], w); }, {random_tensor({2, 3, 4}, 6)}));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return matmul(p, in[0]); }, {random_tensor({4, 6}, 7)}));
}

TEST(Matmul, BackwardComputesOnlyNeededGradients) {
  Tensor a = random_tensor({3, 4}, 1).set_requires_grad(true);
  Tensor b = random_tensor({4, 2}, 2);  // a constant
  Tensor c = matmul(a, b);
  ASSERT_TRUE(c.requires_grad());
  EXPECT_EQ(c.grad_fn()->name(), "MatmulBackward");
  c.sum().backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  // d(sum(A B))/dA = 1 B^T: every row of the gradient is the row sums of B.
  const Tensor expected = ones({3, 2}, {.dtype = kFloat64}).matmul(b.t());
  EXPECT_TRUE(all_close(a.grad(), expected, 1e-12, 1e-12));
  // Float32 gradients have float32 dtype and the inputs' shapes (1-d included).
  Tensor v = random_tensor({4}, 3, 0, 0, kFloat32).set_requires_grad(true);
  Tensor m = random_tensor({2, 4, 3}, 4, 0, 0, kFloat32).set_requires_grad(true);
  matmul(v, m).sum().backward();
  EXPECT_EQ(v.grad().sizes(), (Shape{4}));
  EXPECT_EQ(v.grad().dtype(), kFloat32);
  EXPECT_EQ(m.grad().sizes(), (Shape{2, 4, 3}));
}

TEST(Matmul, Errors) {
  EXPECT_THROW_MSG(matmul(zeros({32, 64}), zeros({65, 10})), "matmul: inner dimensions differ: [32, 64] @ [65, 10]");
  EXPECT_THROW_MSG(matmul(zeros({3}), zeros({4})), "matmul: inner dimensions differ: [3] @ [4]");
  EXPECT_THROW_MSG(matmul(zeros({2, 3}), zeros({3, 2}, {.dtype = kFloat64})),
                   "matmul: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(matmul(scalar_tensor(1.0), zeros({3})),
                   "matmul: both arguments need at least 1 dimension, got shapes [] @ [3]");
  EXPECT_THROW_MSG(matmul(zeros({3}), scalar_tensor(1.0)), "matmul: both arguments need at least 1 dimension");
  EXPECT_THROW_MSG(matmul(zeros({2, 3, 4}), zeros({5, 4, 2})),
                   "matmul: batch dimensions cannot be broadcast: [2, 3, 4] @ [5, 4, 2]");
  EXPECT_THROW_MSG(matmul(zeros({2, 2}, {.dtype = kInt64}), zeros({2, 2}, {.dtype = kInt64})),
                   "matmul: expected a floating tensor (float32 or float64), got int64");
  EXPECT_THROW_MSG(matmul(Tensor(), zeros({2})), "matmul: input is an undefined tensor");
}

TEST(Matmul, ZeroSizeDims) {
  for (DType dt : {kFloat32, kFloat64}) {
    // K = 0: an empty sum, so zeros (the output is not left uninitialised).
    Tensor c = matmul(empty({3, 0}, {.dtype = dt}), empty({0, 4}, {.dtype = dt}));
    EXPECT_EQ(c.sizes(), (Shape{3, 4}));
    EXPECT_EQ(c.to_vector<double>(), std::vector<double>(12, 0.0));
    Tensor d = matmul(empty({0}, {.dtype = dt}), empty({0}, {.dtype = dt}));
    EXPECT_EQ(d.dim(), 0);
    EXPECT_EQ(d.item<double>(), 0.0);
    EXPECT_EQ(matmul(empty({2, 3, 0}, {.dtype = dt}), empty({0, 5}, {.dtype = dt})).to_vector<double>(),
              std::vector<double>(30, 0.0));
    // M, N or batch = 0: empty results of the right shape.
    EXPECT_EQ(matmul(empty({0, 3}, {.dtype = dt}), empty({3, 4}, {.dtype = dt})).sizes(), (Shape{0, 4}));
    EXPECT_EQ(matmul(empty({2, 3}, {.dtype = dt}), empty({3, 0}, {.dtype = dt})).sizes(), (Shape{2, 0}));
    EXPECT_EQ(matmul(empty({0, 2, 3}, {.dtype = dt}), empty({3, 4}, {.dtype = dt})).sizes(), (Shape{0, 2, 4}));
  }
  // Gradients through K = 0: dA is [3, 0] (nothing), dB is [0, 4] (nothing); and through M = 0: dB is zeros.
  Tensor a = empty({3, 0}, {.dtype = kFloat64}).set_requires_grad(true);
  Tensor b = empty({0, 4}, {.dtype = kFloat64}).set_requires_grad(true);
  matmul(a, b).sum().backward();
  EXPECT_EQ(a.grad().sizes(), (Shape{3, 0}));
  EXPECT_EQ(b.grad().sizes(), (Shape{0, 4}));
  Tensor e = empty({0, 3}, {.dtype = kFloat64}).set_requires_grad(true);
  Tensor f = ones({3, 4}, {.dtype = kFloat64}).set_requires_grad(true);
  matmul(e, f).sum().backward();
  EXPECT_EQ(f.grad().to_vector<double>(), std::vector<double>(12, 0.0));
}

TEST(Matmul, PrimitiveCacheHit) {
  cpu::clear_matmul_cache();
  Tensor a = random_tensor({37, 53}, 1, 0, 0, kFloat32), b = random_tensor({53, 29}, 2, 0, 0, kFloat32);
  const Tensor first = matmul(a, b);
  const auto after_first = cpu::matmul_cache_stats();
  EXPECT_EQ(after_first.misses, 1u);
  EXPECT_EQ(after_first.hits, 0u);
  EXPECT_EQ(after_first.entries, 1u);
  const Tensor second = matmul(a, b);
  const auto after_second = cpu::matmul_cache_stats();
  EXPECT_EQ(after_second.misses, 1u);
  EXPECT_EQ(after_second.hits, 1u);
  EXPECT_EQ(first.to_vector<float>(), second.to_vector<float>());  // bit-identical
  // Same shape on new data also hits; a different layout (transposed b) is another primitive.
  matmul(random_tensor({37, 53}, 3, 0, 0, kFloat32), b);
  EXPECT_EQ(cpu::matmul_cache_stats().hits, 2u);
  matmul(a, random_tensor({29, 53}, 4, 0, 0, kFloat32).t());
  EXPECT_EQ(cpu::matmul_cache_stats().misses, 2u);
  EXPECT_EQ(cpu::matmul_cache_stats().entries, 2u);
}

// set_num_threads governs oneDNN too: a new thread count gets its own primitive (Note [oneDNN and the thread
// count]), and results agree across thread counts (float64: bit for bit, each output tile is computed by one thread
// in the same order whatever the thread count).
TEST(Matmul, ThreadCountGovernsBothPaths) {
  const int saved = get_num_threads();
  Tensor a32 = random_tensor({70, 300}, 1, 0, 0, kFloat32), b32 = random_tensor({300, 90}, 2, 0, 0, kFloat32);
  Tensor a64 = random_tensor({200, 300}, 3), b64 = random_tensor({300, 150}, 4);
  set_num_threads(2);
  const Tensor c32_two = matmul(a32, b32), c64_two = matmul(a64, b64);
  const auto before = cpu::matmul_cache_stats();
  set_num_threads(1);
  const Tensor c32_one = matmul(a32, b32), c64_one = matmul(a64, b64);
  const auto after = cpu::matmul_cache_stats();
  set_num_threads(saved);
  EXPECT_EQ(after.misses, before.misses + 1);
  EXPECT_TRUE(within_dot_product_bound(c32_one, a32, b32));
  EXPECT_TRUE(within_dot_product_bound(c32_two, a32, b32));
  EXPECT_EQ(c64_one.to_vector<double>(), c64_two.to_vector<double>());
}

// The primitive cache, the per-thread memory handles and the user-managed scratchpads under concurrent use: several
// threads run products of several shapes at once (creating and finding primitives) and check every result.
TEST(Matmul, ConcurrentCallsFromSeveralThreads) {
  cpu::clear_matmul_cache();
  struct Problem {
    Tensor a, b;
    std::vector<double> exact, bound;  // the float64 product and the Note [Tolerance of a float32 matmul] bound
  };
  std::vector<Problem> problems;
  std::size_t scratchpad_bytes = 0;
  for (std::int64_t n : {16, 48, 96, 200}) {
    Problem p{random_tensor({n, 300}, 1 + static_cast<std::uint32_t>(n), 0, 0, kFloat32),
              random_tensor({300, n + 5}, 2 + static_cast<std::uint32_t>(n), 0, 0, kFloat32),
              {},
              {}};
    p.exact = expected_matmul(p.a.to(kFloat64), p.b.to(kFloat64)).to_vector<double>();
    const double factor = tolerance_factor(300, kFloat32);
    p.bound = expected_matmul(abs_f64(p.a), abs_f64(p.b)).to_vector<double>();
    for (double& x : p.bound) x *= factor;
    scratchpad_bytes +=
        cpu::matmul_plan_info(p.a.unsqueeze(0), p.b.unsqueeze(0), empty({1, n, n + 5})).scratchpad_bytes;
    problems.push_back(std::move(p));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const Problem& p = problems[static_cast<std::size_t>(i + t) % problems.size()];
        const auto c = matmul(p.a, p.b).to_vector<double>();
        for (std::size_t k = 0; k < c.size(); ++k)
          if (!(std::abs(c[k] - p.exact[k]) <= p.bound[k])) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(scratchpad_bytes, 0u);  // the scratchpad path is exercised
}
