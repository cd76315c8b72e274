// Tensor basics: construction, metadata, views aliasing storage, copies, element access, in-place ops.
#include "gradcheck.h"

using namespace trident;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

TEST(Tensor, FromVectorShapeAndValues) {
  Tensor t = tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  EXPECT_EQ(t.sizes(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Shape{3, 1}));
  EXPECT_EQ(t.dtype(), kFloat32);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FLOAT_EQ(t.at<float>({1, 2}), 6.f);
  EXPECT_FLOAT_EQ(t.at<float>({-1, 0}), 4.f);
  EXPECT_THROW_MSG(tensor({1.f, 2.f, 3.f}, {2, 2}), "tensor: 3 values do not fill shape [2, 2]");
  EXPECT_THROW_MSG(t.at<float>({2, 0}), "at: index 2 out of range for dim 0 of size 2");
}

TEST(Tensor, ConstantFactories) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(ones({3}, {.dtype = kInt64}).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_EQ(full({2}, 2.5, {.dtype = kFloat64}).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  Tensor s = scalar_tensor(3.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_FLOAT_EQ(s.item<float>(), 3.f);
  EXPECT_THROW_MSG(ones({2}).item<float>(), "item: expected a tensor with one element, got shape [2]");
}

TEST(Tensor, ViewsAliasStorage) {
  Tensor t = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor tr = t.t();
  EXPECT_TRUE(tr.shares_storage(t));
  EXPECT_EQ(tr.sizes(), (Shape{3, 2}));
  EXPECT_EQ(tr.strides(), (Shape{1, 3}));
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_DOUBLE_EQ(tr.at<double>({2, 1}), 6.0);
  Tensor sl = t.slice(1, 1, 3);
  EXPECT_TRUE(sl.shares_storage(t));
  EXPECT_EQ(sl.sizes(), (Shape{2, 2}));
  sl.fill_(0.0);  // writes through the view
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 0, 0, 4, 0, 0}));
  Tensor r = t.reshape({3, 2});
  EXPECT_TRUE(r.shares_storage(t));
  Tensor e = tensor({1.0, 2.0}, {2, 1}).expand({2, 3});
  EXPECT_EQ(e.strides(), (Shape{1, 0}));
  EXPECT_EQ(e.contiguous().to_vector<double>(), (std::vector<double>{1, 1, 1, 2, 2, 2}));
  Tensor u = t.unsqueeze(0);
  EXPECT_EQ(u.sizes(), (Shape{1, 2, 3}));
  EXPECT_EQ(u.squeeze().sizes(), (Shape{2, 3}));
  EXPECT_EQ(t.permute({1, 0}).sizes(), (Shape{3, 2}));
  EXPECT_EQ(tensor({1.0, 2.0, 3.0, 4.0}, {2, 1, 2}).flatten().sizes(), (Shape{4}));
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  Tensor t = random_tensor({3, 4}, 1);
  EXPECT_TRUE(t.contiguous().is_same(t));
  Tensor c = t.t().contiguous();
  EXPECT_FALSE(c.shares_storage(t));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_DOUBLE_EQ(c.at<double>({3, 2}), t.at<double>({2, 3}));
  // A non-viewable reshape copies.
  Tensor r = t.t().reshape({12});
  EXPECT_FALSE(r.shares_storage(t));
  EXPECT_THROW_MSG(t.t().view({12}), "view: shape [12] is not compatible with the input's strides");
}

TEST(Tensor, ToDtypeAndClone) {
  Tensor t = tensor({1.5, -2.5, 3.0});
  EXPECT_EQ(t.to(kInt64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -2, 3}));
  EXPECT_EQ(t.to(kFloat32).dtype(), kFloat32);
  EXPECT_TRUE(t.to(kFloat64).is_same(t));
  Tensor c = t.clone();
  c.fill_(0.0);
  EXPECT_DOUBLE_EQ(t.at<double>({0}), 1.5);
}

TEST(Tensor, InPlaceOpsBumpVersion) {
  Tensor t = zeros({3}, {.dtype = kFloat64});
  const auto v0 = t.version();
  t.add_(tensor({1.0, 2.0, 3.0}));
  t.mul_(2.0);
  t.add_(1.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{3, 5, 7}));
  EXPECT_GT(t.version(), v0);
  t.add_(ones({3}, {.dtype = kFloat64}), -3.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 2, 4}));
  EXPECT_THROW_MSG(t.add_(ones({2, 3}, {.dtype = kFloat64})), "add_: the result shape [2, 3] would differ");
  Tensor w = ones({2}, {.requires_grad = true});
  EXPECT_THROW_MSG(w.mul_(2.0), "mul_: a tensor that requires grad cannot be modified in place");
  {
    NoGradGuard g;
    w.mul_(2.0);
  }
  EXPECT_FLOAT_EQ(w.at<float>({0}), 2.f);
}

TEST(Tensor, ArithmeticAndBroadcast) {
  Tensor a = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  Tensor b = tensor({10.0, 20.0, 30.0});
  EXPECT_EQ((a + b).to_vector<double>(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ((a - 1.0).to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ((2.0 * a).to_vector<double>(), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ((a / tensor({1.0, 2.0}, {2, 1})).to_vector<double>(), (std::vector<double>{1, 2, 3, 2, 2.5, 3}));
  EXPECT_EQ((1.0 - a).to_vector<double>(), (std::vector<double>{0, -1, -2, -3, -4, -5}));
  EXPECT_EQ((-a).to_vector<double>(), (std::vector<double>{-1, -2, -3, -4, -5, -6}));
  EXPECT_THROW_MSG(a + tensor({1.0, 2.0}), "add: shapes [2, 3] and [2] cannot be broadcast");
  EXPECT_THROW_MSG(a * tensor({1.f, 2.f, 3.f}), "mul: dtype mismatch: float64 and float32");
}

TEST(Tensor, SumAndMean) {
  Tensor a = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  EXPECT_DOUBLE_EQ(a.sum().item<double>(), 21.0);
  EXPECT_EQ(a.sum({0}).to_vector<double>(), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(a.sum({1}).to_vector<double>(), (std::vector<double>{6, 15}));
  EXPECT_EQ(a.sum({-1}, true).sizes(), (Shape{2, 1}));
  EXPECT_EQ(a.t().sum({1}).to_vector<double>(), (std::vector<double>{5, 7, 9}));
  EXPECT_DOUBLE_EQ(a.mean().item<double>(), 3.5);
  EXPECT_EQ(a.mean({0}).to_vector<double>(), (std::vector<double>{2.5, 3.5, 4.5}));
  EXPECT_EQ(tensor({true, false, true}).sum().item<std::int64_t>(), 2);
  EXPECT_THROW_MSG(a.sum({2}), "sum: dim 2 out of range for a 2-d tensor");
  // float32 sums accumulate in float64: 2^24 + many ones is exact.
  Tensor big = ones({1 << 20});
  EXPECT_FLOAT_EQ(big.sum().item<float>(), static_cast<float>(1 << 20));
}

TEST(Tensor, GradcheckArithmetic) {
  auto x = random_tensor({3, 4}, 1), y = random_tensor({4}, 2), z = random_tensor({3, 1}, 3, 0.5, 2.0);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0] + v[1]; }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0] - v[1]; }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0] * v[1]; }, {x, y}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0] / v[1]; }, {x, z}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return -v[0] * 3.0 + 1.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].sum({0}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].mean({1}, true); }, {x}));
}

TEST(Tensor, GradcheckViews) {
  auto x = random_tensor({2, 3, 4}, 4);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].transpose(0, 2) * 2.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].permute({2, 0, 1}).reshape({4, 6}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].slice(2, 1, 4, 2); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].slice(1, 0, 1).expand({2, 5, 4}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].unsqueeze(1).flatten(2).squeeze(1); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& v) { return v[0].t().contiguous() * 1.0; },
                        {random_tensor({3, 2}, 5)}));
}

TEST(Tensor, DtypeConversionBackwardReturnsTheInputDtype) {
  // Finite differences through float32 are too coarse for gradcheck; check the gradient directly.
  Tensor x = tensor({1.0, 2.0}).set_requires_grad();
  (x.to(kFloat32) * tensor({3.f, 4.f})).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 4}));
}

TEST(Tensor, LargeCpuBlocksAreCachedAndReused) {
  cpu_empty_cache();
  EXPECT_EQ(cpu_cached_bytes(), 0u);
  const void* first;
  {
    Tensor t = empty({1 << 20});  // 4 MiB: cached when freed
    first = t.raw_data();
    t.fill_(1.0);
  }
  EXPECT_EQ(cpu_cached_bytes(), std::size_t{4} << 20);
  Tensor again = empty({1 << 20});
  EXPECT_EQ(again.raw_data(), first);  // the same block, without new page faults
  EXPECT_EQ(cpu_cached_bytes(), 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(again.raw_data()) % (std::uintptr_t{2} << 20), 0u);  // huge-page aligned
  { Tensor small = empty({100}); }  // small blocks are not cached
  EXPECT_EQ(cpu_cached_bytes(), 0u);
  cpu_empty_cache();
}
