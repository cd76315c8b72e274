// data/pk_sampler: every batch is P distinct classes x K examples (grouped by class), classes with fewer than K
// examples sampled with replacement (every example included), deterministic in (seed, epoch), different across
// epochs and seeds, clear errors, and batches through the DataLoader.
#include <map>
#include <set>

#include "gradcheck.h"
#include "trident/data/dataloader.h"
#include "trident/data/pk_sampler.h"

using namespace trident;
using namespace trident::data;

namespace {

using I64 = std::vector<std::int64_t>;

// Class c (label 10 c - 3, to show that label values need not be 0..C-1) has c + 1 examples, interleaved.
I64 uneven_labels(std::int64_t classes) {
  I64 labels;
  for (std::int64_t round = 0; round < classes; ++round)
    for (std::int64_t c = round; c < classes; ++c) labels.push_back(10 * c - 3);
  return labels;
}

// Checks the composition of every batch against the labels: P distinct classes, K examples each, grouped, examples
// distinct when the class has >= K of them, every example of the class present when it has fewer.
void expect_pk_batches(const std::vector<IndexBatch>& batches, const I64& labels, std::int64_t p, std::int64_t k) {
  std::map<std::int64_t, std::int64_t> class_size;
  for (std::int64_t y : labels) ++class_size[y];
  for (const IndexBatch& batch : batches) {
    ASSERT_EQ(static_cast<std::int64_t>(batch.size()), p * k);
    std::set<std::int64_t> classes;
    for (std::int64_t j = 0; j < p; ++j) {
      std::set<std::int64_t> members;
      const std::int64_t y = labels[static_cast<std::size_t>(batch[static_cast<std::size_t>(j * k)])];
      for (std::int64_t t = 0; t < k; ++t) {
        const std::int64_t index = batch[static_cast<std::size_t>(j * k + t)];
        ASSERT_GE(index, 0);
        ASSERT_LT(index, static_cast<std::int64_t>(labels.size()));
        EXPECT_EQ(labels[static_cast<std::size_t>(index)], y) << "position " << j * k + t << " leaves its class group";
        members.insert(index);
      }
      EXPECT_TRUE(classes.insert(y).second) << "class " << y << " twice in a batch";
      EXPECT_EQ(static_cast<std::int64_t>(members.size()), std::min(k, class_size[y]))
          << "class " << y << " of " << class_size[y] << " examples";
    }
    EXPECT_EQ(static_cast<std::int64_t>(classes.size()), p);
  }
}

}  // namespace

TEST(PKSampler, EveryBatchIsPClassesTimesKExamples) {
  const I64 labels = uneven_labels(12);  // classes of 1..12 examples: K = 4 needs replacement for 3 of them
  for (auto [p, k] : {std::pair<std::int64_t, std::int64_t>{4, 4}, {12, 2}, {1, 1}, {3, 12}, {5, 7}}) {
    PKSampler sampler(labels, p, k, 7, 40);
    EXPECT_EQ(sampler.num_batches(), 40);
    EXPECT_EQ(sampler.batch_size(), p * k);
    EXPECT_EQ(sampler.num_classes(), 12);
    for (std::int64_t epoch : {0, 1, 5}) {
      SCOPED_TRACE(fmt::format("P={} K={} epoch={}", p, k, epoch));
      const auto batches = sampler.batches(epoch);
      EXPECT_EQ(static_cast<std::int64_t>(batches.size()), 40);
      expect_pk_batches(batches, labels, p, k);
    }
  }
}

TEST(PKSampler, ReplacementForSmallClasses) {
  // One class of a single example, one of two, K = 5: every batch repeats them, and holds each of their examples.
  const I64 labels = {0, 1, 1, 2, 2, 2, 2, 2, 2};
  PKSampler sampler(labels, 3, 5, 1, 10);
  const auto batches = sampler.batches(0);
  expect_pk_batches(batches, labels, 3, 5);
  for (const IndexBatch& batch : batches) {
    EXPECT_EQ(std::count(batch.begin(), batch.end(), 0), 5);
    EXPECT_GE(std::count(batch.begin(), batch.end(), 1), 1);
    EXPECT_GE(std::count(batch.begin(), batch.end(), 2), 1);
    EXPECT_EQ(std::count(batch.begin(), batch.end(), 1) + std::count(batch.begin(), batch.end(), 2), 5);
  }
}

TEST(PKSampler, DeterministicInSeedAndEpoch) {
  const I64 labels = uneven_labels(10);
  const PKSampler a(labels, 4, 3, 42), b(labels, 4, 3, 42), other_seed(labels, 4, 3, 43);
  EXPECT_EQ(a.batches(0), b.batches(0));
  EXPECT_EQ(a.batches(3), b.batches(3));
  EXPECT_EQ(a.batches(3), a.batches(3));  // pure: no state carried between calls
  EXPECT_NE(a.batches(0), a.batches(1));
  EXPECT_NE(a.batches(1), a.batches(2));
  EXPECT_NE(a.batches(0), other_seed.batches(0));
  // Resuming at an epoch gives that epoch's batches, whatever was drawn before.
  const PKSampler fresh(labels, 4, 3, 42);
  EXPECT_EQ(fresh.batches(7), a.batches(7));
}

TEST(PKSampler, EveryClassAndExampleIsVisited) {
  // Over enough batches every class is chosen and every example drawn (a sanity check of the uniform draws; fixed
  // seed, so the outcome is deterministic).
  const I64 labels = uneven_labels(9);
  PKSampler sampler(labels, 3, 2, 5, 200);
  std::set<std::int64_t> seen;
  for (const auto& batch : sampler.batches(0)) seen.insert(batch.begin(), batch.end());
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), static_cast<std::int64_t>(labels.size()));
}

TEST(PKSampler, DefaultNumBatchesAndTensorLabels) {
  I64 labels;
  for (std::int64_t i = 0; i < 100; ++i) labels.push_back(i % 10);
  EXPECT_EQ(PKSampler(labels, 4, 4, 0).num_batches(), 100 / 16);
  EXPECT_EQ(PKSampler(labels, 10, 20, 0).num_batches(), 1);  // fewer than P K examples: still one batch
  const PKSampler from_tensor(tensor(labels), 4, 4, 9), from_vector(labels, 4, 4, 9);
  EXPECT_EQ(from_tensor.batches(2), from_vector.batches(2));
}

TEST(PKSampler, Errors) {
  const I64 labels = {0, 0, 1, 1, 2, 2};
  EXPECT_THROW_MSG(PKSampler(labels, 4, 2, 0),
                   "PKSampler: P = 4 classes per batch, but the labels hold only 3 classes");
  EXPECT_THROW_MSG(PKSampler(labels, 0, 2, 0), "PKSampler: P (classes per batch) must be >= 1, got 0");
  EXPECT_THROW_MSG(PKSampler(labels, 2, 0, 0), "PKSampler: K (examples per class) must be >= 1, got 0");
  EXPECT_THROW_MSG(PKSampler(labels, 2, 2, 0, 0), "PKSampler: num_batches must be >= 1, got 0");
  EXPECT_THROW_MSG(PKSampler(I64{}, 1, 1, 0), "PKSampler: no labels (an empty dataset)");
  EXPECT_THROW_MSG(PKSampler(tensor({0.0f, 1.0f}), 1, 1, 0), "PKSampler: labels must be int64, got float32");
  EXPECT_THROW_MSG(PKSampler(tensor(labels).view({2, 3}), 1, 1, 0),
                   "PKSampler: labels must be 1-d [N], got shape [2, 3]");
  EXPECT_THROW_MSG(PKSampler(labels, 2, 2, 0).batches(-1), "PKSampler: epoch must be >= 0, got -1");
}

TEST(PKSampler, WorksWithTheDataLoader) {
  // Example i is the row [i]; its label is i % 7.
  const std::int64_t n = 70;
  std::vector<float> data;
  I64 labels;
  for (std::int64_t i = 0; i < n; ++i) {
    data.push_back(static_cast<float>(i));
    labels.push_back(i % 7);
  }
  auto dataset = std::make_shared<TensorDataset>(tensor(data, {n, 1}), tensor(labels));
  for (std::int64_t prefetch : {0, 2}) {
    DataLoader loader(dataset, std::make_shared<PKSampler>(dataset->labels(), 5, 3, /*seed=*/11),
                      {.seed = 11, .prefetch = prefetch});
    EXPECT_EQ(loader.size(), n / 15);
    for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
      const auto expected = loader.sampler().batches(epoch);
      std::size_t b = 0;
      for (auto& batch : loader) {
        ASSERT_LT(b, expected.size());
        EXPECT_EQ(batch.data.sizes(), (Shape{15, 1}));
        I64 indices;
        for (float v : batch.data.to_vector<float>()) indices.push_back(static_cast<std::int64_t>(v));
        EXPECT_EQ(indices, expected[b]);
        const I64 y = batch.labels.to_vector<std::int64_t>();
        for (std::size_t t = 0; t < y.size(); ++t) EXPECT_EQ(y[t], indices[t] % 7);
        std::map<std::int64_t, int> per_class;
        for (std::int64_t v : y) ++per_class[v];
        EXPECT_EQ(per_class.size(), 5u);
        for (auto [label, count] : per_class) EXPECT_EQ(count, 3) << label;
        ++b;
      }
      EXPECT_EQ(b, expected.size());
    }
  }
}
