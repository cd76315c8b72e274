// The two MNIST classifiers of examples/mnist_classify, shared with bench/train_throughput.cpp and the tests so that
// the example, the benchmark and PyTorch's side (bench/torch_mnist_train.py) train exactly the same networks.
#pragma once

#include <memory>
#include <string>

#include "trident/core/error.h"
#include "trident/nn/nn.h"

namespace mnist_models {

// PyTorch's examples/mnist CNN without its dropout layers:
//   [N, 1, 28, 28] -conv 3x3-> [N, 32, 26, 26] -ReLU- -conv 3x3-> [N, 64, 24, 24] -ReLU- -max-pool 2-> [N, 64, 12, 12]
//   -flatten-> [N, 9216] -linear-> [N, 128] -ReLU- -linear-> [N, 10] (logits)
inline std::shared_ptr<trident::nn::Sequential> make_cnn() {
  using namespace trident::nn;
  return std::make_shared<Sequential>(
      std::make_shared<Conv2d>(1, 32, 3), std::make_shared<ReLU>(), std::make_shared<Conv2d>(32, 64, 3),
      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(9216, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, 10));
}

// A multi-layer perceptron: [N, 1, 28, 28] -flatten-> [N, 784] -> 256 -> 256 -> 10, ReLU between.
inline std::shared_ptr<trident::nn::Sequential> make_mlp() {
  using namespace trident::nn;
  return std::make_shared<Sequential>(std::make_shared<Flatten>(), std::make_shared<Linear>(784, 256),
                                      std::make_shared<ReLU>(), std::make_shared<Linear>(256, 256),
                                      std::make_shared<ReLU>(), std::make_shared<Linear>(256, 10));
}

inline std::shared_ptr<trident::nn::Sequential> make_model(const std::string& name) {
  if (name == "cnn") return make_cnn();
  if (name == "mlp") return make_mlp();
  TRIDENT_CHECK(false, "unknown model '{}': expected cnn or mlp", name);
  return nullptr;
}

}  // namespace mnist_models
