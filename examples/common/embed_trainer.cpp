// The metric-learning examples' shared trainer. Contract: embed_trainer.h.
#include "embed_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "progress.h"

namespace embed {

using namespace trident;

namespace {

TripletMining parse_mining(const std::string& name) {
  for (TripletMining m : {TripletMining::All, TripletMining::Hard, TripletMining::SemiHard, TripletMining::Easy,
                          TripletMining::BatchHard, TripletMining::BatchSemiHard}) {
    if (name == mining_name(m)) return m;
  }
  TRIDENT_CHECK(false, "--mining: unknown '{}': expected all, hard, semihard, easy, batch_hard or batch_semihard", name);
  return TripletMining::All;
}

std::string fmt_margin(double m) { return fmt::format("{:g}", m); }

}  // namespace

LossHandle make_loss(const RunConfig& config, std::int64_t num_classes) {
  LossHandle h;
  const std::string& name = config.loss;
  if (name == "triplet") {
    TripletMarginOptions o;
    o.mining = parse_mining(config.mining);
    if (config.margin) o.margin = *config.margin;
    auto loss = std::make_shared<TripletMarginLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("triplet (margin {}, {} mining, {})", fmt_margin(o.margin), mining_name(o.mining),
                                to_string(o.distance));
  } else if (name == "contrastive") {
    ContrastiveOptions o;
    if (config.margin) o.neg_margin = *config.margin;
    auto loss = std::make_shared<ContrastiveLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("contrastive (pos margin {}, neg margin {}, {})", fmt_margin(o.pos_margin),
                                fmt_margin(o.neg_margin), to_string(o.distance));
  } else if (name == "quadruplet") {
    QuadrupletOptions o;
    if (config.margin) o.margin1 = *config.margin;
    auto loss = std::make_shared<QuadrupletLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("quadruplet (margins {} and {}, batch_hard, {})", fmt_margin(o.margin1),
                                fmt_margin(o.margin2), to_string(o.distance));
  } else if (name == "proxy-nca") {
    auto loss = std::make_shared<ProxyNCALoss>(num_classes, config.dim);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return loss->forward(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.parameters = loss->parameters();
    h.description = fmt::format("proxy-nca ({} proxies)", num_classes);
  } else if (name == "proxy-anchor") {
    ProxyAnchorOptions o;
    if (config.margin) o.margin = *config.margin;
    auto loss = std::make_shared<ProxyAnchorLoss>(num_classes, config.dim, o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return loss->forward(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.parameters = loss->parameters();
    h.description = fmt::format("proxy-anchor ({} proxies, margin {}, alpha {})", num_classes, fmt_margin(o.margin),
                                fmt_margin(o.alpha));
  } else if (name == "multi-similarity") {
    MultiSimilarityOptions o;
    auto loss = std::make_shared<MultiSimilarityLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = "multi-similarity (alpha 2, beta 50, lambda 0.5, mined with epsilon 0.1)";
  } else {
    TRIDENT_CHECK(false,
                  "--loss: unknown '{}': expected triplet, contrastive, quadruplet, proxy-nca, proxy-anchor or "
                  "multi-similarity",
                  name);
  }
  return h;
}

std::shared_ptr<nn::Sequential> make_mnist_embedder(std::int64_t dim) {
  using namespace trident::nn;
  return std::make_shared<Sequential>(
      std::make_shared<Conv2d>(1, 32, 3), std::make_shared<ReLU>(), std::make_shared<Conv2d>(32, 64, 3),
      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(9216, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, dim),
      std::make_shared<L2Normalize>(1));
}

Trainer::Trainer(RunConfig config, std::shared_ptr<const data::Dataset> train_set, std::shared_ptr<nn::Module> model,
                 data::TransformPtr transform)
    : config_(std::move(config)),
      train_set_(std::move(train_set)),
      model_(std::move(model)),
      transform_(std::move(transform)) {
  std::filesystem::create_directories(config_.out);
  const Tensor labels = train_set_->labels();
  const std::vector<std::int64_t> label_vector = labels.to_vector<std::int64_t>();
  std::vector<std::int64_t> classes = label_vector;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  const auto num_classes = static_cast<std::int64_t>(classes.size());
  p_ = config_.p;
  k_ = config_.k;
  if (num_classes < p_) {
    // Keep the batch near P x K with every class in it.
    const std::int64_t batch = p_ * k_;
    p_ = num_classes;
    k_ = (batch + p_ - 1) / p_;
    std::printf("note: the training set has %lld classes, fewer than P = %lld: using P = %lld, K = %lld (%lld images "
                "per batch)\n",
                static_cast<long long>(num_classes), static_cast<long long>(config_.p), static_cast<long long>(p_),
                static_cast<long long>(k_), static_cast<long long>(p_ * k_));
  }
  loss_ = make_loss(config_, classes.empty() ? 0 : classes.back() + 1);

  optimizer_ = std::make_unique<optim::Adam>(model_->parameters(), optim::AdamOptions{.lr = config_.lr});
  if (!loss_.parameters.empty()) {
    optimizer_->add_param_group(loss_.parameters, {{"lr", config_.lr * config_.proxy_lr_mult}});
  }
  auto sampler = std::make_shared<data::PKSampler>(label_vector, p_, k_, config_.seed);
  loader_ = std::make_unique<data::DataLoader>(
      train_set_, sampler, data::DataLoaderOptions{.seed = config_.seed, .transform = transform_});
  epoch_rows_.push_back("epoch,seconds,images_per_second,precision_at_1,r_precision,map_at_r");
}

bool Trainer::train_epoch(int epoch, std::int64_t max_steps) {
  loader_->set_epoch(epoch - 1);
  model_->train();
  const std::int64_t total = max_steps >= 0 ? std::min(loader_->size(), max_steps - steps_) : loader_->size();
  examples::Progress progress(epoch, total, p_ * k_);
  std::int64_t done = 0;
  for (auto& batch : *loader_) {
    if (done >= total) break;
    const Tensor embeddings = (*model_)(batch.data);
    const Tensor loss = loss_.forward(embeddings, batch.labels);
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    const LossStats s = loss_.stats();
    log_.push_back({steps_, loss.item<double>(), s.active_fraction, s.mean_positive, s.mean_negative});
    ++done;
    ++steps_;
    progress.update(done, log_.back().loss);
  }
  progress.finish();
  last_seconds_ = progress.elapsed();
  last_images_per_second_ = last_seconds_ > 0 ? static_cast<double>(done * p_ * k_) / last_seconds_ : 0;
  return max_steps < 0 || steps_ < max_steps;
}

bool Trainer::loss_fell() const {
  const std::size_t k = std::min<std::size_t>(5, log_.size() / 2);
  if (k == 0) return false;
  double first = 0, last = 0;
  for (std::size_t i = 0; i < k; ++i) {
    first += log_[i].loss;
    last += log_[log_.size() - 1 - i].loss;
  }
  std::printf("check: mean loss of the first %zu steps %.4f, of the last %zu steps %.4f\n", k, first / k, k, last / k);
  return last < first;
}

Tensor Trainer::embed(const data::Dataset& dataset) {
  model_->eval();
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  data::RandomEngine engine(0);
  constexpr std::int64_t kBatch = 500;
  for (std::int64_t start = 0; start < dataset.size(); start += kBatch) {
    std::vector<std::int64_t> indices(static_cast<std::size_t>(std::min(kBatch, dataset.size() - start)));
    std::iota(indices.begin(), indices.end(), start);
    Tensor x = dataset.get_batch(indices).data;
    if (transform_) x = transform_->apply(x, engine);
    parts.push_back((*model_)(x));
  }
  model_->train();
  return cat(parts, 0);
}

Retrieval Trainer::evaluate_retrieval(const data::Dataset& queries, const data::Dataset& references,
                                      bool query_in_reference) {
  const Tensor q = embed(queries);
  const Tensor r = query_in_reference ? q : embed(references);
  const RetrievalMetrics m =
      retrieval_metrics(q, queries.labels(), r, references.labels(),
                        {.distance = Distance::Euclidean, .query_in_reference = query_in_reference});
  Retrieval out{m.precision_at_1, m.r_precision, m.map_at_r};
  epoch_rows_.push_back(fmt::format("{},{:.2f},{:.1f},{:.6f},{:.6f},{:.6f}", epoch_rows_.size(), last_seconds_,
                                    last_images_per_second_, out.precision_at_1, out.r_precision, out.map_at_r));
  metrics_.erase(std::remove_if(metrics_.begin(), metrics_.end(),
                                [](const auto& kv) {
                                  return kv.first == "Precision@1" || kv.first == "R-Precision" ||
                                         kv.first == "MAP@R" || kv.first == "training images/s";
                                }),
                 metrics_.end());
  metrics_.emplace_back("Precision@1", fmt::format("{:.2f}%", 100 * out.precision_at_1));
  metrics_.emplace_back("R-Precision", fmt::format("{:.4f}", out.r_precision));
  metrics_.emplace_back("MAP@R", fmt::format("{:.4f}", out.map_at_r));
  metrics_.emplace_back("training images/s", fmt::format("{:.0f}", last_images_per_second_));
  return out;
}

}  // namespace embed
