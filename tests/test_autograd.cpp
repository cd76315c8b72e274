// The autograd engine: accumulation, explicit gradients, no_grad, freed graphs, in-place detection, errors.
#include "gradcheck.h"

using namespace trident;
using trident::testing::random_tensor;

TEST(Autograd, ScalarBackwardAccumulatesIntoLeaves) {
  Tensor x = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  Tensor y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  (x * 3.0).sum().backward();  // accumulates
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
  x.zero_grad();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

TEST(Autograd, SharedInputsSumTheirGradients) {
  Tensor x = tensor({2.0}).set_requires_grad();
  Tensor a = x * x, b = x * 3.0;
  ((a + b) * x).sum().backward();  // d/dx (x^3 + 3x^2) = 3x^2 + 6x = 24
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 24.0);
}

TEST(Autograd, ExplicitGradient) {
  Tensor x = tensor({1.0, 2.0}).set_requires_grad();
  Tensor y = x * 2.0;
  y.backward(tensor({10.0, 100.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{20, 200}));
  Tensor z = x * 2.0;
  EXPECT_THROW_MSG(z.backward(), "backward: a gradient can be created implicitly only for a tensor with one element");
  EXPECT_THROW_MSG(z.backward(tensor({1.0})), "backward: gradient shape [1] differs from the tensor's [2]");
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = ones({2}, {.requires_grad = true});
  {
    NoGradGuard g;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE((x * 2.0).requires_grad());
  EXPECT_THROW_MSG((x.detach() * 2.0).sum().backward(), "backward: the tensor does not require grad");
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = tensor({1.0, 2.0}).set_requires_grad();
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_THROW_MSG(y.backward(), "MulBackward: trying to backward through the graph a second time");
  Tensor z = (x * x).sum();
  x.zero_grad();
  z.backward({}, /*retain_graph=*/true);
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 8}));
}

TEST(Autograd, InPlaceChangeOfSavedTensorIsDetected) {
  Tensor x = tensor({1.0, 2.0}).set_requires_grad();
  Tensor w = tensor({3.0, 4.0});
  Tensor y = (x * w).sum();
  w.mul_(2.0);  // w was saved by MulBackward
  EXPECT_THROW_MSG(y.backward(), "MulBackward: a tensor saved for backward was modified by an in-place operation");
}

TEST(Autograd, GradOnlyWhereNeeded) {
  Tensor x = tensor({1.0, 2.0}).set_requires_grad();
  Tensor c = tensor({5.0, 6.0});
  (x * c).sum().backward();
  EXPECT_FALSE(c.grad().defined());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE((x * c).is_leaf());
  EXPECT_THROW_MSG((x * c).set_requires_grad(false), "set_requires_grad: only leaf tensors");
  EXPECT_THROW_MSG(tensor({std::int64_t{1}}).set_requires_grad(), "only floating tensors can require gradients");
}

TEST(Autograd, BroadcastBackwardReducesToInputShape) {
  Tensor a = random_tensor({4, 1, 3}, 1).set_requires_grad();
  Tensor b = random_tensor({5, 1}, 2).set_requires_grad();
  (a * b).sum().backward();
  EXPECT_EQ(a.grad().sizes(), (Shape{4, 1, 3}));
  EXPECT_EQ(b.grad().sizes(), (Shape{5, 1}));
  // d/da sum(a*b) = sum of b over the broadcast dims
  EXPECT_NEAR(a.grad().at<double>({0, 0, 0}), b.sum().item<double>(), 1e-12);
}
