// mnist_embed: learn an embedding of handwritten digits in which images of the same digit lie close together --
// metric learning, the heart of trident -- and measure it as a search engine.
//
// A classifier (examples/mnist_classify) learns 10 fixed outputs, one per digit. A metric-learning model instead maps
// each image to a point on the unit sphere (here 64 numbers, L2-normalised) and is trained only on distances: two
// images of the same digit should be close, two images of different digits far apart. Nothing in the model knows there
// are 10 classes, which is why the same recipe verifies faces of people it has never seen (examples/face_verify).
//
//   1. batches:  a PK sampler draws P classes and K images of each (--P 32 --K 4 by default, 128 images), so every
//                image in the batch has positives (same digit) and negatives (other digits) to be compared with.
//                MNIST has only 10 classes: when --P exceeds the classes there are, P becomes their number and K grows
//                to keep the batch near P x K (10 x 13 = 130 for the defaults), and the program says so.
//   2. forward:  embeddings = model(images): the mnist_classify CNN trunk (two 3x3 convolutions, max-pool, a 128-unit
//                layer) ending in a linear layer to --dim numbers and an L2 normalisation.
//   3. loss:     --loss picks how distances become a loss (losses/; docs/metric-learning.md explains each):
//                  triplet            [d(a,p) - d(a,n) + margin]_+ over mined triplets (--mining, default batch_hard:
//                                     per anchor its farthest positive and nearest negative)
//                  contrastive        pulls every positive pair together, pushes negatives beyond a margin
//                  quadruplet         a triplet term plus a second push on negative pairs without the anchor
//                  proxy-nca          one learnable proxy per class; softmax over distances to the proxies
//                  proxy-anchor       proxies as anchors; log-sum-exp over cosine similarities
//                  multi-similarity   weighs pairs by how hard they are relative to each other
//                Each loss reports stats(): how many tuples it mined and what fraction still had a non-zero loss --
//                watch that fraction fall as the embedding gets better (train_log.csv, active.svg).
//   4. backward and update: loss.backward(); Adam (lr 1e-3) updates the network (and the proxies, at --proxy-lr-mult
//                times the rate, as the Proxy-Anchor paper does).
//
// Evaluation after each epoch is retrieval: every test image is a query, every training image a reference; the
// references nearest to the query should show the same digit.
//   Precision@1  the nearest reference has the query's label
//   R-Precision  with R references of the query's label, the fraction of its R nearest that share it
//   MAP@R        like R-Precision, but rewarding the correct ones for being ranked first (Musgrave et al. 2020)
//
// Outputs (--out DIR, default mnist_embed_out): train_log.csv (every step), epochs.csv, loss.svg, active.svg,
// distances.svg (positive vs negative distances before and after training), embedding.svg (the test embeddings in
// 2-D: PCA, or the embedding itself with --dim 2), and report.html showing all of them with the metrics.
//
// Usage: mnist_embed [--loss NAME] [--mining all|hard|semihard|easy|batch_hard|batch_semihard] [--margin M]
//                    [--uniformity W] [--dim D] [--epochs N] [--P P] [--K K] [--lr LR] [--proxy-lr-mult X]
//                    [--threads T] [--seed S] [--data DIR] [--out DIR] [--max-steps N] [--eval-limit N] [--check]
//   --uniformity W    add W times the uniformity regulariser (losses/uniformity.h) to the loss (default 0: none);
//                     --uniformity-t T sets its kernel's t (default 2)
//   --data DIR        any folder with MNIST-format IDX files (default: $TRIDENT_DATA/mnist or ~/.cache/trident/mnist)
//   --max-steps N     stop after N training steps in all (smoke tests)
//   --eval-limit N    evaluate on the first N test queries and N training references (default: all)
//   --check           exit with status 1 unless the loss fell (mean of the last 5 steps below the first 5)
#include <trident/trident.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "../common/embed_trainer.h"
#include "../common/flags.h"
#include "../common/progress.h"

using namespace trident;
using examples::Progress;

namespace {

struct Args {
  // The run's settings (--loss ... --seed, --epochs, --warmup, --soft, --proxy-lr-mult, --out), with this example's
  // defaults.
  embed::RunConfig run{.loss = "triplet",
                       .mining = "batch_hard",
                       .dim = 64,
                       .p = 32,
                       .k = 4,
                       .lr = 1e-3,
                       .epochs = 1,
                       .schedule = "constant",
                       .out = "mnist_embed_out",
                       .title = "MNIST embedding"};
  int threads = 2;
  std::optional<std::string> data;
  std::int64_t max_steps = -1;
  std::int64_t eval_limit = -1;
  bool check = false;
};

Args parse_args(int argc, char** argv) {
  Args args;
  examples::Flags flags("mnist_embed", "learn a digit embedding on MNIST and evaluate it by retrieval");
  embed::add_run_flags(flags, args.run);
  flags.add("--epochs", args.run.epochs, "N")
      .add("--warmup", args.run.warmup, "STEPS")
      .add("--soft", args.run.soft)
      .add("--proxy-lr-mult", args.run.proxy_lr_mult, "X")
      .add("--threads", args.threads, "T")
      .add("--data", args.data, "DIR")
      .add("--out", args.run.out, "DIR")
      .add("--max-steps", args.max_steps, "N")
      .add("--eval-limit", args.eval_limit, "N")
      .add("--check", args.check);
  flags.parse(argc, argv);
  const embed::RunConfig& r = args.run;
  if (r.epochs < 1 || r.dim < 1 || r.p < 2 || r.k < 2 || args.threads < 1 || !(r.lr > 0)) {
    flags.fail("--epochs, --dim, --threads, --lr must be positive and --P, --K at least 2");
  }
  return args;
}

int run(const Args& args) {
  const embed::RunConfig& config = args.run;
  set_num_threads(args.threads);
  manual_seed(config.seed);

  const std::string dir = data::mnist_dir(args.data);
  if (!data::mnist_available(dir)) {
    std::fprintf(stderr,
                 "mnist_embed: MNIST not found in %s\n"
                 "  fetch it with:  bash scripts/fetch-mnist.sh\n"
                 "  or point --data (or $TRIDENT_DATA) at a folder of MNIST-format IDX files\n",
                 dir.c_str());
    return 1;
  }
  auto train_set = std::make_shared<data::MNIST>(dir, /*train=*/true);
  auto test_set = std::make_shared<data::MNIST>(dir, /*train=*/false);
  const auto normalize = std::make_shared<data::Normalize>(std::vector{0.1307}, std::vector{0.3081});

  embed::Trainer trainer(config, train_set, embed::make_mnist_embedder(config.dim), normalize);
  std::printf("mnist_embed: %s; %lld parameters, Adam lr %g, PK batches P=%lld K=%lld; %lld train / %lld test images\n",
              trainer.loss_description().c_str(), static_cast<long long>(trainer.num_parameters()), config.lr,
              static_cast<long long>(config.p), static_cast<long long>(config.k),
              static_cast<long long>(train_set->size()), static_cast<long long>(test_set->size()));

  // Queries: the test set; references: the training set (or their first --eval-limit images).
  auto limit = [&](const std::shared_ptr<data::MNIST>& set) -> std::shared_ptr<const data::Dataset> {
    if (args.eval_limit < 0 || args.eval_limit >= set->size()) return set;
    return std::make_shared<data::TensorDataset>(set->images().slice(0, 0, args.eval_limit),
                                                 set->labels().slice(0, 0, args.eval_limit));
  };
  const auto queries = limit(test_set), references = limit(train_set);

  trainer.snapshot_distances("before", *queries);
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const bool more = trainer.train_epoch(epoch, args.max_steps);
    const embed::Retrieval r = trainer.evaluate_retrieval(*queries, *references, /*query_in_reference=*/false);
    std::printf("epoch %d: %.1f s, %.0f img/s, Precision@1 %.2f%%, R-Precision %.4f, MAP@R %.4f\n", epoch,
                trainer.last_epoch_seconds(), trainer.last_epoch_images_per_second(), 100 * r.precision_at_1,
                r.r_precision, r.map_at_r);
    if (!more) break;
  }
  trainer.snapshot_distances("after", *queries);
  trainer.write_embedding_map(
      *queries, /*max_points=*/2000,
      {"digit 0", "digit 1", "digit 2", "digit 3", "digit 4", "digit 5", "digit 6", "digit 7", "digit 8", "digit 9"});
  const std::string report = trainer.write_report();
  std::printf("wrote %s (open it in a browser)\n", report.c_str());
  return args.check && !trainer.loss_fell() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_embed: %s\n", e.what());
    return 1;
  }
}
