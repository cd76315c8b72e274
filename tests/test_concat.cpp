// cat and stack: forward values (negative dims, zero-size and strided inputs), gradients, errors.
#include "gradcheck.h"

using namespace trident;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

TEST(Cat, ForwardValues) {
  Tensor a = tensor({1.f, 2.f, 3.f, 4.f}, {2, 2});
  Tensor b = tensor({5.f, 6.f}, {1, 2});
  Tensor c0 = cat({a, b}, 0);
  EXPECT_EQ(c0.sizes(), (Shape{3, 2}));
  EXPECT_EQ(c0.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor c1 = cat({a, b.t(), a}, -1);  // b.t() is a strided [2, 1]
  EXPECT_EQ(c1.sizes(), (Shape{2, 5}));
  EXPECT_EQ(c1.to_vector<float>(), (std::vector<float>{1, 2, 5, 1, 2, 3, 4, 6, 3, 4}));
  // A zero-size input contributes nothing; an all-empty cat is empty.
  Tensor e = zeros({2, 0});
  EXPECT_EQ(cat({e, a, e}, 1).to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(cat({e, e}, -1).sizes(), (Shape{2, 0}));
  EXPECT_EQ(cat({zeros({0, 2}), b}, -2).to_vector<float>(), (std::vector<float>{5, 6}));
  // A single tensor gives a copy; int64 and bool data.
  Tensor single = cat({a});
  EXPECT_FALSE(single.shares_storage(a));
  EXPECT_EQ(single.to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(cat({tensor({std::int64_t{1}}), tensor({std::int64_t{2}, std::int64_t{3}})}).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(cat({tensor({true}), tensor({false})}).to_vector<bool>(), (std::vector<bool>{true, false}));
  // A 3-d middle dim.
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, {2, 1, 2}), y = tensor({5.0, 6.0, 7.0, 8.0}, {2, 1, 2});
  EXPECT_EQ(cat({x, y}, 1).to_vector<double>(), (std::vector<double>{1, 2, 5, 6, 3, 4, 7, 8}));
}

TEST(Stack, ForwardValues) {
  Tensor a = tensor({1.f, 2.f, 3.f}), b = tensor({4.f, 5.f, 6.f});
  Tensor s0 = stack({a, b});
  EXPECT_EQ(s0.sizes(), (Shape{2, 3}));
  EXPECT_EQ(s0.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor s1 = stack({a, b}, -1);  // a new last dim
  EXPECT_EQ(s1.sizes(), (Shape{3, 2}));
  EXPECT_EQ(s1.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor m = tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor s2 = stack({m, m.t()}, -2);  // [2, 2, 2] with the new dim in the middle
  EXPECT_EQ(s2.sizes(), (Shape{2, 2, 2}));
  EXPECT_EQ(s2.to_vector<double>(), (std::vector<double>{1, 2, 1, 3, 3, 4, 2, 4}));
  // 0-d inputs stack into a vector; zero-size inputs into a zero-size tensor.
  Tensor v = stack({scalar_tensor(1.0), scalar_tensor(2.0), scalar_tensor(3.0)});
  EXPECT_EQ(v.sizes(), (Shape{3}));
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(stack({zeros({0, 3}), zeros({0, 3})}, 1).sizes(), (Shape{0, 2, 3}));
}

TEST(Cat, Gradcheck) {
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1], in[2]}, -1);
      },
      {random_tensor({2, 3}, 1), random_tensor({2, 1}, 2), random_tensor({2, 2}, 3)}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return cat({in[0].t(), in[1], in[0].t()}, 0);
      },
      {random_tensor({3, 2}, 4), random_tensor({4, 3}, 5)}));
}

TEST(Cat, ZeroSizeInputGetsAZeroSizeGradient) {
  // (Not through gradcheck: it refuses a zero-size input, which Tensor::is_contiguous reports as non-contiguous.)
  Tensor e = zeros({2, 0, 3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor a = random_tensor({2, 2, 3}, 6).set_requires_grad();
  Tensor c = cat({e, a, e}, 1);
  EXPECT_EQ(c.sizes(), (Shape{2, 2, 3}));
  (c * 2.0).sum().backward();
  EXPECT_EQ(e.grad().sizes(), (Shape{2, 0, 3}));
  EXPECT_EQ(a.grad().to_vector<double>(), std::vector<double>(12, 2.0));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return cat({zeros({2, 0, 3}, {.dtype = kFloat64}), in[0]}, 1);
      },
      {random_tensor({2, 2, 3}, 7)}));
}

TEST(Stack, Gradcheck) {
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1], in[0]}, -1);
      },
      {random_tensor({2, 3}, 8), random_tensor({2, 3}, 9)}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1].t()}, 1);
      },
      {random_tensor({2, 3}, 10), random_tensor({3, 2}, 11)}));
}

TEST(Cat, GradientOnlyForInputsThatNeedIt) {
  Tensor a = tensor({1.0, 2.0}).set_requires_grad();
  Tensor b = tensor({3.0});
  Tensor c = cat({b, a});
  EXPECT_EQ(c.grad_fn()->name(), "CatBackward");
  (c * tensor({10.0, 20.0, 30.0})).sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{20, 30}));
  EXPECT_FALSE(b.grad().defined());
  Tensor s = stack({b, a.slice(0, 0, 1)});
  EXPECT_EQ(s.grad_fn()->name(), "StackBackward");
  a.zero_grad();
  (s * tensor({1.0, 5.0}, {2, 1})).sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{5, 0}));
}

TEST(Cat, Errors) {
  EXPECT_THROW_MSG(cat({}), "cat: expected a non-empty list of tensors");
  EXPECT_THROW_MSG(cat({zeros({2}), Tensor()}), "cat: tensor 1 is an undefined tensor");
  EXPECT_THROW_MSG(cat({zeros({2}), zeros({2}, {.dtype = kFloat64})}),
                   "cat: tensor 1 has dtype float64, tensor 0 has float32");
  EXPECT_THROW_MSG(cat({zeros({2, 3}), zeros({2, 3}), zeros({3, 3})}, 1),
                   "cat: sizes must match except in dim 1: tensor 0 has shape [2, 3], tensor 2 has shape [3, 3]");
  EXPECT_THROW_MSG(cat({zeros({2, 3}), zeros({2, 3, 1})}, -1),
                   "cat: sizes must match except in dim 1: tensor 0 has shape [2, 3], tensor 1 has shape [2, 3, 1]");
  EXPECT_THROW_MSG(cat({zeros({2, 3})}, 2), "cat: dim 2 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(cat({scalar_tensor(1.0)}), "cat: tensor 0 is 0-d (shape []); cat needs at least 1 dim");
}

TEST(Stack, Errors) {
  EXPECT_THROW_MSG(stack({}), "stack: expected a non-empty list of tensors");
  EXPECT_THROW_MSG(stack({zeros({2, 3}), zeros({2, 3}), zeros({3, 2})}),
                   "stack: all tensors must have the same shape: tensor 0 has shape [2, 3], tensor 2 has shape [3, 2]");
  EXPECT_THROW_MSG(stack({zeros({2}), zeros({2}, {.dtype = kInt64})}),
                   "stack: tensor 1 has dtype int64, tensor 0 has float32");
  EXPECT_THROW_MSG(stack({zeros({2})}, 2), "stack: dim 2 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(stack({zeros({2})}, -3), "stack: dim -3 out of range for a 2-d tensor");
}
