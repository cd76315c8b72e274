// mnist_classify: a convolutional network that learns to read handwritten digits, trained with SGD in trident.
//
// MNIST is 60,000 training and 10,000 test images of the digits 0-9, 28x28 grey pixels each. A classifier maps an
// image to 10 numbers (logits), one per digit; softmax turns them into probabilities, and the prediction is the
// largest. Training a classifier is the quickstart's loop at a larger scale:
//
//   1. data:     a DataLoader hands out shuffled batches of 128 images [128, 1, 28, 28] with their labels [128].
//                Each batch is normalised with MNIST's pixel mean and standard deviation (0.1307, 0.3081), so the
//                inputs are centred near 0 with unit spread -- the scale that the layers' default initialisation
//                assumes. The loader builds the next batches on a background thread while this one trains.
//   2. forward:  logits = model(images); loss = cross_entropy(logits, labels), the mean over the batch of
//                -log softmax(logits)[label]: small when the right digit gets most of the probability.
//   3. backward: loss.backward() fills every parameter's .grad() (reverse-mode autograd through conv, pooling,
//                linear layers and the loss).
//   4. update:   optimizer.step() moves each parameter against its gradient. SGD with momentum 0.9 keeps a running
//                velocity per parameter, v <- 0.9 v + g, and steps p <- p - lr v: consistent gradient directions add
//                up, noisy ones cancel. optimizer.zero_grad() then clears the gradients, because backward adds into
//                them.
//   5. schedule: the learning rate rises linearly from lr/10 to --lr over the first --warmup steps (100), then
//                follows half a cosine down to 0 over the rest of the run, step by step (LinearWarmup +
//                CosineAnnealingLR). The warm-up keeps the first, large and erratic gradients of a fresh network
//                from throwing it far off; large steps then move fast, and small steps at the end settle the weights
//                into a minimum instead of jittering around it. Together they are worth a few tenths of a percent of
//                accuracy after one epoch. --schedule constant keeps --lr throughout.
//
// After each pass over the training set (an epoch) the model is evaluated on the test set, which it never trains on:
// in evaluation mode, without recording a graph (NoGradGuard), counting how often argmax(logits) is the label. The
// CNN (PyTorch's examples/mnist network, without dropout) reaches about 98.5-99% after one epoch; the MLP about 97%.
//
// Two models (--model):
//   cnn  conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, max-pool 2, flatten, linear 9216->128, ReLU, linear 128->10
//   mlp  flatten, linear 784->256, ReLU, linear 256->256, ReLU, linear 256->10
//
// Usage: mnist_classify [--model cnn|mlp] [--epochs N] [--batch B] [--lr LR] [--optimizer sgd|adam] [--threads T]
//                       [--schedule cosine|constant] [--warmup N] [--seed S] [--data DIR] [--save PATH] [--resume PATH]
//                       [--max-steps N] [--check]
//   --data DIR     where the MNIST IDX files are (default: $TRIDENT_DATA/mnist or ~/.cache/trident/mnist; fetch
//                  them with `bash scripts/fetch-mnist.sh`)
//   --save PATH    write a checkpoint (model, optimizer state, epoch) after every epoch
//   --resume PATH  continue from such a checkpoint: the next epoch after the one it saved, for --epochs more epochs
//                  (the cosine schedule then spans the checkpoint's epochs and these)
//   --max-steps N  stop after N training steps in all (smoke tests), then evaluate
//   --check        exit with status 1 unless the loss fell: the mean of the last 5 steps' losses must be below the
//                  mean of the first 5 (the test suite's smoke test)
#include <trident/trident.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "../common/flags.h"
#include "../common/progress.h"
#include "models.h"
#include "trident/losses/classification.h"
#include "trident/optim/adam.h"
#include "trident/optim/checkpoint.h"
#include "trident/optim/scheduler.h"
#include "trident/optim/sgd.h"

using namespace trident;
using examples::Progress;

namespace {

struct Args {
  std::string model = "cnn";
  int epochs = 1;
  std::int64_t batch = 128;
  double lr = 0.05;
  std::string optimizer = "sgd";
  std::string schedule = "cosine";
  std::int64_t warmup = 100;
  int threads = 2;
  std::uint64_t seed = 1;
  std::optional<std::string> data;
  std::string save;
  std::string resume;
  std::int64_t max_steps = -1;  // -1: no limit
  bool check = false;
};

Args parse_args(int argc, char** argv) {
  Args args;
  examples::Flags flags("mnist_classify", "train a digit classifier on MNIST");
  flags.add("--model", args.model, "cnn|mlp")
      .add("--epochs", args.epochs, "N")
      .add("--batch", args.batch, "B")
      .add("--lr", args.lr, "LR")
      .add("--optimizer", args.optimizer, "sgd|adam")
      .add("--schedule", args.schedule, "cosine|constant")
      .add("--warmup", args.warmup, "STEPS")
      .add("--threads", args.threads, "T")
      .add("--seed", args.seed, "S")
      .add("--data", args.data, "DIR")
      .add("--save", args.save, "PATH")
      .add("--resume", args.resume, "PATH")
      .add("--max-steps", args.max_steps, "N")
      .add("--check", args.check);
  flags.parse(argc, argv);
  if (args.model != "cnn" && args.model != "mlp") flags.fail("--model must be cnn or mlp");
  if (args.optimizer != "sgd" && args.optimizer != "adam") flags.fail("--optimizer must be sgd or adam");
  if (args.schedule != "cosine" && args.schedule != "constant") flags.fail("--schedule must be cosine or constant");
  if (args.warmup < 0) flags.fail("--warmup must be >= 0");
  if (args.epochs < 1 || args.batch < 1 || args.threads < 1 || !(args.lr > 0)) {
    flags.fail("--epochs, --batch, --threads and --lr must be positive");
  }
  return args;
}

// Everything a checkpoint holds of the model: its parameters and buffers, by dotted name.
NamedTensors model_tensors(const nn::Module& model) {
  NamedTensors tensors = model.named_parameters();
  for (auto& named : model.named_buffers()) tensors.push_back(named);
  return tensors;
}

// The fraction of the test set whose most probable class is the label.
double evaluate(nn::Module& model, data::DataLoader& test_loader) {
  model.eval();
  NoGradGuard no_grad;
  std::int64_t correct = 0, seen = 0;
  for (auto& batch : test_loader) {
    const Tensor predicted = model(batch.data).argmax(1);
    correct += predicted.eq(batch.labels).to(kInt64).sum().item<std::int64_t>();
    seen += batch.labels.size(0);
  }
  model.train();
  return seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
}

int run(const Args& args) {
  set_num_threads(args.threads);
  manual_seed(args.seed);  // the initial weights

  const std::string dir = data::mnist_dir(args.data);
  if (!data::mnist_available(dir)) {
    std::fprintf(stderr,
                 "mnist_classify: MNIST not found in %s\n"
                 "  fetch it with:  bash scripts/fetch-mnist.sh%s%s\n"
                 "  or point --data (or $TRIDENT_DATA) at a directory that holds train-images-idx3-ubyte,\n"
                 "  train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (raw or .gz)\n",
                 dir.c_str(), args.data ? " " : "", args.data ? args.data->c_str() : "");
    return 1;
  }
  auto train_set = std::make_shared<data::MNIST>(dir, /*train=*/true);
  auto test_set = std::make_shared<data::MNIST>(dir, /*train=*/false);
  const auto normalize = std::make_shared<data::Normalize>(std::vector{0.1307}, std::vector{0.3081});
  data::DataLoader train_loader(train_set,
                                {.batch_size = args.batch, .shuffle = true, .seed = args.seed, .transform = normalize});
  data::DataLoader test_loader(test_set, {.batch_size = 1000, .transform = normalize});

  auto model = mnist_models::make_model(args.model);
  std::unique_ptr<optim::Optimizer> optimizer;
  if (args.optimizer == "sgd") {
    optimizer = std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions{.lr = args.lr, .momentum = 0.9});
  } else {
    optimizer = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = args.lr});
  }
  std::printf("%s: %lld parameters, %s lr %g (%s), batch %lld, %d threads; %lld train / %lld test images from %s\n",
              args.model.c_str(), static_cast<long long>(model->num_parameters()), args.optimizer.c_str(), args.lr,
              args.schedule.c_str(), static_cast<long long>(args.batch), args.threads,
              static_cast<long long>(train_set->size()), static_cast<long long>(test_set->size()), dir.c_str());

  // The scheduler records args.lr as its base lr now, before a checkpoint's (decayed) lr is loaded.
  std::unique_ptr<optim::LRScheduler> scheduler;
  int first_epoch = 1;
  if (!args.resume.empty()) {
    const auto metadata = optim::load_checkpoint(args.resume, model_tensors(*model), optimizer.get());
    const auto it = metadata.find("epoch");
    TRIDENT_CHECK(it != metadata.end(), "mnist_classify: checkpoint {} has no 'epoch' entry", args.resume);
    first_epoch = std::stoi(it->second) + 1;
    std::printf("resumed from %s after epoch %d\n", args.resume.c_str(), first_epoch - 1);
  }
  if (args.schedule == "cosine") {
    const std::int64_t per_epoch = train_loader.size();
    std::int64_t total_steps = (first_epoch - 1 + args.epochs) * per_epoch;
    if (args.max_steps >= 0) total_steps = std::min(total_steps, (first_epoch - 1) * per_epoch + args.max_steps);
    for (auto& group : optimizer->param_groups()) group.set_lr(args.lr);  // the base lr, also after a resume
    const std::int64_t warmup = std::min(args.warmup, total_steps / 2);
    auto cosine =
        std::make_unique<optim::CosineAnnealingLR>(*optimizer, std::max<std::int64_t>(total_steps - warmup, 1));
    if (warmup > 0) {
      scheduler = std::make_unique<optim::LinearWarmup>(*optimizer, warmup, /*start_factor=*/0.1, std::move(cosine));
    } else {
      scheduler = std::move(cosine);
    }
    scheduler->set_last_epoch((first_epoch - 1) * per_epoch);
  }

  std::vector<double> losses;  // every step's loss, for --check
  std::int64_t steps = 0;
  double accuracy = 0;
  for (int epoch = first_epoch; epoch < first_epoch + args.epochs; ++epoch) {
    train_loader.set_epoch(epoch - 1);  // the shuffle of epoch e depends only on (seed, e), so a resume continues it
    const std::int64_t total =
        args.max_steps >= 0 ? std::min(train_loader.size(), args.max_steps - steps) : train_loader.size();
    Progress progress(epoch, total, args.batch);
    std::int64_t done = 0;
    for (auto& batch : train_loader) {
      if (done == total) break;
      const Tensor logits = (*model)(batch.data);
      const Tensor loss = cross_entropy(logits, batch.labels);
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      if (scheduler) scheduler->step();
      losses.push_back(loss.item<float>());
      ++done;
      ++steps;
      progress.update(done, losses.back());
    }
    progress.finish();
    accuracy = evaluate(*model, test_loader);
    std::printf("epoch %d: %.1f s, %.0f img/s, test accuracy %.2f%%\n", epoch, progress.elapsed(),
                static_cast<double>(done * args.batch) / progress.elapsed(), 100 * accuracy);
    if (!args.save.empty()) {
      optim::save_checkpoint(args.save, model_tensors(*model), optimizer.get(),
                             {{"epoch", std::to_string(epoch)}, {"model", args.model}});
      std::printf("saved %s\n", args.save.c_str());
    }
    if (args.max_steps >= 0 && steps >= args.max_steps) break;
  }
  std::printf("test accuracy: %.2f%%\n", 100 * accuracy);

  if (args.check) {
    const std::size_t k = std::min<std::size_t>(5, losses.size() / 2);
    if (k == 0) {
      std::fprintf(stderr, "mnist_classify --check: too few steps to compare losses\n");
      return 1;
    }
    const double first = std::accumulate(losses.begin(), losses.begin() + k, 0.0) / k;
    const double last = std::accumulate(losses.end() - k, losses.end(), 0.0) / k;
    std::printf("check: mean loss of the first %zu steps %.4f, of the last %zu steps %.4f\n", k, first, k, last);
    if (!(last < first)) {
      std::fprintf(stderr, "mnist_classify --check: the loss did not fall\n");
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_classify: %s\n", e.what());
    return 1;
  }
}
