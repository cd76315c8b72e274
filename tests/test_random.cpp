// Random numbers: Philox known answers, the generator, every random factory (determinism, thread-count
// independence, ranges, statistics, errors), the CPU kernel against the reference, and the range factories.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include "gradcheck.h"
#include "trident/backends/reference/random.h"

using namespace trident;

namespace {

// Restores the OpenMP thread count when a test changes it.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}

}  // namespace

// The known-answer vectors of the reference implementation (Random123's kat_vectors: counter, key -> output).
TEST(Philox, KnownAnswers) {
  using W4 = std::array<std::uint32_t, 4>;
  EXPECT_EQ(philox4x32(W4{0, 0, 0, 0}, {0, 0}), (W4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32(W4{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (W4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32(W4{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (W4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, SeedIsKeyAndOffsetIsCounter) {
  const std::uint64_t seed = 0x0123456789abcdefULL, counter = 0xfedcba9876543210ULL;
  EXPECT_EQ(philox4x32(seed, counter),
            philox4x32(std::array<std::uint32_t, 4>{0x76543210, 0xfedcba98, 0, 0}, {0x89abcdef, 0x01234567}));
  EXPECT_NE(philox4x32(seed, counter), philox4x32(seed, counter + 1));
  EXPECT_NE(philox4x32(seed, counter), philox4x32(seed + 1, counter));
}

TEST(Generator, ReserveSeedAndCopies) {
  Generator g(5);
  EXPECT_EQ(g.seed(), 5u);
  EXPECT_EQ(g.advance(3), 0u);
  EXPECT_EQ(g.reserve(2), (std::pair<std::uint64_t, std::uint64_t>{5, 3}));
  EXPECT_EQ(g.offset(), 5u);
  Generator snapshot = g;  // copies state
  rand({10}, {}, &g);
  EXPECT_EQ(g.offset(), 8u);  // 10 float32 uniforms = 3 blocks
  EXPECT_EQ(snapshot.offset(), 5u);
  g.manual_seed(9);
  EXPECT_EQ(g.seed(), 9u);
  EXPECT_EQ(g.offset(), 0u);
}

// Threads sharing the default generator each get their own blocks: no block is handed out twice.
TEST(Generator, DefaultGeneratorIsThreadSafe) {
  manual_seed(3);
  constexpr int kThreads = 4, kDraws = 2000;
  std::vector<std::vector<std::uint64_t>> starts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&starts, t] {
      for (int i = 0; i < kDraws; ++i) starts[t].push_back(default_generator().reserve(2).second);
    });
  for (auto& th : threads) th.join();
  std::set<std::uint64_t> all;
  for (const auto& s : starts) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kDraws));
  EXPECT_EQ(default_generator().offset(), static_cast<std::uint64_t>(2 * kThreads * kDraws));
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(2 * kThreads * kDraws - 2));
}

TEST(Random, SameSeedSameNumbers) {
  Generator a(42), b(42);
  EXPECT_EQ(rand({1000}, {}, &a).to_vector<float>(), rand({1000}, {}, &b).to_vector<float>());
  EXPECT_EQ(randn({999}, {.dtype = kFloat64}, &a).to_vector<double>(),
            randn({999}, {.dtype = kFloat64}, &b).to_vector<double>());
  // The default generator: manual_seed restarts its stream.
  manual_seed(7);
  const auto first = randn({3, 5}).to_vector<float>();
  const auto second = randn({3, 5}).to_vector<float>();
  EXPECT_NE(first, second);  // consecutive calls continue the stream
  manual_seed(7);
  EXPECT_EQ(randn({3, 5}).to_vector<float>(), first);
  EXPECT_EQ(randn({3, 5}).to_vector<float>(), second);
}

TEST(Random, DifferentSeedsDiffer) {
  Generator a(1), b(2);
  const auto x = rand({256}, {}, &a).to_vector<float>(), y = rand({256}, {}, &b).to_vector<float>();
  std::size_t equal = 0;
  for (std::size_t i = 0; i < x.size(); ++i) equal += x[i] == y[i];
  EXPECT_LT(equal, 3u);
  Generator c(1), d(2);
  EXPECT_NE(randperm(50, &c).to_vector<std::int64_t>(), randperm(50, &d).to_vector<std::int64_t>());
}

// Large enough for the kernel's parallel path; odd sizes exercise a partial last block.
TEST(Random, IndependentOfThreadCount) {
  ThreadCountGuard guard;
  auto draw_all = [] {
    Generator g(1234);
    std::vector<std::vector<double>> out;
    out.push_back(rand({100003}, {}, &g).to_vector<double>());
    out.push_back(rand({100001}, {.dtype = kFloat64}, &g).to_vector<double>());
    out.push_back(randn({100003}, {}, &g).to_vector<double>());
    out.push_back(randn({100001}, {.dtype = kFloat64}, &g).to_vector<double>());
    out.push_back(randint(-5, 17, {100003}, {.dtype = kInt64}, &g).to_vector<double>());
    out.push_back(bernoulli({100003}, 0.3, {}, &g).to_vector<double>());
    out.push_back(normal({7, 20001}, 2.0, 3.0, {}, &g).to_vector<double>());
    out.push_back(randperm(100003, &g).to_vector<double>());
    return out;
  };
  set_num_threads(1);
  const auto one = draw_all();
  set_num_threads(2);
  const auto two = draw_all();
  set_num_threads(3);
  const auto three = draw_all();
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k], two[k]) << "draw " << k;
    EXPECT_EQ(one[k], three[k]) << "draw " << k;
  }
}

// The CPU kernel against the element-at-a-time reference of Note [Random streams].
TEST(Random, KernelMatchesReference) {
  using kernels::RandomKind;
  struct Case {
    RandomKind kind;
    DType dtype;
    double a, b;
  };
  const std::vector<Case> cases = {
      {RandomKind::Uniform, kFloat32, 0.0, 1.0},    {RandomKind::Uniform, kFloat64, -2.0, 3.0},
      {RandomKind::Normal, kFloat32, 0.0, 1.0},     {RandomKind::Normal, kFloat64, 1.0, 0.5},
      {RandomKind::Randint, kInt64, -7.0, 1000.0},  {RandomKind::Randint, kFloat32, 0.0, 3.0},
      {RandomKind::Bernoulli, kFloat32, 0.25, 0.0}, {RandomKind::Bernoulli, kBool, 0.5, 0.0},
  };
  for (const Case& c : cases) {
    for (std::int64_t n : {1, 7, 50001}) {
      Tensor t = empty({n}, {.dtype = c.dtype});
      kernels::random_fill(kCPU, t, c.kind, 99, 12345, c.a, c.b);
      const std::vector<double> got = t.to_vector<double>();
      const std::vector<double> want = reference::random_samples(c.kind, c.dtype, n, 99, 12345, c.a, c.b);
      for (std::int64_t i = 0; i < n; ++i) {
        // The reference is double; the kernel's value is that sample rounded to the dtype.
        const double expected = c.dtype == kFloat32 ? static_cast<double>(static_cast<float>(want[i]))
                                : c.dtype == kBool  ? static_cast<double>(want[i] != 0.0)
                                                    : want[i];
        // Normal samples go through log/cos/sin, whose last double bit may differ between the two codes.
        const double tol = c.kind == RandomKind::Normal ? 1e-6 * std::max(1.0, std::abs(expected)) : 0.0;
        ASSERT_NEAR(got[i], expected, tol)
            << "kind " << static_cast<int>(c.kind) << " dtype " << dtype_name(c.dtype) << " n " << n << " i " << i;
      }
    }
  }
}

TEST(Random, RandIsInUnitInterval) {
  Generator g(3);
  for (DType dt : {kFloat32, kFloat64}) {
    const auto v = rand({1000000}, {.dtype = dt}, &g).to_vector<double>();
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0);
    EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0);
    // U[0, 1): mean 1/2 and variance 1/12; bounds are 6 standard errors.
    EXPECT_NEAR(mean_of(v), 0.5, 6 * std::sqrt(1.0 / 12 / 1e6));
    EXPECT_NEAR(std_of(v), std::sqrt(1.0 / 12), 0.001);
  }
}

TEST(Random, UniformStaysBelowHigh) {
  // An interval two float32 ulps wide: low + (high - low) * u rounds up to high for u near 1, and must be nudged.
  Generator g(11);
  const double low = 1.0, high = 1.0 + std::ldexp(1.0, -22);
  const auto v = uniform({100000}, low, high, {}, &g).to_vector<double>();
  EXPECT_GE(*std::min_element(v.begin(), v.end()), low);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), high);
  const auto w = uniform({100000}, -3.0, 5.0, {.dtype = kFloat64}, &g).to_vector<double>();
  EXPECT_GE(*std::min_element(w.begin(), w.end()), -3.0);
  EXPECT_LT(*std::max_element(w.begin(), w.end()), 5.0);
  EXPECT_NEAR(mean_of(w), 1.0, 6 * 8 / std::sqrt(12e5));
}

// On 1e6 samples the standard error of the mean is 1e-3 and that of the standard deviation about 7e-4: the bounds
// below are 6 standard errors, so a correct generator fails them with probability ~1e-9.
TEST(Random, RandnMeanAndStd) {
  Generator g(2024);
  for (DType dt : {kFloat32, kFloat64}) {
    const auto v = randn({1000000}, {.dtype = dt}, &g).to_vector<double>();
    EXPECT_NEAR(mean_of(v), 0.0, 0.006) << dtype_name(dt);
    EXPECT_NEAR(std_of(v), 1.0, 0.0045) << dtype_name(dt);
    // Shape: P(|z| < 1) = 0.682689 (standard error 4.7e-4).
    const double inside = std::count_if(v.begin(), v.end(), [](double z) { return std::abs(z) < 1.0; }) / 1e6;
    EXPECT_NEAR(inside, 0.682689, 0.0028) << dtype_name(dt);
    // The two normals of one Box-Muller pair are independent: their products average to 0 (standard error 1.4e-3).
    double prod = 0;
    for (std::size_t i = 0; i + 1 < v.size(); i += 2) prod += v[i] * v[i + 1];
    EXPECT_NEAR(prod / (v.size() / 2), 0.0, 0.0085) << dtype_name(dt);
  }
  const auto w = normal({1000000}, 3.0, 2.0, {.dtype = kFloat64}, &g).to_vector<double>();
  EXPECT_NEAR(mean_of(w), 3.0, 0.012);
  EXPECT_NEAR(std_of(w), 2.0, 0.009);
}

TEST(Random, RandintRangeAndFrequencies) {
  Generator g(5);
  Tensor t = randint(-3, 5, {800000}, {.dtype = kInt64}, &g);
  EXPECT_EQ(t.dtype(), kInt64);
  EXPECT_EQ(randint(0, 3, {2}).dtype(), kInt64);  // the default options
  std::map<std::int64_t, std::int64_t> counts;
  for (auto x : t.to_vector<std::int64_t>()) ++counts[x];
  ASSERT_EQ(counts.size(), 8u);
  EXPECT_EQ(counts.begin()->first, -3);
  EXPECT_EQ(counts.rbegin()->first, 4);
  // Each value: expected 1e5, standard deviation sqrt(1e5 * 7/8) ~ 296.
  for (auto [value, count] : counts) EXPECT_NEAR(count, 100000, 1800) << value;
  Tensor f = randint(0, 10, {1000}, {.dtype = kFloat32}, &g);
  EXPECT_EQ(f.dtype(), kFloat32);
  for (float x : f.to_vector<float>()) EXPECT_TRUE(x >= 0 && x < 10 && x == std::floor(x));
  // A huge range still lands inside it.
  for (auto x : randint(-(std::int64_t{1} << 52), std::int64_t{1} << 52, {1000}, {.dtype = kInt64}, &g)
                    .to_vector<std::int64_t>())
    EXPECT_TRUE(x >= -(std::int64_t{1} << 52) && x < (std::int64_t{1} << 52));
  EXPECT_EQ(randint(4, 5, {10}, {.dtype = kInt64}, &g).to_vector<std::int64_t>(), std::vector<std::int64_t>(10, 4));
}

TEST(Random, RandpermIsAPermutation) {
  Generator g(8);
  for (std::int64_t n : {0, 1, 2, 10, 1000}) {
    auto p = randperm(n, &g).to_vector<std::int64_t>();
    ASSERT_EQ(static_cast<std::int64_t>(p.size()), n);
    std::sort(p.begin(), p.end());
    for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(p[i], i);
  }
  Generator a(77), b(77);
  EXPECT_EQ(randperm(500, &a).to_vector<std::int64_t>(), randperm(500, &b).to_vector<std::int64_t>());
  // All 6 orders of 3 elements are equally likely: 6000 draws, expected 1000 each (standard deviation ~29).
  std::map<std::vector<std::int64_t>, int> orders;
  for (int k = 0; k < 6000; ++k) ++orders[randperm(3, &g).to_vector<std::int64_t>()];
  ASSERT_EQ(orders.size(), 6u);
  for (const auto& [order, count] : orders) EXPECT_NEAR(count, 1000, 180);
  EXPECT_THROW_MSG(randperm(-1), "randperm: n must be non-negative, got -1");
}

TEST(Random, BernoulliFrequency) {
  Generator g(13);
  const auto v = bernoulli({1000000}, 0.3, {}, &g).to_vector<float>();
  for (float x : v) ASSERT_TRUE(x == 0.f || x == 1.f);
  // Standard error sqrt(0.21 / 1e6) ~ 4.6e-4.
  EXPECT_NEAR(std::accumulate(v.begin(), v.end(), 0.0) / 1e6, 0.3, 0.0028);
  EXPECT_EQ(bernoulli({100}, 0.0, {}, &g).to_vector<float>(), std::vector<float>(100, 0.f));
  EXPECT_EQ(bernoulli({100}, 1.0, {.dtype = kBool}, &g).to_vector<bool>(), std::vector<bool>(100, true));

  // A tensor of probabilities, non-contiguous: column 0 holds 0.2, column 1 holds 0.9 (after the transpose).
  Tensor p = full({2, 200000}, 0.2, {.dtype = kFloat64});
  p.slice(0, 1, 2).fill_(0.9);
  Tensor b = bernoulli(p.t(), &g);
  EXPECT_EQ(b.dtype(), kFloat64);
  EXPECT_EQ(b.sizes(), (Shape{200000, 2}));
  const auto bv = b.to_vector<double>();
  double c0 = 0, c1 = 0;
  for (std::size_t i = 0; i < bv.size(); i += 2) c0 += bv[i], c1 += bv[i + 1];
  EXPECT_NEAR(c0 / 200000, 0.2, 0.006);  // standard error ~9e-4
  EXPECT_NEAR(c1 / 200000, 0.9, 0.004);  // standard error ~7e-4
  // p = 0 and p = 1 are exact; the result does not require grad.
  Tensor q = tensor({0.f, 1.f, 0.f, 1.f}).set_requires_grad(true);
  Tensor bq = bernoulli(q, &g);
  EXPECT_EQ(bq.to_vector<float>(), (std::vector<float>{0, 1, 0, 1}));
  EXPECT_FALSE(bq.requires_grad());
}

TEST(Random, Errors) {
  EXPECT_THROW_MSG(rand({2}, {.dtype = kInt64}), "rand: expected a floating dtype (float32 or float64), got int64");
  EXPECT_THROW_MSG(randn({2}, {.dtype = kBool}), "randn: expected a floating dtype (float32 or float64), got bool");
  EXPECT_THROW_MSG(uniform({2}, 1.0, 1.0), "uniform: expected low < high, got low=1 high=1");
  EXPECT_THROW_MSG(normal({2}, 0.0, -1.0), "normal: std must be non-negative, got -1");
  EXPECT_THROW_MSG(randint(3, 3, {2}), "randint: expected low < high, got low=3 high=3");
  EXPECT_THROW_MSG(randint(0, std::int64_t{1} << 60, {2}), "randint: low and high must lie within +-2^53");
  EXPECT_THROW_MSG(randint(0, 2, {2}, {.dtype = kBool}), "randint: dtype bool is not supported");
  EXPECT_THROW_MSG(bernoulli({2}, 1.5), "bernoulli: p must lie in [0, 1], got 1.5");
  EXPECT_THROW_MSG(bernoulli(tensor({0.5, 1.25})),
                   "bernoulli: probabilities must lie in [0, 1], got values in [0.5, 1.25]");
  EXPECT_THROW_MSG(bernoulli(tensor({0.5, std::nan("")})), "bernoulli: probabilities must lie in [0, 1]");
  EXPECT_THROW_MSG(bernoulli(tensor({std::int64_t{1}})), "bernoulli: expected a floating tensor");
}

TEST(Random, RequiresGradGivesLeaves) {
  for (Tensor t : {rand({2, 3}, {.requires_grad = true}), randn({4}, {.dtype = kFloat64, .requires_grad = true}),
                   uniform({2}, 0.0, 1.0, {.requires_grad = true}), normal({2}, 0.0, 1.0, {.requires_grad = true}),
                   arange(3.0, {.dtype = kFloat32, .requires_grad = true}), linspace(0, 1, 3, {.requires_grad = true}),
                   eye(2, -1, {.requires_grad = true})}) {
    EXPECT_TRUE(t.requires_grad());
    EXPECT_TRUE(t.is_leaf());
  }
  EXPECT_FALSE(rand({2}).requires_grad());
}

TEST(Random, EmptyShapes) {
  Generator g(1);
  EXPECT_EQ(rand({0, 3}, {}, &g).numel(), 0);
  EXPECT_EQ(g.offset(), 0u);  // nothing drawn
  EXPECT_EQ(randn({}, {}, &g).dim(), 0);
  EXPECT_EQ(g.offset(), 1u);
}

// ---- ranges
// ------------------------------------------------------------------------------------------------------------

TEST(Range, Arange) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(a.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(2, 11, 3).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 5, 8}));
  EXPECT_EQ(arange(5, 0, -2).to_vector<std::int64_t>(), (std::vector<std::int64_t>{5, 3, 1}));
  Tensor f = arange(1, 2.5, 0.5, {.dtype = kFloat32});
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.f, 1.5f, 2.f}));
  // ceil((1 - 0) / 0.3) = 4 elements.
  const auto g = arange(0, 1, 0.3, {.dtype = kFloat64}).to_vector<double>();
  ASSERT_EQ(g.size(), 4u);
  EXPECT_DOUBLE_EQ(g[3], 0.9);
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_EQ(arange(4.0, {.dtype = kFloat64}).to_vector<double>(), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_THROW_MSG(arange(0, 5, 0), "arange: step must be nonzero");
  EXPECT_THROW_MSG(arange(0, 5, -1), "arange: a step of -1 never reaches end=5 from start=0");
  EXPECT_THROW_MSG(arange(0, INFINITY), "arange: start, end and step must be finite");
  EXPECT_THROW_MSG(arange(3, {.dtype = kBool}), "arange: dtype bool is not supported");
}

TEST(Range, Linspace) {
  EXPECT_EQ(linspace(0, 1, 5).to_vector<float>(), (std::vector<float>{0.f, 0.25f, 0.5f, 0.75f, 1.f}));
  const auto v = linspace(-1, 2, 7, {.dtype = kFloat64}).to_vector<double>();
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.front(), -1.0);
  EXPECT_EQ(v.back(), 2.0);  // exact end point
  EXPECT_DOUBLE_EQ(v[3], 0.5);
  EXPECT_EQ(linspace(3, 9, 1).to_vector<float>(), (std::vector<float>{3.f}));
  EXPECT_EQ(linspace(3, 9, 0).numel(), 0);
  EXPECT_EQ(linspace(0, 10, 3, {.dtype = kInt64}).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 5, 10}));
  EXPECT_THROW_MSG(linspace(0, 1, -2), "linspace: steps must be non-negative, got -2");
}

TEST(Range, Eye) {
  EXPECT_EQ(eye(3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Tensor r = eye(2, 3, {.dtype = kInt64});
  EXPECT_EQ(r.sizes(), (Shape{2, 3}));
  EXPECT_EQ(r.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(eye(3, 1, {.dtype = kFloat64}).to_vector<double>(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(eye(0).sizes(), (Shape{0, 0}));
  EXPECT_THROW_MSG(eye(-1), "eye: n must be non-negative, got -1");
}
