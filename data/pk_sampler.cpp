// PKSampler. Interface and sampling scheme: data/pk_sampler.h.
#include "trident/data/pk_sampler.h"

#include <algorithm>
#include <map>

#include "trident/core/error.h"
#include "trident/data/random_engine.h"

namespace trident::data {

namespace {

// The stream of PK sampling, distinct from the shuffle and augmentation streams of random_engine.h.
constexpr std::uint64_t kPKStream = 0x504b53414d504cULL;  // "PKSAMPL"

std::vector<std::int64_t> labels_vector(const Tensor& labels) {
  TRIDENT_CHECK(labels.defined(), "PKSampler: labels is an undefined tensor");
  TRIDENT_CHECK(labels.dtype() == kInt64, "PKSampler: labels must be int64, got {}", labels.dtype());
  TRIDENT_CHECK(labels.dim() == 1, "PKSampler: labels must be 1-d [N], got shape {}", shape_str(labels.sizes()));
  return labels.cpu().to_vector<std::int64_t>();
}

}  // namespace

PKSampler::PKSampler(std::vector<std::int64_t> labels, std::int64_t p, std::int64_t k, std::uint64_t seed,
                     std::optional<std::int64_t> num_batches)
    : p_(p), k_(k), seed_(seed) {
  TRIDENT_CHECK(p >= 1, "PKSampler: P (classes per batch) must be >= 1, got {}", p);
  TRIDENT_CHECK(k >= 1, "PKSampler: K (examples per class) must be >= 1, got {}", k);
  TRIDENT_CHECK(!labels.empty(), "PKSampler: no labels (an empty dataset)");
  std::map<std::int64_t, std::vector<std::int64_t>> by_label;  // ordered by label value: deterministic class order
  for (std::size_t i = 0; i < labels.size(); ++i) by_label[labels[i]].push_back(static_cast<std::int64_t>(i));
  TRIDENT_CHECK(static_cast<std::int64_t>(by_label.size()) >= p,
                "PKSampler: P = {} classes per batch, but the labels hold only {} classes", p, by_label.size());
  classes_.reserve(by_label.size());
  for (auto& [label, indices] : by_label) classes_.push_back(std::move(indices));
  const auto size = static_cast<std::int64_t>(labels.size());
  if (num_batches) {
    TRIDENT_CHECK(*num_batches >= 1, "PKSampler: num_batches must be >= 1, got {}", *num_batches);
    num_batches_ = *num_batches;
  } else {
    num_batches_ = std::max<std::int64_t>(1, size / (p * k));
  }
}

PKSampler::PKSampler(const Tensor& labels, std::int64_t p, std::int64_t k, std::uint64_t seed,
                     std::optional<std::int64_t> num_batches)
    : PKSampler(labels_vector(labels), p, k, seed, num_batches) {}

std::vector<IndexBatch> PKSampler::batches(std::int64_t epoch) const {
  TRIDENT_CHECK(epoch >= 0, "PKSampler: epoch must be >= 0, got {}", epoch);
  RandomEngine engine(seed_, {kPKStream, static_cast<std::uint64_t>(epoch)});
  const auto num_classes = static_cast<std::int64_t>(classes_.size());
  // Working copies, permuted in place by the partial Fisher-Yates draws below. A partial Fisher-Yates pass over any
  // arrangement draws a uniform ordered sample, so the arrangement left by earlier batches does not bias later ones.
  std::vector<std::int64_t> class_pool(static_cast<std::size_t>(num_classes));
  for (std::int64_t c = 0; c < num_classes; ++c) class_pool[static_cast<std::size_t>(c)] = c;
  std::vector<std::vector<std::int64_t>> pools = classes_;

  // The first m entries of pool[0, n) become a uniform random ordered sample of m of its n entries.
  auto draw_distinct = [&engine](std::int64_t* pool, std::int64_t n, std::int64_t m) {
    for (std::int64_t j = 0; j < m; ++j) {
      const auto r = j + static_cast<std::int64_t>(engine.uniform_int(static_cast<std::uint64_t>(n - j)));
      std::swap(pool[j], pool[r]);
    }
  };

  std::vector<IndexBatch> out(static_cast<std::size_t>(num_batches_));
  for (auto& batch : out) {
    batch.reserve(static_cast<std::size_t>(p_ * k_));
    draw_distinct(class_pool.data(), num_classes, p_);
    for (std::int64_t j = 0; j < p_; ++j) {
      std::vector<std::int64_t>& pool = pools[static_cast<std::size_t>(class_pool[static_cast<std::size_t>(j)])];
      const auto n = static_cast<std::int64_t>(pool.size());
      const auto start = batch.size();
      if (n >= k_) {
        draw_distinct(pool.data(), n, k_);
        batch.insert(batch.end(), pool.begin(), pool.begin() + k_);
      } else {
        // Too few examples: all of them, K - n more with replacement, in random order.
        batch.insert(batch.end(), pool.begin(), pool.end());
        for (std::int64_t extra = n; extra < k_; ++extra)
          batch.push_back(pool[static_cast<std::size_t>(engine.uniform_int(static_cast<std::uint64_t>(n)))]);
        engine.shuffle(batch.data() + start, k_);
      }
    }
  }
  return out;
}

}  // namespace trident::data
