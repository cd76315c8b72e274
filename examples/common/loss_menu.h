// The examples' loss menu: one metric-learning loss, chosen by name and configured from command-line-style settings,
// behind one call. Shared by the trainer of mnist_embed and face_verify (embed_trainer.h, which keeps its own
// make_loss(RunConfig) on top of this) and by loss_probe, which exposes every setting.
//
//   embed::LossConfig c{.loss = "triplet", .mining = "semihard", .margin = 0.1};
//   embed::LossHandle h = embed::make_loss(c);
//   Tensor l = h.forward(embeddings, labels);   // embeddings [B, D], labels int64 [B] -> []
//   trident::LossStats s = h.stats();           // of the last forward
//
// Menu (name: the class, the settings it takes, its defaults):
//   triplet           TripletMarginLoss   mining all|hard|semihard|easy|batch_hard|batch_semihard (all),
//                                         margin (0.2), distance (euclidean, normalized), soft, swap, reduction
//   contrastive       ContrastiveLoss     mining all|hard (all), pos_margin (0), neg_margin (1; margin sets it too),
//                                         distance (euclidean), squared, reduction
//   quadruplet        QuadrupletLoss      margin = margin1 (1), margin2 (0.5), distance (squared_euclidean),
//                                         reduction; mining is batch_hard only
//   proxy-nca         ProxyNCALoss        softmax_scale (1); num_classes and dim; proxies N(0, 1) or given
//   proxy-anchor      ProxyAnchorLoss     margin (0.1), alpha 32; num_classes and dim; proxies Kaiming or given
//   multi-similarity  MultiSimilarityLoss alpha 2, beta 50, lambda 0.5; mining multi_similarity (its miner, epsilon
//                                         0.1; the default) | all (no mining); distance (cosine)
// A setting the chosen loss does not take is an error naming it (e.g. "--swap applies only to --loss triplet"), so a
// command line never silently means less than it says. The flag names in messages are the examples' flags.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "trident/trident.h"

namespace embed {

using trident::Tensor;

struct LossConfig {
  std::string loss = "triplet";       // triplet|contrastive|quadruplet|proxy-nca|proxy-anchor|multi-similarity
  std::optional<std::string> mining;  // the loss's own default (the library's) when absent
  std::optional<double> margin;       // triplet margin, contrastive neg margin, quadruplet margin1,
                                      // proxy-anchor delta
  std::optional<double> pos_margin, neg_margin;       // contrastive
  std::optional<double> margin2;                      // quadruplet
  std::optional<double> softmax_scale;                // proxy-nca: kappa
  std::optional<trident::Distance> distance;          // triplet, contrastive, quadruplet, multi-similarity
  std::optional<bool> normalize;                      // the same losses; cosine always normalises
  bool soft = false;                                  // triplet: log(1 + exp(x)) instead of the hinge
  bool swap = false;                                  // triplet: d_an <- min(d_an, d_pn)
  bool squared = false;                               // contrastive: Hadsell et al.'s 1/2 d^2 and 1/2 [m - d]_+^2
  std::optional<trident::MetricReduction> reduction;  // triplet, contrastive, quadruplet
  // Proxy losses: one proxy per class, labels in [0, num_classes), proxies [num_classes, dim] of `dtype`.
  std::int64_t num_classes = 0, dim = 0;
  trident::DType dtype = trident::kFloat32;
  Tensor proxies;  // when defined: [num_classes, dim] initial proxies (copied in), instead of the random init
};

// The mining and distance names of the command lines.
trident::TripletMining parse_triplet_mining(const std::string& name);
trident::PairMining parse_pair_mining(const std::string& name);
trident::Distance parse_distance(const std::string& name);
trident::MetricReduction parse_reduction(const std::string& name);

// The resolved options of the losses that have standalone miners (for a caller that also mines with them).
trident::TripletMarginOptions triplet_options(const LossConfig& c);
trident::ContrastiveOptions contrastive_options(const LossConfig& c);
trident::QuadrupletLossOptions quadruplet_options(const LossConfig& c);

// One of the metric losses behind a common call.
struct LossHandle {
  std::function<Tensor(const Tensor&, const Tensor&)> forward;  // (embeddings [B, D], labels [B]) -> scalar
  std::function<trident::LossStats()> stats;                    // of the last forward
  std::vector<Tensor> parameters;                               // learnable proxies, if any
  std::string description;                                      // "triplet (margin 0.2, batch_hard mining, ...)"
};

// Errors (trident::Error): an unknown loss, mining, distance or reduction (the message lists the menu), a setting the
// loss does not take, proxies of the wrong shape.
LossHandle make_loss(const LossConfig& config);

}  // namespace embed
