// Training on real MNIST: the MLP of examples/mnist_classify, a few hundred SGD steps, must classify more than 90% of
// the test set -- the whole stack (IDX reading, DataLoader, Normalize, Linear/ReLU, cross_entropy, autograd, SGD with
// momentum, argmax evaluation) working together on real data. Skipped when MNIST is not in the cache directory
// (data::mnist_dir(): $TRIDENT_DATA/mnist or ~/.cache/trident/mnist; `bash scripts/fetch-mnist.sh` fetches it).
// The synthetic-data smoke test of the example binary itself is in examples/mnist_classify/CMakeLists.txt.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "trident/losses/classification.h"
#include "trident/optim/sgd.h"
#include "trident/trident.h"

using namespace trident;

namespace {

std::shared_ptr<nn::Sequential> make_mlp() {  // examples/mnist_classify/models.h's mlp
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 256),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 10));
}

TEST(MnistSmoke, MlpTrainsToNinetyPercent) {
  const std::string dir = data::mnist_dir();
  if (!data::mnist_available(dir)) {
    GTEST_SKIP() << "MNIST not found in " << dir << "; run bash scripts/fetch-mnist.sh to enable this test";
  }
  manual_seed(3);
  const auto normalize = std::make_shared<data::Normalize>(std::vector{0.1307}, std::vector{0.3081});
  data::DataLoader train(std::make_shared<data::MNIST>(dir, true),
                         {.batch_size = 128, .shuffle = true, .seed = 3, .transform = normalize});
  data::DataLoader test(std::make_shared<data::MNIST>(dir, false), {.batch_size = 1000, .transform = normalize});

  auto model = make_mlp();
  optim::SGD optimizer(model->parameters(), {.lr = 0.05, .momentum = 0.9});
  constexpr int kSteps = 300;
  int step = 0;
  float first_loss = 0, last_loss = 0;
  for (auto& batch : train) {
    const Tensor loss = cross_entropy((*model)(batch.data), batch.labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    last_loss = loss.item<float>();
    ASSERT_TRUE(std::isfinite(last_loss)) << "step " << step;
    if (step == 0) first_loss = last_loss;
    if (++step == kSteps) break;
  }
  ASSERT_EQ(step, kSteps);
  EXPECT_LT(last_loss, first_loss);

  model->eval();
  NoGradGuard no_grad;
  std::int64_t correct = 0, seen = 0;
  for (auto& batch : test) {
    correct += (*model)(batch.data).argmax(1).eq(batch.labels).to(kInt64).sum().item<std::int64_t>();
    seen += batch.labels.size(0);
  }
  ASSERT_EQ(seen, 10000);
  const double accuracy = static_cast<double>(correct) / static_cast<double>(seen);
  RecordProperty("accuracy", std::to_string(accuracy));
  EXPECT_GT(accuracy, 0.90) << "test accuracy after " << kSteps << " steps";
}

}  // namespace
