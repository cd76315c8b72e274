// PKSampler: batches of P classes x K examples each (Hermans et al. 2017), the sampler of metric learning: every
// anchor in a batch has K - 1 positives and (P - 1) K negatives.
//
//   auto train = std::make_shared<data::MNIST>(data::mnist_dir(), /*train=*/true);
//   data::DataLoader loader(train, std::make_shared<data::PKSampler>(train->labels(), 16, 4, /*seed=*/1));
//   for (auto& batch : loader) { ... batch.labels: 16 classes, 4 of each, grouped ... }
//
// Each batch: P distinct classes drawn uniformly (without replacement) from the classes of `labels`, then K examples
// of each class. A class with at least K examples gives K distinct ones, drawn uniformly; a class with n < K examples
// is sampled with replacement: each of its n examples once, plus K - n more drawn uniformly with replacement, so that
// no example is left out of the batch. Batches are laid out class by class: positions [jK, (j+1)K) hold class j of the
// batch (the classes in the order drawn, the examples of a class in random order).
// The batches of an epoch are a pure function of (seed, epoch) (Note [Reproducible data randomness]): every epoch its
// own batches, the same on every machine. Batches are drawn independently of each other, so an epoch of
// num_batches batches does not visit every example exactly once (that is not possible with PK batches in general).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "trident/core/tensor.h"
#include "trident/data/sampler.h"

namespace trident::data {

class PKSampler : public Sampler {
 public:
  // labels: every example's label (any int64 values; examples with equal labels form a class), e.g.
  // dataset->labels(). p, k >= 1; the labels must hold at least p classes. num_batches: batches per epoch (>= 1);
  // by default the number of examples / (p k), at least 1.
  PKSampler(std::vector<std::int64_t> labels, std::int64_t p, std::int64_t k, std::uint64_t seed,
            std::optional<std::int64_t> num_batches = std::nullopt);
  // labels: int64 [N] (on the CPU).
  PKSampler(const Tensor& labels, std::int64_t p, std::int64_t k, std::uint64_t seed,
            std::optional<std::int64_t> num_batches = std::nullopt);

  std::vector<IndexBatch> batches(std::int64_t epoch) const override;
  std::int64_t num_batches() const override { return num_batches_; }

  std::int64_t p() const { return p_; }
  std::int64_t k() const { return k_; }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(classes_.size()); }
  std::int64_t batch_size() const { return p_ * k_; }

 private:
  std::vector<std::vector<std::int64_t>> classes_;  // the example indices of each class, classes by label value
  std::int64_t p_, k_;
  std::uint64_t seed_;
  std::int64_t num_batches_;
};

}  // namespace trident::data
