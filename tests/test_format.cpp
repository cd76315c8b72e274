// Printing tensors: the exact strings PyTorch 1.13 prints for the same tensors (generated with repr() in Python,
// with "torch.float64" written "float64" and grad_fn names without PyTorch's trailing digit).
#include <sstream>

#include "gradcheck.h"

using namespace trident;

namespace {
std::string str(const Tensor& t) { return fmt::format("{}", t); }
}  // namespace

TEST(Format, FloatMatrix) {
  EXPECT_EQ(str(tensor({1.f, 2.5f, 3.f, 4.f}, {2, 2})), "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])");
  EXPECT_EQ(str(tensor({-1.5f, 0.25f, 100.f})), "tensor([ -1.5000,   0.2500, 100.0000])");
  EXPECT_EQ(str(tensor({-0.f, 1.5f})), "tensor([-0.0000, 1.5000])");
}

TEST(Format, IntegralFloats) {
  EXPECT_EQ(str(tensor({1.f, 2.f, 3.f})), "tensor([1., 2., 3.])");
  EXPECT_EQ(str(zeros({3})), "tensor([0., 0., 0.])");
  EXPECT_EQ(str(tensor({-3.f, 0.f, 12.f})), "tensor([-3.,  0., 12.])");
  EXPECT_EQ(str(arange(8, {.dtype = kFloat32}).reshape({2, 2, 2})),
            "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])");
  EXPECT_EQ(str(arange(16, {.dtype = kFloat32}).reshape({2, 2, 2, 2})),
            "tensor([[[[ 0.,  1.],\n          [ 2.,  3.]],\n\n         [[ 4.,  5.],\n          [ 6.,  7.]]],\n\n\n"
            "        [[[ 8.,  9.],\n          [10., 11.]],\n\n         [[12., 13.],\n          [14., 15.]]]])");
}

TEST(Format, ScientificNotation) {
  EXPECT_EQ(str(tensor({1e-5f, 1.f, 2.f})), "tensor([1.0000e-05, 1.0000e+00, 2.0000e+00])");  // min < 1e-4
  EXPECT_EQ(str(tensor({1e9f, 1.f})), "tensor([1.0000e+09, 1.0000e+00])");                    // max > 1e8
  EXPECT_EQ(str(tensor({1.f, 10000.f})), "tensor([1.0000e+00, 1.0000e+04])");                 // ratio > 1000
  EXPECT_EQ(str(tensor({1e10f, 2e10f})), "tensor([1.0000e+10, 2.0000e+10])");
  EXPECT_EQ(str(tensor({-1e-5f, 1.f})), "tensor([-1.0000e-05,  1.0000e+00])");
  EXPECT_EQ(str(tensor({1e-4f, 2e-4f})), "tensor([1.0000e-04, 2.0000e-04])");  // 1e-4 as float32 is below 1e-4
}

TEST(Format, NonFinite) {
  EXPECT_EQ(str(tensor({NAN, INFINITY, -INFINITY, 1.5f})), "tensor([   nan,    inf,   -inf, 1.5000])");
  EXPECT_EQ(str(tensor({NAN, 2.f})), "tensor([nan, 2.])");
  EXPECT_EQ(str(tensor({-NAN, 2.f})), "tensor([nan, 2.])");
}

TEST(Format, IntAndBool) {
  EXPECT_EQ(str(tensor(std::vector<std::int64_t>{1, -20, 300})), "tensor([  1, -20, 300])");
  EXPECT_EQ(str(tensor(std::vector<std::int64_t>{1, 2, 3, 40}, {2, 2})), "tensor([[ 1,  2],\n        [ 3, 40]])");
  EXPECT_EQ(str(tensor({true, false, true})), "tensor([ True, False,  True])");
  EXPECT_EQ(str(tensor({true, false, false, true}, {2, 2})), "tensor([[ True, False],\n        [False,  True]])");
}

TEST(Format, DtypeSuffix) {
  EXPECT_EQ(str(tensor({1.5, 2.0})), "tensor([1.5000, 2.0000], dtype=float64)");
  EXPECT_EQ(str(scalar_tensor(2.0, {.dtype = kFloat64})), "tensor(2., dtype=float64)");
}

TEST(Format, ZeroDim) {
  EXPECT_EQ(str(scalar_tensor(3.5)), "tensor(3.5000)");
  EXPECT_EQ(str(scalar_tensor(7, {.dtype = kInt64})), "tensor(7)");
  EXPECT_EQ(str(scalar_tensor(1.5, {.requires_grad = true})), "tensor(1.5000, requires_grad=True)");
}

TEST(Format, Empty) {
  EXPECT_EQ(str(zeros({0})), "tensor([])");
  EXPECT_EQ(str(zeros({2, 0})), "tensor([], size=(2, 0))");
  EXPECT_EQ(str(zeros({0}, {.dtype = kInt64})), "tensor([], dtype=int64)");
  EXPECT_EQ(str(zeros({0, 3}, {.dtype = kFloat64})), "tensor([], size=(0, 3), dtype=float64)");
  EXPECT_EQ(str(zeros({2, 0, 3}, {.dtype = kBool})), "tensor([], size=(2, 0, 3), dtype=bool)");
}

TEST(Format, NonContiguous) {
  Tensor t = tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}).t();
  ASSERT_FALSE(t.is_contiguous());
  EXPECT_EQ(str(t), "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])");
  Tensor s = arange(10, {.dtype = kFloat32}).slice(0, 1, 10, 3);  // a view with an offset and stride 3
  EXPECT_EQ(str(s), "tensor([1., 4., 7.])");
}

TEST(Format, LongRowsWrap) {
  EXPECT_EQ(str(arange(30, {.dtype = kFloat32}) / 3.0),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n"
            "        9.0000, 9.3333, 9.6667])");
}

TEST(Format, Summarised) {
  EXPECT_EQ(str(arange(2000)), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  EXPECT_EQ(str(arange(1001, {.dtype = kFloat32}) / 4.0),
            "tensor([  0.0000,   0.2500,   0.5000,  ..., 249.5000, 249.7500, 250.0000])");
  EXPECT_EQ(str(ones({1001}, {.dtype = kBool})), "tensor([True, True, True,  ..., True, True, True])");
  EXPECT_EQ(str(arange(2000, {.dtype = kFloat32}).reshape({40, 50})),
            "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,\n"
            "         4.9000e+01],\n"
            "        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,\n"
            "         9.9000e+01],\n"
            "        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,\n"
            "         1.4900e+02],\n"
            "        ...,\n"
            "        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,\n"
            "         1.8990e+03],\n"
            "        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,\n"
            "         1.9490e+03],\n"
            "        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,\n"
            "         1.9990e+03]])");
  EXPECT_EQ(str(arange(1200).reshape({2, 3, 200})),
            "tensor([[[   0,    1,    2,  ...,  197,  198,  199],\n"
            "         [ 200,  201,  202,  ...,  397,  398,  399],\n"
            "         [ 400,  401,  402,  ...,  597,  598,  599]],\n\n"
            "        [[ 600,  601,  602,  ...,  797,  798,  799],\n"
            "         [ 800,  801,  802,  ...,  997,  998,  999],\n"
            "         [1000, 1001, 1002,  ..., 1197, 1198, 1199]]])");
}

TEST(Format, AutogradSuffixes) {
  Tensor a = ones({2}, {.requires_grad = true});
  EXPECT_EQ(str(a), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(str(ones({2}, {.dtype = kFloat64, .requires_grad = true})),
            "tensor([1., 1.], dtype=float64, requires_grad=True)");
  EXPECT_EQ(str(a * 2.0), "tensor([2., 2.], grad_fn=<MulBackward>)");
  // A suffix that would pass 80 columns goes to its own line, indented under the opening bracket.
  Tensor w = (arange(9, {.dtype = kFloat64}) / 3.0).detach().set_requires_grad(true);
  EXPECT_EQ(str(w),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667],\n"
            "       dtype=float64, requires_grad=True)");
  Tensor w2 = (arange(30, {.dtype = kFloat64}) / 3.0).detach().set_requires_grad(true);
  EXPECT_EQ(str(w2),
            "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,\n"
            "        9.0000, 9.3333, 9.6667], dtype=float64, requires_grad=True)");
}

TEST(Format, StreamAndToStringAgree) {
  Tensor t = tensor({1.f, 2.5f});
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), "tensor([1.0000, 2.5000])");
  EXPECT_EQ(to_string(t), os.str());
  EXPECT_EQ(fmt::format("x = {}!", t), "x = tensor([1.0000, 2.5000])!");
  EXPECT_EQ(str(Tensor()), "tensor(undefined)");
  EXPECT_THROW((void)fmt::format(fmt::runtime("{:x}"), t), fmt::format_error);
}
