// train_throughput: training steps per second of the mnist_classify models in trident, for bench/train_vs_torch.sh
// (PyTorch's side: bench/torch_mnist_train.py, the same models, batch, optimizer and step counts).
//
// Each step is a whole training step -- forward, cross-entropy, zero_grad, backward, SGD (momentum 0.9) step -- on
// random data of MNIST's shape made before timing: 8 batches of [B, 1, 28, 28] N(0, 1) images used in turn, and a
// fresh set of labels (uniform in 0..9) for every step. No file is read and no data loader runs, so the time is the
// framework's alone; and since random labels cannot be learnt, the loss stays near log(10) as in early training
// (one batch repeated would be memorised within a few dozen steps, its gradients shrinking towards denormals). `warmup`
// steps first (oneDNN primitive creation, allocator warm-up), then `steps` timed steps. Prints one line:
//   trident model=cnn batch=128 steps=100 seconds=... images_per_s=... peak_rss_mb=...
// peak_rss_mb is getrusage's ru_maxrss (the process's peak resident memory, KiB on Linux) in MiB.
//
// Usage: train_throughput [--model cnn|mlp] [--steps N] [--warmup N] [--batch B] [--threads T]
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "models.h"
#include "trident/losses/classification.h"
#include "trident/optim/sgd.h"
#include "trident/trident.h"

using namespace trident;

int main(int argc, char** argv) {
  std::string model_name = "cnn";
  std::int64_t steps = 100, warmup = 10, batch = 128;
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model")
      model_name = value;
    else if (flag == "--steps")
      steps = std::stoll(value);
    else if (flag == "--warmup")
      warmup = std::stoll(value);
    else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--threads")
      threads = std::stoi(value);
    else {
      std::fprintf(stderr, "train_throughput: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    set_num_threads(threads);
    manual_seed(0);
    auto model = mnist_models::make_model(model_name);
    optim::SGD optimizer(model->parameters(), {.lr = 0.05, .momentum = 0.9});
    constexpr std::int64_t kImageBatches = 8;
    std::vector<Tensor> images, labels;
    for (std::int64_t i = 0; i < kImageBatches; ++i) images.push_back(randn({batch, 1, 28, 28}));
    for (std::int64_t i = 0; i < warmup + steps; ++i) labels.push_back(randint(0, 10, {batch}));

    std::int64_t step = 0;
    auto train_step = [&] {
      const Tensor loss = cross_entropy((*model)(images[step % kImageBatches]), labels[step]);
      ++step;
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      return loss;
    };
    for (std::int64_t i = 0; i < warmup; ++i) train_step();
    const auto start = std::chrono::steady_clock::now();
    float last_loss = 0;
    for (std::int64_t i = 0; i < steps; ++i) last_loss = train_step().item<float>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("trident model=%s batch=%lld steps=%lld seconds=%.3f images_per_s=%.1f peak_rss_mb=%.1f loss=%.4f\n",
                model_name.c_str(), static_cast<long long>(batch), static_cast<long long>(steps), seconds,
                static_cast<double>(steps * batch) / seconds, static_cast<double>(usage.ru_maxrss) / 1024.0, last_loss);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
