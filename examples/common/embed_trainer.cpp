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

void add_run_flags(examples::Flags& flags, RunConfig& config) {
  flags.add("--loss", config.loss, "triplet|contrastive|quadruplet|proxy-nca|proxy-anchor|multi-similarity")
      .add("--mining", config.mining, "all|hard|semihard|easy|batch_hard|batch_semihard")
      .add("--margin", config.margin, "M")
      .add("--softmax-scale", config.softmax_scale, "KAPPA")
      .add("--uniformity", config.uniformity, "W")
      .add("--uniformity-t", config.uniformity_t, "T")
      .add("--dim", config.dim, "D")
      .add("--P", config.p, "P")
      .add("--K", config.k, "K")
      .add("--lr", config.lr, "LR")
      .add("--schedule", config.schedule, "constant|cosine")
      .add("--seed", config.seed, "S");
}

LossHandle make_loss(const RunConfig& config, std::int64_t num_classes) {
  const std::string& name = config.loss;
  LossConfig c;
  c.loss = name;
  c.num_classes = num_classes;
  c.dim = config.dim;
  if (name == "triplet") {
    c.mining = config.mining;
    c.soft = config.soft;
  }
  if (name != "proxy-nca" && name != "multi-similarity") c.margin = config.margin;
  if (name == "proxy-nca") c.softmax_scale = config.softmax_scale;
  return make_loss(c);
}

std::shared_ptr<nn::Sequential> make_mnist_embedder(std::int64_t dim) {
  using namespace trident::nn;
  return std::make_shared<Sequential>(
      std::make_shared<Conv2d>(1, 32, 3), std::make_shared<ReLU>(), std::make_shared<Conv2d>(32, 64, 3),
      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(9216, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, dim),
      std::make_shared<BatchNorm1d>(dim), std::make_shared<L2Normalize>(1));
}

std::shared_ptr<nn::Sequential> make_face_embedder(std::int64_t dim, std::int64_t height, std::int64_t width,
                                                   std::int64_t channels) {
  using namespace trident::nn;
  TRIDENT_CHECK(height >= 8 && width >= 8, "make_face_embedder: images must be at least 8 x 8, got {} x {}", height,
                width);
  auto model = std::make_shared<Sequential>();
  std::int64_t in = 1, h = height, w = width;
  for (std::int64_t out : {channels, 2 * channels, 4 * channels}) {
    model->push_back(std::make_shared<Conv2d>(in, out, 3, Conv2dOptions{.padding = {1, 1}}, /*bias=*/false));
    model->push_back(std::make_shared<BatchNorm2d>(out));
    model->push_back(std::make_shared<ReLU>());
    model->push_back(std::make_shared<MaxPool2d>(2));
    in = out, h /= 2, w /= 2;
  }
  model->push_back(std::make_shared<Flatten>());
  model->push_back(std::make_shared<Linear>(in * h * w, dim));
  model->push_back(std::make_shared<BatchNorm1d>(dim));
  model->push_back(std::make_shared<L2Normalize>(1));
  return model;
}

Trainer::Trainer(RunConfig config, std::shared_ptr<const data::Dataset> train_set, std::shared_ptr<nn::Module> model,
                 data::TransformPtr transform)
    : config_(std::move(config)),
      train_set_(std::move(train_set)),
      model_(std::move(model)),
      transform_(std::move(transform)),
      eval_transform_(transform_) {
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
    std::printf(
        "note: the training set has %lld classes, fewer than P = %lld: using P = %lld, K = %lld (%lld images "
        "per batch)\n",
        static_cast<long long>(num_classes), static_cast<long long>(config_.p), static_cast<long long>(p_),
        static_cast<long long>(k_), static_cast<long long>(p_ * k_));
  }
  loss_ = make_loss(config_, classes.empty() ? 0 : classes.back() + 1);
  TRIDENT_CHECK(config_.uniformity >= 0 && std::isfinite(config_.uniformity),
                "--uniformity: expected a weight >= 0, got {}", config_.uniformity);
  TRIDENT_CHECK(config_.uniformity_t > 0 && std::isfinite(config_.uniformity_t),
                "--uniformity-t: expected a positive number, got {}", config_.uniformity_t);

  optimizer_ = std::make_unique<optim::Adam>(model_->parameters(), optim::AdamOptions{.lr = config_.lr});
  if (!loss_.parameters.empty()) {
    optimizer_->add_param_group(loss_.parameters, {{"lr", config_.lr * config_.proxy_lr_mult}});
  }
  auto sampler = std::make_shared<data::PKSampler>(label_vector, p_, k_, config_.seed, config_.batches_per_epoch);
  const std::int64_t total_steps = std::max<std::int64_t>(1, sampler->num_batches() * config_.epochs);
  const std::int64_t warmup = std::min(config_.warmup, total_steps / 2);
  std::unique_ptr<optim::LRScheduler> after;
  if (config_.schedule == "cosine") {
    after = std::make_unique<optim::CosineAnnealingLR>(*optimizer_, std::max<std::int64_t>(total_steps - warmup, 1));
  } else {
    TRIDENT_CHECK(config_.schedule == "constant", "--schedule: unknown '{}': expected constant or cosine",
                  config_.schedule);
  }
  if (warmup > 0) {
    scheduler_ = std::make_unique<optim::LinearWarmup>(*optimizer_, warmup, /*start_factor=*/0.1, std::move(after));
  } else {
    scheduler_ = std::move(after);
  }
  loader_ = std::make_unique<data::DataLoader>(train_set_, sampler,
                                               data::DataLoaderOptions{.seed = config_.seed, .transform = transform_});
  step_log_ = std::make_unique<viz::CsvLog>(
      config_.out + "/train_log.csv",
      std::vector<std::string>{"step", "epoch", "loss", "tuples", "active_fraction", "mean_positive", "mean_negative"});
  epoch_log_ = std::make_unique<viz::CsvLog>(
      config_.out + "/epochs.csv",
      std::vector<std::string>{"epoch", "seconds", "images_per_second", "precision_at_1", "r_precision", "map_at_r"});
}

bool Trainer::train_epoch(int epoch, std::int64_t max_steps) {
  epoch_ = epoch;
  loader_->set_epoch(epoch - 1);
  model_->train();
  const std::int64_t total = max_steps >= 0 ? std::min(loader_->size(), max_steps - steps_) : loader_->size();
  examples::Progress progress(epoch, total, p_ * k_);
  std::int64_t done = 0;
  for (auto& batch : *loader_) {
    if (done >= total) break;
    const Tensor embeddings = (*model_)(batch.data);
    Tensor loss = loss_.forward(embeddings, batch.labels);
    if (config_.uniformity > 0) {
      loss = loss + uniformity_loss(embeddings, batch.labels, {.t = config_.uniformity_t}) * config_.uniformity;
    }
    optimizer_->zero_grad();
    loss.backward();
    optimizer_->step();
    if (scheduler_) scheduler_->step();
    const LossStats s = loss_.stats();
    log_.push_back({steps_, loss.item<double>(), s.active_fraction, s.mean_positive, s.mean_negative});
    step_log_->row({steps_, epoch, log_.back().loss, s.tuples, s.active_fraction, s.mean_positive, s.mean_negative});
    ++done;
    ++steps_;
    progress.update(done, log_.back().loss);
  }
  progress.finish();
  last_seconds_ = progress.elapsed();
  last_images_per_second_ = last_seconds_ > 0 ? static_cast<double>(done * p_ * k_) / last_seconds_ : 0;
  return max_steps < 0 || steps_ < max_steps;
}

std::string Trainer::loss_description() const {
  if (config_.uniformity <= 0) return loss_.description;
  return fmt::format("{} + {:g} x uniformity (t = {:g})", loss_.description, config_.uniformity, config_.uniformity_t);
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
    if (eval_transform_) x = eval_transform_->apply(x, engine);
    parts.push_back((*model_)(x));
  }
  model_->train();
  return cat(parts, 0);
}

Retrieval Trainer::evaluate_retrieval(const data::Dataset& queries, const data::Dataset& references,
                                      bool query_in_reference) {
  const Tensor q = embed(queries);
  const Tensor r = query_in_reference ? q : embed(references);
  return record_retrieval(q, queries.labels(), r, references.labels(), query_in_reference);
}

Retrieval Trainer::record_retrieval(const Tensor& q, const Tensor& query_labels, const Tensor& r,
                                    const Tensor& reference_labels, bool query_in_reference) {
  const RetrievalMetrics m =
      retrieval_metrics(q, query_labels, r, reference_labels,
                        {.distance = Distance::Euclidean, .query_in_reference = query_in_reference});
  Retrieval out{m.precision_at_1, m.r_precision, m.map_at_r};
  epoch_log_->row({epoch_, last_seconds_, last_images_per_second_, out.precision_at_1, out.r_precision, out.map_at_r});
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

void Trainer::snapshot_distances(const std::string& label, const data::Dataset& dataset) {
  constexpr std::int64_t kMaxItems = 1500;
  std::shared_ptr<const data::Dataset> subset;
  const data::Dataset* source = &dataset;
  if (dataset.size() > kMaxItems) {
    std::vector<std::int64_t> first(kMaxItems);
    std::iota(first.begin(), first.end(), 0);
    const data::Batch b = dataset.get_batch(first);
    subset = std::make_shared<data::TensorDataset>(b.data, b.labels);
    source = subset.get();
  }
  snapshot_distances(label, embed(*source), source->labels());
}

void Trainer::snapshot_distances(const std::string& label, const Tensor& embeddings, const Tensor& labels) {
  const Tensor d = distance_matrix(embeddings.to(kFloat64), Distance::Euclidean);
  const auto dv = d.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  const auto n = static_cast<std::size_t>(y.size());
  Snapshot snap{label, {}, {}};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) (y[i] == y[j] ? snap.positive : snap.negative).push_back(dv[i * n + j]);
  }
  snapshots_.push_back(std::move(snap));
}

void Trainer::write_embedding_map(const data::Dataset& dataset, std::int64_t max_points,
                                  const std::vector<std::string>& class_names) {
  std::vector<std::int64_t> first(static_cast<std::size_t>(std::min(max_points, dataset.size())));
  std::iota(first.begin(), first.end(), 0);
  const data::Batch b = dataset.get_batch(first);
  write_embedding_map(embed(data::TensorDataset(b.data, b.labels)), b.labels, class_names);
}

void Trainer::write_embedding_map(const Tensor& embeddings, const Tensor& labels_tensor,
                                  const std::vector<std::string>& class_names) {
  const Tensor e = embeddings.to(kFloat64);
  const auto labels = labels_tensor.to_vector<std::int64_t>();
  std::string svg;
  if (e.size(1) == 2) {
    const Tensor ec = e.contiguous();
    std::vector<double> x, y;
    for (std::int64_t i = 0; i < ec.size(0); ++i) {
      x.push_back(ec.at<double>({i, 0}));
      y.push_back(ec.at<double>({i, 1}));
    }
    svg = viz::scatter_svg(x, y, labels, class_names,
                           {.title = "Test embeddings (the 2-D embedding itself)", .x_label = "e1", .y_label = "e2"});
  } else {
    const viz::Pca2 p = viz::pca_2d(e);
    svg = viz::scatter_svg(p.x, p.y, labels, class_names,
                           {.title = fmt::format("Test embeddings: PCA of {}-D to 2-D", e.size(1)),
                            .x_label = p.axis_label(0),
                            .y_label = p.axis_label(1)});
  }
  add_figure("embedding.svg", svg,
             fmt::format("{} test items, coloured by class. Items of one class should form one tight cluster.",
                         labels.size()));
}

void Trainer::add_figure(const std::string& file, const std::string& svg, const std::string& caption) {
  viz::save_svg(config_.out + "/" + file, svg);
  figures_.push_back({file, svg, caption});
}

std::string Trainer::write_report(const std::vector<std::pair<std::string, std::string>>& settings) {
  // Training curves: the raw per-step values and a moving average over 25 steps.
  std::vector<double> step, loss, active;
  for (const StepRecord& r : log_) {
    step.push_back(static_cast<double>(r.step));
    loss.push_back(r.loss);
    active.push_back(r.active_fraction);
  }
  auto smooth = [](const std::vector<double>& v) {
    std::vector<double> out(v.size());
    double acc = 0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (std::isfinite(v[i])) acc += v[i], ++count;
      if (i >= 25 && std::isfinite(v[i - 25])) acc -= v[i - 25], --count;
      out[i] = count ? acc / static_cast<double>(count) : std::nan("");
    }
    return out;
  };
  std::vector<Figure> figures;
  figures.push_back({"loss.svg",
                     viz::line_plot_svg({{"loss per step", step, loss}, {"mean of 25 steps", step, smooth(loss)}},
                                        {.title = "Training loss", .x_label = "step", .y_label = "loss"}),
                     "The loss of each training batch. It falls as the embedding learns to separate the classes."});
  figures.push_back(
      {"active.svg",
       viz::line_plot_svg(
           {{"active fraction", step, active}, {"mean of 25 steps", step, smooth(active)}},
           {.title = "Fraction of mined tuples with a non-zero loss", .x_label = "step", .y_label = "active fraction"}),
       "stats().active_fraction: of the tuples the loss used, the fraction that still violate the margin. Mining "
       "keeps it high by picking hard tuples; it falls as the embedding improves."});
  if (!snapshots_.empty()) {
    std::vector<viz::Distribution> dists;
    for (const Snapshot& s : snapshots_) {
      dists.push_back({"positive (" + s.label + ")", s.positive});
      dists.push_back({"negative (" + s.label + ")", s.negative});
    }
    figures.push_back({"distances.svg",
                       viz::histogram_svg(dists, {.plot = {.title = "Euclidean distances between test embeddings",
                                                           .x_label = "distance",
                                                           .y_label = "density"},
                                                  .bins = 50}),
                       "Pairs of the same class (positive) and of different classes (negative). Training pulls the "
                       "positive distribution towards 0 and pushes the negative one out: the less they overlap, the "
                       "better a single threshold tells same from different."});
  }
  for (Figure& f : figures) viz::save_svg(config_.out + "/" + f.file, f.svg);
  figures.insert(figures.end(), figures_.begin(), figures_.end());

  viz::Report report(config_.title);
  std::vector<std::pair<std::string, std::string>> all_settings{
      {"loss", loss_description()},
      {"embedding dim", std::to_string(config_.dim)},
      {"batches", fmt::format("P = {} classes x K = {}", p_, k_)},
      {"optimizer", fmt::format("Adam, lr {:g}", config_.lr)},
      {"steps", std::to_string(steps_)}};
  all_settings.insert(all_settings.end(), settings.begin(), settings.end());
  report.settings(all_settings);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, value] : metrics_) rows.push_back({name, value});
  report.table("Metrics", {"metric", "value"}, rows);
  for (const Figure& f : figures) report.figure(f.svg, f.caption);
  const std::string path = config_.out + "/report.html";
  report.save(path);
  return path;
}

}  // namespace embed
