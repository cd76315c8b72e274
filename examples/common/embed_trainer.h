// What the metric-learning examples (mnist_embed, face_verify) share: the loss menu, PK-batch training of an
// embedding network with Adam, retrieval evaluation, and the pictures and report of a run.
//
//   embed::Trainer trainer(config, train_set, model, transform);
//   trainer.snapshot_distances("before training", test_set);
//   for (int epoch = 1; epoch <= epochs; ++epoch) trainer.train_epoch(epoch);
//   trainer.evaluate_retrieval(test_set, train_set, false);
//   trainer.write_report();
//
// Everything a run writes goes into config.out: train_log.csv (one row per step: loss, active fraction, mean
// positive and negative distance, images/s), epochs.csv, loss.svg, active.svg, distances.svg, embedding.svg,
// any plots the example adds, and report.html.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flags.h"
#include "loss_menu.h"
#include "trident/trident.h"

namespace embed {

using trident::Tensor;

struct RunConfig {
  std::string loss = "triplet";  // triplet|contrastive|quadruplet|proxy-nca|proxy-anchor|multi-similarity
  std::string mining = "batch_hard";
  std::optional<double> margin = std::nullopt;  // the loss's own default when absent
  std::int64_t dim = 64;
  std::int64_t p = 32, k = 4;  // PK batches
  double lr = 1e-3;
  int epochs = 1;                                                // for the learning-rate schedule's length
  std::optional<std::int64_t> batches_per_epoch = std::nullopt;  // default: training set size / (P K), at least 1
  std::string schedule = "constant";  // constant | cosine (half a cosine to 0 over the run, after the warm-up)
  std::int64_t warmup = 0;            // steps of linear warm-up from lr/10
  bool soft = false;                  // triplet: soft margin log(1 + exp(.)) instead of the hinge
  std::optional<double> softmax_scale = std::nullopt;  // proxy-nca's kappa (the loss's own default, 1, when absent)
  double proxy_lr_mult = 100;  // proxies learn this many times faster (Proxy-Anchor's official setting)
  // Weight of the uniformity regulariser added to the loss (losses/uniformity.h; 0: none) and its kernel's t.
  double uniformity = 0;
  double uniformity_t = 2;
  std::uint64_t seed = 1;
  std::string out = "out";
  std::string title = "embedding";
};

// The loss of a run, from the shared menu (loss_menu.h). Settings a loss does not take are left out, as before the
// menu was shared (mining only for triplet, margin not for proxy-nca and multi-similarity, soft only for triplet).
// num_classes: for the proxy losses (labels must be in [0, num_classes)). Unknown names are an error that lists the
// menu.
LossHandle make_loss(const RunConfig& config, std::int64_t num_classes);

// The command-line flags of the settings every embedding example takes, bound to config's fields (whose values are
// the example's defaults): --loss, --mining, --margin, --softmax-scale, --uniformity, --uniformity-t, --dim, --P,
// --K, --lr, --schedule, --seed.
void add_run_flags(examples::Flags& flags, RunConfig& config);

// The mnist_classify CNN trunk ending in a dim-D L2-normalised embedding:
//   [N, 1, 28, 28] -conv 3x3, ReLU, conv 3x3, ReLU, max-pool 2, flatten-> [N, 9216] -linear, ReLU-> [N, 128]
//   -linear-> [N, dim] -BatchNorm1d, L2 normalise-> [N, dim]
//
// Note [BatchNorm before the L2 normalisation]
// A freshly initialised network maps every image to nearly the same direction: after L2 normalisation all points sit
// in one small cap of the sphere, every distance is near 0, and batch-hard triplet's loss is about the margin for every
// anchor. Its gradient can then be lowered by shrinking all distances together, and training often collapses to one
// point (loss = margin, active fraction 1, for good). A BatchNorm1d on the embedding, before the normalisation, centres
// and scales each of its coordinates over the batch, so the points spread over the whole sphere from the first step and
// the loss has distances to work with. (At evaluation BatchNorm uses its running statistics: a fixed affine map.)
std::shared_ptr<trident::nn::Sequential> make_mnist_embedder(std::int64_t dim);

// A small BN-CNN for grey face images [N, 1, H, W] (face_verify): three blocks of 3x3 convolution (padding 1),
// BatchNorm2d, ReLU and 2x2 max-pool with `width`, 2 width and 4 width channels, then flatten, linear to dim,
// BatchNorm1d and L2 normalisation. For 56 x 46 images and width 32: [N, 128, 7, 5] -> 4480 -> dim.
// H and W must be at least 8. Note [BatchNorm before the L2 normalisation] says why the BatchNorm1d.
std::shared_ptr<trident::nn::Sequential> make_face_embedder(std::int64_t dim, std::int64_t height, std::int64_t width,
                                                            std::int64_t channels = 32);

struct Retrieval {
  double precision_at_1 = 0, r_precision = 0, map_at_r = 0;
};

class Trainer {
 public:
  Trainer(RunConfig config, std::shared_ptr<const trident::data::Dataset> train_set,
          std::shared_ptr<trident::nn::Module> model, trident::data::TransformPtr transform);

  // One pass of PK batches over the training set (its size / (P K) batches), at most max_steps steps in all when
  // max_steps >= 0. Returns false once max_steps is reached.
  bool train_epoch(int epoch, std::int64_t max_steps = -1);
  double last_epoch_seconds() const { return last_seconds_; }
  double last_epoch_images_per_second() const { return last_images_per_second_; }
  bool loss_fell() const;  // mean of the last 5 step losses below the mean of the first 5

  // The transform embed() applies (evaluation): by default the training transform. Set it when the training
  // transform augments (face_verify: flips and small affine moves in training, only the normalisation to evaluate).
  void set_eval_transform(trident::data::TransformPtr transform) { eval_transform_ = std::move(transform); }

  // The model's embeddings of a whole dataset [N, dim] (evaluation mode, no graph), and its labels.
  Tensor embed(const trident::data::Dataset& dataset);
  // Precision@1, R-Precision and MAP@R of queries against references; recorded for epochs.csv and the report.
  Retrieval evaluate_retrieval(const trident::data::Dataset& queries, const trident::data::Dataset& references,
                               bool query_in_reference);
  // The same for given embeddings (face_verify's ensemble: not this trainer's model alone).
  Retrieval record_retrieval(const Tensor& queries, const Tensor& query_labels, const Tensor& references,
                             const Tensor& reference_labels, bool query_in_reference);
  // Records the positive and negative pair distances of (the first 1,500 items of) a dataset, for distances.svg.
  void snapshot_distances(const std::string& label, const trident::data::Dataset& dataset);
  // The same for given embeddings [N, D] with labels [N] (face_verify's ensemble: not this trainer's model alone).
  void snapshot_distances(const std::string& label, const Tensor& embeddings, const Tensor& labels);
  // embedding.svg: up to max_points items in 2-D (PCA of the embeddings, or the embedding itself when dim = 2).
  void write_embedding_map(const trident::data::Dataset& dataset, std::int64_t max_points,
                           const std::vector<std::string>& class_names = {});
  // The same for given embeddings [N, D] with labels [N] (all of them are drawn).
  void write_embedding_map(const Tensor& embeddings, const Tensor& labels,
                           const std::vector<std::string>& class_names = {});

  // Extra content for the report (face_verify: its ROC curve and verification metrics).
  void add_metric(const std::string& name, const std::string& value) { metrics_.emplace_back(name, value); }
  void add_figure(const std::string& file, const std::string& svg, const std::string& caption);
  // Writes the loss/active plots, distances.svg and report.html; returns the report's path. `settings` are shown in
  // the report (the command line's options).
  std::string write_report(const std::vector<std::pair<std::string, std::string>>& settings = {});

  // The objective being trained: the loss's description, plus the uniformity term when --uniformity is on.
  std::string loss_description() const;
  std::int64_t num_parameters() const { return model_->num_parameters(); }
  trident::nn::Module& model() { return *model_; }
  std::int64_t steps() const { return steps_; }

 private:
  RunConfig config_;
  std::shared_ptr<const trident::data::Dataset> train_set_;
  std::shared_ptr<trident::nn::Module> model_;
  trident::data::TransformPtr transform_, eval_transform_;
  LossHandle loss_;
  std::unique_ptr<trident::optim::Optimizer> optimizer_;
  std::unique_ptr<trident::optim::LRScheduler> scheduler_;
  std::unique_ptr<trident::data::DataLoader> loader_;
  std::int64_t p_ = 0, k_ = 0, steps_ = 0;
  double last_seconds_ = 0, last_images_per_second_ = 0;

  struct StepRecord {
    std::int64_t step;
    double loss, active_fraction, mean_positive, mean_negative;
  };
  std::vector<StepRecord> log_;
  std::vector<std::pair<std::string, std::string>> metrics_;  // shown in the report's table, in order
  struct Snapshot {
    std::string label;
    std::vector<double> positive, negative;
  };
  std::vector<Snapshot> snapshots_;
  struct Figure {
    std::string file, svg, caption;
  };
  std::vector<Figure> figures_;
  std::unique_ptr<trident::viz::CsvLog> step_log_, epoch_log_;  // train_log.csv, epochs.csv
  int epoch_ = 0;
};

}  // namespace embed
