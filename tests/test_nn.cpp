// nn (nn/*.h): Module registration, names, modes, zero_grad, to(), the summary; Sequential; every layer's output
// shape, values where they are easy to state, and a float64 gradient check through it (parameters included);
// BatchNorm's and Dropout's modes; the linear op (ops/linear.h); and the errors users meet.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "nn_testing.h"
#include "trident/trident.h"

namespace trident {
namespace {

using testing::gradcheck;
using testing::module_gradcheck;
using testing::random_tensor;

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

// A small CNN in the style users write: its own parameter, a Sequential of features and a head.
struct Net : nn::Module {
  Tensor scale;
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> classifier;
  Net() {
    scale = register_parameter("scale", ones({1}));
    features = register_module(
        "features",
        std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(1, 4, 3), std::make_shared<nn::BatchNorm2d>(4),
                                         std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2)));
    classifier = register_module("classifier", std::make_shared<nn::Linear>(4 * 3 * 3, 10));
  }
  Tensor forward(const Tensor& x) override { return (*classifier)((*features)(x).flatten(1)) * scale; }
};

// ---- registration and names -------------------------------------------------------------------------------------

TEST(Module, NamedParametersAreDottedInRegistrationOrder) {
  Net net;
  EXPECT_EQ(names_of(net.named_parameters()),
            (std::vector<std::string>{"scale", "features.0.weight", "features.0.bias", "features.1.weight",
                                      "features.1.bias", "classifier.weight", "classifier.bias"}));
  EXPECT_EQ(names_of(net.named_parameters(/*recurse=*/false)), (std::vector<std::string>{"scale"}));
  EXPECT_EQ(names_of(net.named_buffers()),
            (std::vector<std::string>{"features.1.running_mean", "features.1.running_var",
                                      "features.1.num_batches_tracked"}));
  EXPECT_TRUE(net.named_buffers(false).empty());
  // parameters() lists the very tensors the layers hold.
  const auto params = net.parameters();
  ASSERT_EQ(params.size(), 7u);
  EXPECT_TRUE(params[1].is_same(net.features->at<nn::Conv2d>(0)->weight));
  EXPECT_TRUE(params[5].is_same(net.classifier->weight));
  EXPECT_TRUE(net.parameter("features.0.weight").is_same(params[1]));
  EXPECT_TRUE(net.buffer("features.1.running_var").is_same(net.features->at<nn::BatchNorm2d>(1)->running_var));
  EXPECT_EQ(net.buffers().size(), 3u);
  for (const Tensor& p : params) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  // children: direct submodules only, in order.
  const auto children = net.children();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0], net.features);
  EXPECT_EQ(children[1], net.classifier);
  EXPECT_EQ(net.named_children()[1].first, "classifier");
  // num_parameters: 1 + conv (4*9 + 4) + bn (4 + 4) + linear (36*10 + 10)
  EXPECT_EQ(net.num_parameters(), 1 + 40 + 8 + 370);
  EXPECT_EQ(nn::Linear(784, 256).num_parameters(), 784 * 256 + 256);
}

TEST(Module, RegisterKeepsTheHandleAndReturnsTypedModules) {
  struct M : nn::Module {
    M() {
      Tensor w = zeros({3});
      Tensor r = register_parameter("w", w);
      EXPECT_TRUE(r.is_same(w));
      EXPECT_TRUE(w.requires_grad());
      Tensor frozen = register_parameter("frozen", zeros({2}), /*requires_grad=*/false);
      EXPECT_FALSE(frozen.requires_grad());
      std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(2, 3));
      EXPECT_EQ(fc->out_features, 3);
      register_buffer("steps", zeros({}, {.dtype = kInt64}));
    }
  } m;
  EXPECT_EQ(names_of(m.named_parameters()), (std::vector<std::string>{"w", "frozen", "fc.weight", "fc.bias"}));
  EXPECT_EQ(names_of(m.named_buffers()), (std::vector<std::string>{"steps"}));
}

TEST(Module, RegistrationErrors) {
  struct M : nn::Module {
  } m;
  m.register_parameter("weight", zeros({2}));
  EXPECT_THROW_MSG(m.register_parameter("weight", zeros({2})),
                   "register_parameter: M already has a parameter named 'weight'");
  EXPECT_THROW_MSG(m.register_buffer("weight", zeros({2})),
                   "register_buffer: M already has a parameter named 'weight'");
  EXPECT_THROW_MSG(m.register_module("weight", std::make_shared<nn::ReLU>()),
                   "register_module: M already has a parameter named 'weight'");
  m.register_module("act", std::make_shared<nn::ReLU>());
  EXPECT_THROW_MSG(m.register_parameter("act", zeros({2})), "M already has a submodule named 'act'");
  m.register_buffer("stat", zeros({2}));
  EXPECT_THROW_MSG(m.register_buffer("stat", zeros({2})), "M already has a buffer named 'stat'");
  EXPECT_THROW_MSG(m.register_parameter("a.b", zeros({2})), "the name 'a.b' contains '.'");
  EXPECT_THROW_MSG(m.register_parameter("", zeros({2})), "the name must not be empty");
  EXPECT_THROW_MSG(m.register_parameter("i", zeros({2}, {.dtype = kInt64})), "only floating tensors can require");
  EXPECT_THROW_MSG(m.register_parameter("u", Tensor()), "parameter 'u' is an undefined tensor");
  Tensor leaf = zeros({2}).set_requires_grad(true);
  EXPECT_THROW_MSG(m.register_parameter("computed", leaf * 2.0), "parameter 'computed' must be a leaf tensor");
  EXPECT_THROW_MSG(m.register_module("null", std::shared_ptr<nn::ReLU>()), "submodule 'null' is null");
  EXPECT_THROW_MSG(m.parameter("nope"), "parameter: M has no parameter named 'nope'");
  EXPECT_THROW_MSG(m.buffer("weight"), "buffer: M has no buffer named 'weight'");
  EXPECT_THROW_MSG(m(zeros({2})), "M: forward is not implemented");
}

TEST(Module, SharedTensorsAreListedOnce) {
  // Tied weights: the same tensor registered in two modules.
  auto a = std::make_shared<nn::Linear>(4, 4);
  struct Tied : nn::Module {
    explicit Tied(std::shared_ptr<nn::Linear> a) {
      register_module("a", a);
      register_module("b", a);  // the same module twice
      register_parameter("w", a->weight);
    }
  } tied(a);
  EXPECT_EQ(names_of(tied.named_parameters()), (std::vector<std::string>{"w", "a.bias"}));
  EXPECT_EQ(tied.num_parameters(), 16 + 4);
}

TEST(Module, NameIsTheClassName) {
  EXPECT_EQ(nn::Linear(1, 1).name(), "Linear");
  EXPECT_EQ(nn::BatchNorm2d(3).name(), "BatchNorm2d");
  EXPECT_EQ(Net().name(), "Net");
}

// ---- modes, gradients, conversion ---------------------------------------------------------------------------------

TEST(Module, TrainEvalRecurse) {
  Net net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.features->is_training());
  EXPECT_FALSE((*net.features)[1]->is_training());
  EXPECT_FALSE(net.classifier->is_training());
  net.train();
  EXPECT_TRUE((*net.features)[1]->is_training());
  net.features->train(false);  // a subtree only
  EXPECT_TRUE(net.is_training());
  EXPECT_FALSE((*net.features)[3]->is_training());
  EXPECT_TRUE(net.classifier->is_training());
}

TEST(Module, ZeroGrad) {
  nn::Linear fc(3, 2);
  const Tensor x = ones({4, 3});
  fc(x).sum().backward();
  const Tensor g = fc.weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.to_vector<float>(), std::vector<float>(6, 4.f));  // d/dW sum(x W^T) = sum over the batch of x
  fc.zero_grad();
  EXPECT_TRUE(fc.weight.grad().is_same(g));  // zeroed in place, memory kept
  EXPECT_EQ(g.to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(fc.bias.grad().to_vector<float>(), std::vector<float>(2, 0.f));
  fc(x).sum().backward();
  EXPECT_EQ(fc.weight.grad().to_vector<float>(), std::vector<float>(6, 4.f));
  fc.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(fc.weight.grad().defined());
  EXPECT_FALSE(fc.bias.grad().defined());
}

TEST(Module, ToDTypeKeepsIdentityAndRequiresGrad) {
  Net net;
  const auto before = net.parameters();
  const std::vector<float> w32 = net.classifier->weight.to_vector<float>();
  net(random_tensor({2, 1, 8, 8}, 1, 0, 0, kFloat32)).sum().backward();
  ASSERT_TRUE(net.classifier->weight.grad().defined());

  net.to(kFloat64);
  const auto after = net.parameters();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(after[i].is_same(before[i]));  // the same TensorImpl ...
    EXPECT_EQ(before[i].dtype(), kFloat64);    // ... seen through the handles fetched before
    EXPECT_TRUE(before[i].requires_grad());
    EXPECT_TRUE(before[i].is_leaf());
    EXPECT_TRUE(before[i].is_contiguous());
  }
  EXPECT_EQ(net.classifier->weight.dtype(), kFloat64);  // layer members too
  const std::vector<double> w64 = net.classifier->weight.to_vector<double>();
  for (std::size_t i = 0; i < w32.size(); ++i) EXPECT_EQ(w64[i], static_cast<double>(w32[i]));
  // The gradient is converted with its parameter.
  EXPECT_EQ(net.classifier->weight.grad().dtype(), kFloat64);
  // Floating buffers convert; the integer counter keeps its dtype.
  auto bn = net.features->at<nn::BatchNorm2d>(1);
  EXPECT_EQ(bn->running_mean.dtype(), kFloat64);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), kInt64);
  // The converted model trains: new gradients accumulate into the same handles.
  net.zero_grad(true);
  net(random_tensor({2, 1, 8, 8}, 2)).sum().backward();
  EXPECT_EQ(before[0].grad().dtype(), kFloat64);
  EXPECT_EQ(before[5].grad().sizes(), (Shape{10, 36}));
  // Back to float32; converting to the current dtype or device changes nothing.
  net.to(kFloat32);
  EXPECT_EQ(before[5].dtype(), kFloat32);
  const void* data = before[5].raw_data();
  net.to(kFloat32).to(kCPU);
  EXPECT_EQ(before[5].raw_data(), data);
  EXPECT_THROW_MSG(net.to(kInt64), "to: Net: modules convert to floating dtypes only");
}

TEST(Module, ToDeviceKeepsIdentity) {
  if (!cuda_is_available()) GTEST_SKIP() << "no CUDA device (or built with TRIDENT_CUDA=OFF)";
  nn::Linear fc(3, 2);
  nn::BatchNorm1d bn(2);
  const auto params = fc.parameters();
  const std::vector<float> w = fc.weight.to_vector<float>();
  fc.to(Device::cuda());
  bn.to(Device::cuda());
  for (const Tensor& p : params) {
    EXPECT_TRUE(p.device().is_cuda());
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  EXPECT_TRUE(bn.running_var.device().is_cuda());
  EXPECT_TRUE(bn.num_batches_tracked.device().is_cuda());
  EXPECT_EQ(fc.weight.to_vector<float>(), w);  // to_vector copies back to the CPU
  fc.to(kCPU);
  EXPECT_TRUE(params[0].device().is_cpu());
  EXPECT_EQ(params[0].to_vector<float>(), w);
}

// ---- Sequential and the summary -------------------------------------------------------------------------------------

TEST(Sequential, ComposesIndexesAndNames) {
  manual_seed(3);
  auto fc1 = std::make_shared<nn::Linear>(5, 4);
  auto fc2 = std::make_shared<nn::Linear>(4, 2);
  nn::Sequential seq({fc1, std::make_shared<nn::Tanh>(), fc2});
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(names_of(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  const Tensor x = random_tensor({6, 5}, 4, 0, 0, kFloat32);
  EXPECT_EQ(seq(x).to_vector<float>(), (*fc2)(tanh((*fc1)(x))).to_vector<float>());
  EXPECT_EQ(seq[0], fc1);
  EXPECT_EQ(seq[-1], fc2);
  EXPECT_EQ(seq.at<nn::Linear>(2), fc2);
  EXPECT_THROW_MSG(seq.at<nn::Linear>(1), "Sequential::at: module 1 is a Tanh");
  EXPECT_THROW_MSG(seq[3], "Sequential: index 3 out of range for 3 modules");
  EXPECT_THROW_MSG(seq[-4], "Sequential: index -4 out of range for 3 modules");
  // push_back returns the typed module and names it by position.
  std::shared_ptr<nn::Sigmoid> s = seq.push_back(std::make_shared<nn::Sigmoid>());
  EXPECT_EQ(seq.named_children()[3].first, "3");
  EXPECT_EQ(seq[3], s);
  int count = 0;
  for (const auto& m : seq) count += m != nullptr;
  EXPECT_EQ(count, 4);
  // The variadic form, and an empty Sequential (the identity).
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 3), std::make_shared<nn::ReLU>());
  EXPECT_EQ(model->size(), 2u);
  EXPECT_EQ((*model)(x).sizes(), (Shape{6, 3}));
  nn::Sequential empty_seq;
  EXPECT_TRUE(empty_seq(x).is_same(x));
}

TEST(Module, ReprLikePyTorch) {
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Dropout>(0.5),
                                                std::make_shared<nn::Linear>(256, 10, /*bias=*/false));
  const std::string expected =
      "Sequential(\n"
      "  (0): Linear(in_features=784, out_features=256, bias=true)\n"
      "  (1): ReLU()\n"
      "  (2): Dropout(p=0.5)\n"
      "  (3): Linear(in_features=256, out_features=10, bias=false)\n"
      ")";
  EXPECT_EQ(model->to_string(), expected);
  EXPECT_EQ(fmt::format("{}", *model), expected);
  std::ostringstream os;
  os << *model;
  EXPECT_EQ(os.str(), expected);
  // Nested modules are indented; a module without children or arguments prints "Name()".
  EXPECT_EQ(Net().to_string(),
            "Net(\n"
            "  (features): Sequential(\n"
            "    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
            "    (1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)\n"
            "    (2): ReLU()\n"
            "    (3): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))\n"
            "  )\n"
            "  (classifier): Linear(in_features=36, out_features=10, bias=true)\n"
            ")");
  EXPECT_EQ(nn::Sequential().to_string(), "Sequential()");
  EXPECT_EQ(nn::Conv2d(3, 8, 3, {.stride = {2, 2}, .padding = {1, 1}, .groups = 1}, false).to_string(),
            "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=false)");
  EXPECT_EQ(nn::Conv2d(4, 8, {3, 1}, {.dilation = {2, 2}, .groups = 2}).to_string(),
            "Conv2d(4, 8, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 2), groups=2)");
  EXPECT_EQ(nn::AvgPool2d(3, 1, 1).to_string(), "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1).to_string(), "AdaptiveAvgPool2d(output_size=(1, 1))");
  EXPECT_EQ(nn::BatchNorm1d(8, 1e-3, 0.01, false, false).to_string(),
            "BatchNorm1d(8, eps=0.001, momentum=0.01, affine=false, track_running_stats=false)");
  EXPECT_EQ(nn::LeakyReLU(0.2).to_string(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::GELU().to_string(), "GELU()");
  EXPECT_EQ(nn::Flatten().to_string(), "Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(nn::L2Normalize(1).to_string(), "L2Normalize(dim=1, eps=1e-12)");
  EXPECT_EQ(nn::Embedding(10, 3).to_string(), "Embedding(10, 3)");
}

TEST(Module, ApplyVisitsChildrenFirst) {
  Net net;
  std::vector<std::string> order;
  net.apply([&](nn::Module& m) { order.push_back(m.name()); });
  EXPECT_EQ(order,
            (std::vector<std::string>{"Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Sequential", "Linear", "Net"}));
  // A typical use: re-initialise every Linear.
  net.apply([](nn::Module& m) {
    if (auto* fc = dynamic_cast<nn::Linear*>(&m)) nn::init::zeros_(fc->weight);
  });
  EXPECT_EQ(net.classifier->weight.to_vector<float>(), std::vector<float>(360, 0.f));
}

// ---- the linear op ------------------------------------------------------------------------------------------------

TEST(LinearOp, HandComputed) {
  // x [2, 3], W [2, 3], b [2]: y = x W^T + b
  const Tensor x = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  const Tensor w = tensor({1.0, 0.0, -1.0, 0.5, 0.5, 0.5}, {2, 3});
  const Tensor b = tensor({10.0, 20.0});
  EXPECT_EQ(linear(x, w, b).to_vector<double>(), (std::vector<double>{8.0, 23.0, 8.0, 27.5}));
  EXPECT_EQ(linear(x, w).to_vector<double>(), (std::vector<double>{-2.0, 3.0, -2.0, 7.5}));
  // A 1-d input gives a 1-d output; leading dims are kept.
  EXPECT_EQ(linear(tensor({1.0, 2.0, 3.0}), w, b).to_vector<double>(), (std::vector<double>{8.0, 23.0}));
  EXPECT_EQ(linear(random_tensor({2, 4, 3}, 1), w, b).sizes(), (Shape{2, 4, 2}));
  EXPECT_EQ(linear(zeros({0, 3}, {.dtype = kFloat64}), w, b).sizes(), (Shape{0, 2}));
  // float32 agrees with matmul + add.
  const Tensor xf = random_tensor({7, 33}, 2, 0, 0, kFloat32), wf = random_tensor({5, 33}, 3, 0, 0, kFloat32);
  const Tensor bf = random_tensor({5}, 4, 0, 0, kFloat32);
  const auto fused = linear(xf, wf, bf).to_vector<float>(), composed = (matmul(xf, wf.t()) + bf).to_vector<float>();
  for (std::size_t i = 0; i < fused.size(); ++i) EXPECT_NEAR(fused[i], composed[i], 1e-5);
}

TEST(LinearOp, Gradcheck) {
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  EXPECT_TRUE(gradcheck(f, {random_tensor({4, 3}, 1), random_tensor({5, 3}, 2), random_tensor({5}, 3)}));
  EXPECT_TRUE(gradcheck(f, {random_tensor({2, 3, 4}, 4), random_tensor({2, 4}, 5), random_tensor({2}, 6)}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                        {random_tensor({3}, 7), random_tensor({2, 3}, 8)}));
  // Only the inputs that need a gradient get one.
  Tensor x = random_tensor({4, 3}, 9), w = random_tensor({2, 3}, 10).set_requires_grad(true);
  linear(x, w).sum().backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(w.grad().sizes(), (Shape{2, 3}));
  EXPECT_EQ(linear(x, w).grad_fn()->name(), "LinearBackward");
}

TEST(LinearOp, Errors) {
  const Tensor w = zeros({2, 3});
  EXPECT_THROW_MSG(linear(zeros({4, 5}), w), "linear: input has 5 features (last dim of shape [4, 5]), weight [2, 3]");
  EXPECT_THROW_MSG(linear(zeros({4, 3}), zeros({3})), "linear: weight must be 2-d, got shape [3]");
  EXPECT_THROW_MSG(linear(zeros({4, 3}), w, zeros({3})), "linear: bias must have shape [2], got [3]");
  EXPECT_THROW_MSG(linear(zeros({4, 3}, {.dtype = kFloat64}), w), "linear: dtype mismatch");
  EXPECT_THROW_MSG(linear(zeros({4, 3}, {.dtype = kInt64}), w), "linear: expected a floating tensor");
  EXPECT_THROW_MSG(linear(scalar_tensor(1.0), w), "linear: input must have at least 1 dim");
}

// ---- layers: shapes, values, gradients ------------------------------------------------------------------------------

TEST(Linear, ShapesValuesAndGradcheck) {
  nn::Linear fc(4, 3);
  EXPECT_EQ(fc.weight.sizes(), (Shape{3, 4}));
  EXPECT_EQ(fc.bias.sizes(), (Shape{3}));
  EXPECT_EQ(fc(zeros({5, 4})).sizes(), (Shape{5, 3}));
  EXPECT_EQ(fc(zeros({2, 5, 4})).sizes(), (Shape{2, 5, 3}));
  // A zero input gives the bias in every row.
  const auto zero_in = fc(zeros({5, 4})).to_vector<float>(), b = fc.bias.to_vector<float>();
  for (std::size_t i = 0; i < zero_in.size(); ++i) EXPECT_EQ(zero_in[i], b[i % 3]);
  fc.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(fc, random_tensor({5, 4}, 1)));
  EXPECT_TRUE(module_gradcheck(fc, random_tensor({2, 3, 4}, 2)));
  nn::Linear no_bias(4, 2, false);
  EXPECT_FALSE(no_bias.bias.defined());
  EXPECT_EQ(no_bias.parameters().size(), 1u);
  no_bias.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(no_bias, random_tensor({3, 4}, 3)));
}

TEST(Linear, Errors) {
  nn::Linear fc(784, 256);
  EXPECT_THROW_MSG(fc(zeros({32, 785})), "Linear: expected input with 784 features (last dim), got shape [32, 785]");
  EXPECT_THROW_MSG(fc(scalar_tensor(1.0)), "Linear: expected input with 784 features (last dim), got shape []");
  EXPECT_THROW_MSG(fc(zeros({2, 784}, {.dtype = kFloat64})),
                   "Linear: input is float64 but the parameters are float32 (convert the input, or the module with "
                   ".to(float64))");
  EXPECT_THROW_MSG(nn::Linear(-1, 3), "Linear: in_features and out_features must be non-negative");
}

TEST(Conv2d, ShapesAndGradcheck) {
  nn::Conv2d conv(2, 3, 3, {.padding = {1, 1}});
  EXPECT_EQ(conv.weight.sizes(), (Shape{3, 2, 3, 3}));
  EXPECT_EQ(conv(zeros({4, 2, 8, 8})).sizes(), (Shape{4, 3, 8, 8}));
  nn::Conv2d strided(2, 4, {3, 2}, {.stride = {2, 1}, .groups = 2});
  EXPECT_EQ(strided.weight.sizes(), (Shape{4, 1, 3, 2}));
  EXPECT_EQ(strided(zeros({1, 2, 7, 5})).sizes(), (Shape{1, 4, 3, 4}));
  conv.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(conv, random_tensor({2, 2, 5, 4}, 1)));
  strided.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(strided, random_tensor({2, 2, 5, 4}, 2)));
  nn::Conv2d no_bias(1, 2, 2, {}, false);
  no_bias.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(no_bias, random_tensor({1, 1, 3, 3}, 3)));
}

TEST(Conv2d, Errors) {
  nn::Conv2d conv(3, 8, 3);
  EXPECT_THROW_MSG(conv(zeros({1, 4, 8, 8})), "Conv2d: expected input of shape [N, 3, H, W], got [1, 4, 8, 8]");
  EXPECT_THROW_MSG(conv(zeros({3, 8, 8})), "Conv2d: expected input of shape [N, 3, H, W], got [3, 8, 8]");
  EXPECT_THROW_MSG(nn::Conv2d(3, 8, 3, {.groups = 2}), "Conv2d: in_channels (3) and out_channels (8) must both be");
}

TEST(Pooling, ShapesValuesAndGradcheck) {
  // 1..16 in a 4x4 image.
  const Tensor x = arange(1, 17, 1, {.dtype = kFloat64}).reshape({1, 1, 4, 4});
  EXPECT_EQ(nn::MaxPool2d(2)(x).to_vector<double>(), (std::vector<double>{6, 8, 14, 16}));
  EXPECT_EQ(nn::AvgPool2d(2)(x).to_vector<double>(), (std::vector<double>{3.5, 5.5, 11.5, 13.5}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1)(x).to_vector<double>(), (std::vector<double>{8.5}));
  EXPECT_EQ(nn::MaxPool2d(3, 1, 1)(zeros({2, 3, 5, 5})).sizes(), (Shape{2, 3, 5, 5}));
  EXPECT_EQ(nn::AvgPool2d({.kernel = {2, 3}, .stride = {1, 3}})(zeros({2, 3, 5, 6})).sizes(), (Shape{2, 3, 4, 2}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d({2, 3})(zeros({2, 3, 5, 7})).sizes(), (Shape{2, 3, 2, 3}));
  nn::MaxPool2d maxpool(2);
  nn::AvgPool2d avgpool(3, 2, 1);
  nn::AdaptiveAvgPool2d adaptive({2, 3});
  const Tensor in = random_tensor({2, 2, 5, 7}, 1);  // distinct values: no ties among the maxima
  EXPECT_TRUE(module_gradcheck(maxpool, in));
  EXPECT_TRUE(module_gradcheck(avgpool, in));
  EXPECT_TRUE(module_gradcheck(adaptive, in));
  EXPECT_THROW_MSG(maxpool(zeros({4, 4})), "MaxPool2d: expected input of shape [N, C, H, W], got [4, 4]");
}

TEST(BatchNorm, TrainingNormalisesWithBatchStatsAndUpdatesRunningStats) {
  nn::BatchNorm1d bn(2);
  bn.to(kFloat64);
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: 10 each (var 0).
  const Tensor x = tensor({1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 4.0, 10.0}, {4, 2});
  const auto y = bn(x).to_vector<double>();
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(y[2 * i], (i + 1 - 2.5) / std::sqrt(1.25 + 1e-5), 1e-12);
    EXPECT_NEAR(y[2 * i + 1], 0.0, 1e-12);
  }
  EXPECT_EQ(bn.num_batches_tracked.item<std::int64_t>(), 1);
  const auto rm = bn.running_mean.to_vector<double>(), rv = bn.running_var.to_vector<double>();
  EXPECT_NEAR(rm[0], 0.1 * 2.5, 1e-15);
  EXPECT_NEAR(rm[1], 0.1 * 10.0, 1e-15);
  EXPECT_NEAR(rv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-15);
  EXPECT_NEAR(rv[1], 0.9, 1e-15);

  // Evaluation mode: the running statistics, and no update.
  bn.eval();
  const auto e = bn(x).to_vector<double>();
  EXPECT_NEAR(e[0], (1.0 - rm[0]) / std::sqrt(rv[0] + 1e-5), 1e-12);
  EXPECT_NEAR(e[1], (10.0 - rm[1]) / std::sqrt(rv[1] + 1e-5), 1e-12);
  EXPECT_NE(e[0], y[0]);  // train and eval differ
  EXPECT_EQ(bn.num_batches_tracked.item<std::int64_t>(), 1);
  EXPECT_EQ(bn.running_mean.to_vector<double>(), rm);

  // Without running statistics both modes use the batch's.
  nn::BatchNorm1d batch_only(2, 1e-5, 0.1, true, false);
  batch_only.to(kFloat64).eval();
  EXPECT_FALSE(batch_only.running_mean.defined());
  EXPECT_TRUE(batch_only.buffers().empty());
  const auto b = batch_only(x).to_vector<double>();
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i], y[i], 1e-12);
}

TEST(BatchNorm, ShapesAffineAndGradcheck) {
  nn::BatchNorm2d bn(3);
  EXPECT_EQ(bn(random_tensor({2, 3, 4, 5}, 1, 0, 0, kFloat32)).sizes(), (Shape{2, 3, 4, 5}));
  nn::BatchNorm1d bn1(3);
  EXPECT_EQ(bn1(random_tensor({4, 3}, 2, 0, 0, kFloat32)).sizes(), (Shape{4, 3}));
  EXPECT_EQ(bn1(random_tensor({4, 3, 6}, 3, 0, 0, kFloat32)).sizes(), (Shape{4, 3, 6}));
  EXPECT_EQ(nn::BatchNorm2d(3, 1e-5, 0.1, /*affine=*/false).parameters().size(), 0u);

  // Gradients through both modes, with non-trivial affine parameters.
  bn.to(kFloat64);
  nn::init::uniform_(bn.weight, 0.5, 1.5);
  nn::init::uniform_(bn.bias, -1.0, 1.0);
  EXPECT_TRUE(module_gradcheck(bn, random_tensor({2, 3, 3, 2}, 4)));
  bn.eval();
  EXPECT_TRUE(module_gradcheck(bn, random_tensor({2, 3, 3, 2}, 5)));
  bn1.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(bn1, random_tensor({5, 3}, 6)));
  EXPECT_TRUE(module_gradcheck(bn1, random_tensor({2, 3, 4}, 7)));
}

TEST(BatchNorm, Errors) {
  nn::BatchNorm2d bn(16);
  EXPECT_THROW_MSG(bn(zeros({2, 8, 4, 4})),
                   "BatchNorm2d: expected 16 channels (dim 1), got input of shape [2, 8, 4, 4]");
  EXPECT_THROW_MSG(bn(zeros({2, 16})), "BatchNorm2d: expected input of shape [N, C, H, W], got [2, 16]");
  EXPECT_THROW_MSG(nn::BatchNorm1d(4)(zeros({2, 4, 1, 1})), "BatchNorm1d: expected input of shape [N, C] or [N, C, L]");
  EXPECT_THROW_MSG(nn::BatchNorm1d(4)(zeros({1, 4})), "expected more than 1 value per channel");
  EXPECT_THROW_MSG(bn(zeros({2, 16, 4, 4}, {.dtype = kFloat64})), "BatchNorm2d: input is float64 but the module's");
}

TEST(Dropout, EvalIsIdentityTrainDropsAndScales) {
  nn::Dropout drop(0.25);
  const Tensor x = ones({100, 100});
  drop.eval();
  EXPECT_TRUE(drop(x).is_same(x));
  drop.train();
  const auto y = drop(x).to_vector<float>();
  std::int64_t zeros_count = 0;
  for (float v : y) {
    if (v == 0.f)
      ++zeros_count;
    else
      EXPECT_FLOAT_EQ(v, 1.f / 0.75f);
  }
  // 10^4 Bernoulli(0.25) draws: standard deviation 43; allow 6 of them.
  EXPECT_NEAR(static_cast<double>(zeros_count), 2500.0, 260.0);
  EXPECT_THROW_MSG(nn::Dropout(1.5), "Dropout: p must lie in [0, 1], got 1.5");
}

TEST(Dropout, Gradcheck) {
  // The same mask on every evaluation: the generator is re-seeded before each forward.
  nn::Dropout drop(0.4);
  auto f = [&](const std::vector<Tensor>& in) {
    manual_seed(11);
    return drop(in[0]);
  };
  EXPECT_TRUE(gradcheck(f, {random_tensor({6, 7}, 1)}));
}

TEST(Activations, ValuesAndGradcheck) {
  const Tensor x = tensor({-2.0, -0.5, 0.5, 3.0});
  EXPECT_EQ(nn::ReLU()(x).to_vector<double>(), (std::vector<double>{0.0, 0.0, 0.5, 3.0}));
  EXPECT_EQ(nn::LeakyReLU(0.1)(x).to_vector<double>(), (std::vector<double>{-0.2, -0.05, 0.5, 3.0}));
  EXPECT_NEAR(nn::GELU()(x).to_vector<double>()[3], 3.0 * 0.5 * (1.0 + std::erf(3.0 / std::sqrt(2.0))), 1e-15);
  EXPECT_NEAR(nn::Sigmoid()(x).to_vector<double>()[0], 1.0 / (1.0 + std::exp(2.0)), 1e-15);
  EXPECT_NEAR(nn::Tanh()(x).to_vector<double>()[1], std::tanh(-0.5), 1e-15);
  // Inputs away from the kinks of ReLU and leaky ReLU at 0.
  Tensor in = random_tensor({3, 4}, 1);
  in = where(in.abs().lt(0.05), in + 0.1, in);
  nn::ReLU relu_m;
  nn::LeakyReLU leaky(0.2);
  nn::GELU gelu_m;
  nn::Sigmoid sigmoid_m;
  nn::Tanh tanh_m;
  for (nn::Module* m : std::vector<nn::Module*>{&relu_m, &leaky, &gelu_m, &sigmoid_m, &tanh_m})
    EXPECT_TRUE(module_gradcheck(*m, in)) << m->name();
}

TEST(Flatten, ShapesAndGradcheck) {
  EXPECT_EQ(nn::Flatten()(zeros({2, 3, 4, 5})).sizes(), (Shape{2, 60}));
  EXPECT_EQ(nn::Flatten(0)(zeros({2, 3, 4})).sizes(), (Shape{24}));
  EXPECT_EQ(nn::Flatten(1, 2)(zeros({2, 3, 4, 5})).sizes(), (Shape{2, 12, 5}));
  nn::Flatten flat;
  EXPECT_TRUE(module_gradcheck(flat, random_tensor({2, 3, 2}, 1)));
}

TEST(L2Normalize, UnitNormsAndGradcheck) {
  nn::L2Normalize norm;
  const auto y = norm(tensor({3.0, 4.0, 0.0, 0.0, 6.0, 8.0}, {2, 3})).to_vector<double>();
  EXPECT_NEAR(y[0], 0.6, 1e-15);
  EXPECT_NEAR(y[1], 0.8, 1e-15);
  EXPECT_NEAR(y[4], 0.6, 1e-15);
  nn::L2Normalize along0(0);
  EXPECT_TRUE(module_gradcheck(norm, random_tensor({3, 4}, 1)));
  EXPECT_TRUE(module_gradcheck(along0, random_tensor({3, 4}, 2)));
}

TEST(Embedding, LooksUpRowsAndGradcheck) {
  nn::Embedding emb(5, 3);
  EXPECT_EQ(emb.weight.sizes(), (Shape{5, 3}));
  const Tensor idx = tensor(std::vector<std::int64_t>{4, 0, 4, 2, 1, 3}, {2, 3});
  const Tensor y = emb(idx);
  EXPECT_EQ(y.sizes(), (Shape{2, 3, 3}));
  const auto w = emb.weight.to_vector<float>(), v = y.to_vector<float>();
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(v[j], w[4 * 3 + j]);
    EXPECT_EQ(v[3 + j], w[0 * 3 + j]);
  }
  // Gradient: rows used twice receive two contributions, unused rows none.
  emb(tensor(std::vector<std::int64_t>{4, 4, 1})).sum().backward();
  EXPECT_EQ(emb.weight.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2}));
  emb.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(emb, idx, /*check_input=*/false));
  EXPECT_THROW_MSG(emb(tensor({1.0})), "Embedding: indices must be int64, got float64");
  EXPECT_THROW_MSG(emb(tensor({std::int64_t{5}})), "index_select");
}

TEST(Sequential, WholeModelGradcheckAndTrainingStep) {
  // An MLP and the small CNN, every parameter checked at once.
  manual_seed(5);
  auto mlp = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 5), std::make_shared<nn::Tanh>(),
                                              std::make_shared<nn::Linear>(5, 4), std::make_shared<nn::GELU>(),
                                              std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::L2Normalize>());
  mlp->to(kFloat64);
  EXPECT_TRUE(module_gradcheck(*mlp, random_tensor({4, 6}, 1)));
  Net net;
  net.to(kFloat64);
  EXPECT_TRUE(module_gradcheck(net, random_tensor({3, 1, 8, 8}, 2)));
  // One step of gradient descent lowers a loss.
  auto loss = [&] { return ((*mlp)(random_tensor({8, 6}, 3)) - random_tensor({8, 3}, 4)).pow(2.0).mean(); };
  const double before = loss().item<double>();
  mlp->zero_grad();
  loss().backward();
  {
    NoGradGuard no_grad;
    for (Tensor& p : mlp->parameters()) p.sub_(p.grad(), 0.1);
  }
  EXPECT_LT(loss().item<double>(), before);
}

}  // namespace
}  // namespace trident
