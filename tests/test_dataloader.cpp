// Samplers and the DataLoader: batch composition and sizes, determinism (same seed -> same batches, each epoch its
// own order, every index once per epoch), drop_last, prefetching against building on the caller's thread, many short
// epochs, early destruction, exceptions from the dataset and the transform, custom (batch-yielding) samplers, and a
// throughput measurement on the real MNIST when it is present (printed, not asserted).
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "data_testing.h"

using namespace trident;
using namespace trident::data;
using trident::testing::same_values;

namespace {

using I64 = std::vector<std::int64_t>;

// n examples: example i is the float32 row [i, -i], label i, so each batch's labels name its indices.
std::shared_ptr<TensorDataset> numbered_dataset(std::int64_t n) {
  std::vector<float> data;
  I64 labels;
  for (std::int64_t i = 0; i < n; ++i) {
    data.push_back(static_cast<float>(i));
    data.push_back(static_cast<float>(-i));
    labels.push_back(i);
  }
  return std::make_shared<TensorDataset>(tensor(data, {n, 2}), tensor(labels));
}

// The labels of every batch of one epoch (checking that data rows agree with their labels).
std::vector<I64> run_epoch(DataLoader& loader) {
  std::vector<I64> batches;
  for (auto& batch : loader) {
    const I64 labels = batch.labels.to_vector<std::int64_t>();
    const std::vector<float> data = batch.data.to_vector<float>();
    EXPECT_EQ(data.size(), 2 * labels.size());
    for (std::size_t k = 0; k < labels.size() && 2 * k + 1 < data.size(); ++k) {
      EXPECT_EQ(data[2 * k], static_cast<float>(labels[k]));
      EXPECT_EQ(data[2 * k + 1], static_cast<float>(-labels[k]));
    }
    batches.push_back(labels);
  }
  return batches;
}

std::vector<std::size_t> batch_sizes(const std::vector<I64>& batches) {
  std::vector<std::size_t> sizes;
  for (const auto& b : batches) sizes.push_back(b.size());
  return sizes;
}

I64 flatten(const std::vector<I64>& batches) {
  I64 all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

bool is_permutation_of_range(I64 v, std::int64_t n) {
  std::sort(v.begin(), v.end());
  if (static_cast<std::int64_t>(v.size()) != n) return false;
  for (std::int64_t i = 0; i < n; ++i)
    if (v[static_cast<std::size_t>(i)] != i) return false;
  return true;
}

// A dataset whose get_batch throws when it meets a chosen index, and that can be slowed down.
class FaultyDataset : public Dataset {
 public:
  FaultyDataset(std::int64_t n, std::int64_t bad_index, std::chrono::microseconds delay = {})
      : inner_(numbered_dataset(n)), bad_index_(bad_index), delay_(delay) {}
  std::int64_t size() const override { return inner_->size(); }
  Example get(std::int64_t i) const override { return inner_->get(i); }
  Batch get_batch(const std::vector<std::int64_t>& indices) const override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    calls_.fetch_add(1);
    for (std::int64_t i : indices) TRIDENT_CHECK(i != bad_index_, "FaultyDataset: example {} is unreadable", i);
    return inner_->get_batch(indices);
  }
  int calls() const { return calls_.load(); }

 private:
  std::shared_ptr<TensorDataset> inner_;
  std::int64_t bad_index_;
  std::chrono::microseconds delay_;
  mutable std::atomic<int> calls_{0};
};

// Fixed batches, like a PK sampler would produce: epoch e uses `plans[e % plans.size()]`.
class FixedSampler : public Sampler {
 public:
  explicit FixedSampler(std::vector<std::vector<IndexBatch>> plans) : plans_(std::move(plans)) {}
  std::vector<IndexBatch> batches(std::int64_t epoch) const override {
    return plans_[static_cast<std::size_t>(epoch) % plans_.size()];
  }
  std::int64_t num_batches() const override { return static_cast<std::int64_t>(plans_[0].size()); }

 private:
  std::vector<std::vector<IndexBatch>> plans_;
};

}  // namespace

// ---- samplers ----------------------------------------------------------------------------------------------------

TEST(Sampler, SequentialBatches) {
  EXPECT_EQ(SequentialSampler(7, 3).batches(0), (std::vector<IndexBatch>{{0, 1, 2}, {3, 4, 5}, {6}}));
  EXPECT_EQ(SequentialSampler(7, 3, true).batches(5), (std::vector<IndexBatch>{{0, 1, 2}, {3, 4, 5}}));
  EXPECT_EQ(SequentialSampler(7, 3).num_batches(), 3);
  EXPECT_EQ(SequentialSampler(7, 3, true).num_batches(), 2);
  EXPECT_EQ(SequentialSampler(6, 3, true).num_batches(), 2);
  EXPECT_EQ(SequentialSampler(2, 3, true).num_batches(), 0);
  EXPECT_TRUE(SequentialSampler(0, 3).batches(0).empty());
  EXPECT_THROW_MSG(SequentialSampler(5, 0), "SequentialSampler: batch_size must be >= 1, got 0");
  EXPECT_THROW_MSG(SequentialSampler(5, 2).batches(-1), "SequentialSampler: epoch must be >= 0, got -1");
}

TEST(Sampler, RandomPermutationPerEpoch) {
  const RandomSampler s(100, 10, /*seed=*/3);
  const I64 p0 = s.permutation(0), p1 = s.permutation(1);
  EXPECT_TRUE(is_permutation_of_range(p0, 100));
  EXPECT_TRUE(is_permutation_of_range(p1, 100));
  EXPECT_NE(p0, p1);
  EXPECT_EQ(p0, RandomSampler(100, 10, 3).permutation(0));
  EXPECT_NE(p0, RandomSampler(100, 10, 4).permutation(0));
  EXPECT_EQ(flatten(s.batches(1)), p1);
  EXPECT_EQ(s.num_batches(), 10);

  // The shuffle is fixed by the seed on every platform (mt19937_64's output is fixed by the standard, and the
  // mapping to integers is ours): pin one permutation and a few engine outputs.
  EXPECT_EQ(RandomSampler(10, 10, 0).permutation(0), (I64{4, 0, 1, 6, 7, 8, 9, 5, 3, 2}));
  RandomEngine engine(123, {4, 5});
  EXPECT_EQ(engine.next_u64(), 7364622039522771442ULL);
  EXPECT_EQ(engine.uniform(), 0.67898630277549477);
  EXPECT_EQ(engine.uniform_int(-5, 5), 5);
}

// ---- DataLoader: batches and determinism -------------------------------------------------------------------------

TEST(DataLoader, SequentialBatchesAndSizes) {
  auto ds = numbered_dataset(10);
  DataLoader loader(ds, {.batch_size = 4});
  EXPECT_EQ(loader.size(), 3);
  const auto batches = run_epoch(loader);
  EXPECT_EQ(batches, (std::vector<I64>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));

  DataLoader dropping(ds, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping.size(), 2);
  EXPECT_EQ(batch_sizes(run_epoch(dropping)), (std::vector<std::size_t>{4, 4}));

  DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
  EXPECT_EQ(batch_sizes(run_epoch(exact)), (std::vector<std::size_t>{5, 5}));

  DataLoader one_batch(ds, {.batch_size = 100});
  EXPECT_EQ(run_epoch(one_batch), (std::vector<I64>{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}));

  DataLoader none(ds, {.batch_size = 100, .drop_last = true});
  EXPECT_EQ(none.size(), 0);
  EXPECT_TRUE(none.begin() == none.end());
}

TEST(DataLoader, ShuffleIsDeterministicPerSeedAndEpoch) {
  auto ds = numbered_dataset(50);
  DataLoader a(ds, {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader b(ds, {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader c(ds, {.batch_size = 8, .shuffle = true, .seed = 8});
  std::set<I64> orders;
  for (int epoch = 0; epoch < 5; ++epoch) {
    const auto ea = run_epoch(a), eb = run_epoch(b), ec = run_epoch(c);
    EXPECT_EQ(a.epoch(), epoch);
    EXPECT_EQ(ea, eb) << "same seed, same batches (epoch " << epoch << ")";
    EXPECT_NE(ea, ec) << "another seed, other batches";
    EXPECT_TRUE(is_permutation_of_range(flatten(ea), 50)) << "every index exactly once";
    EXPECT_EQ(batch_sizes(ea), (std::vector<std::size_t>{8, 8, 8, 8, 8, 8, 2}));
    // Matches the sampler's own plan for that epoch.
    EXPECT_EQ(flatten(ea), RandomSampler(50, 8, 7).permutation(epoch));
    orders.insert(flatten(ea));
  }
  EXPECT_EQ(orders.size(), 5u) << "each epoch its own order";
}

TEST(DataLoader, DropLastWithShuffleDropsTheTailOfThePermutation) {
  auto ds = numbered_dataset(23);
  DataLoader loader(ds, {.batch_size = 5, .shuffle = true, .seed = 1, .drop_last = true});
  EXPECT_EQ(loader.size(), 4);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto batches = run_epoch(loader);
    EXPECT_EQ(batch_sizes(batches), (std::vector<std::size_t>{5, 5, 5, 5}));
    const I64 perm = RandomSampler(23, 5, 1).permutation(epoch);
    EXPECT_EQ(flatten(batches), I64(perm.begin(), perm.begin() + 20));
  }
}

TEST(DataLoader, SetEpochResumes) {
  auto ds = numbered_dataset(30);
  DataLoader fresh(ds, {.batch_size = 4, .shuffle = true, .seed = 2});
  std::vector<std::vector<I64>> epochs;
  for (int e = 0; e < 4; ++e) epochs.push_back(run_epoch(fresh));
  DataLoader resumed(ds, {.batch_size = 4, .shuffle = true, .seed = 2});
  resumed.set_epoch(2);
  EXPECT_EQ(run_epoch(resumed), epochs[2]);
  EXPECT_EQ(resumed.epoch(), 2);
  EXPECT_EQ(run_epoch(resumed), epochs[3]);
  EXPECT_THROW_MSG(resumed.set_epoch(-1), "DataLoader::set_epoch: epoch must be >= 0, got -1");
}

TEST(DataLoader, PrefetchGivesTheSameBatchesAsTheCallersThread) {
  auto ds = numbered_dataset(37);
  const auto augment = std::make_shared<Lambda>([](const Tensor& x) { return x * 1.0; });
  for (std::int64_t prefetch : {0, 1, 2, 8}) {
    DataLoader loader(ds, {.batch_size = 5, .shuffle = true, .seed = 4, .transform = augment, .prefetch = prefetch});
    DataLoader reference(ds, {.batch_size = 5, .shuffle = true, .seed = 4, .transform = augment, .prefetch = 0});
    for (int e = 0; e < 3; ++e) EXPECT_EQ(run_epoch(loader), run_epoch(reference)) << "prefetch " << prefetch;
  }
}

TEST(DataLoader, RandomTransformsAreDeterministicPerSeedEpochAndBatch) {
  // 16 images of 6x6 with one lit pixel at the centre; RandomShift moves it per image.
  std::vector<float> pixels(16 * 36, 0.0f);
  for (int b = 0; b < 16; ++b) pixels[static_cast<std::size_t>(b * 36 + 3 * 6 + 3)] = 1.0f;
  I64 labels(16);
  std::iota(labels.begin(), labels.end(), 0);
  auto ds = std::make_shared<TensorDataset>(tensor(pixels, {16, 1, 6, 6}), tensor(labels));
  const auto shift = std::make_shared<RandomShift>(2);

  auto epoch_data = [&](std::uint64_t seed, std::int64_t prefetch, int epochs) {
    DataLoader loader(ds, {.batch_size = 4, .seed = seed, .transform = shift, .prefetch = prefetch});
    std::vector<std::vector<float>> out;
    for (int e = 0; e < epochs; ++e) {
      std::vector<float> all;
      for (auto& batch : loader) {
        const auto v = batch.data.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      out.push_back(all);
    }
    return out;
  };
  const auto a = epoch_data(1, 2, 2), b = epoch_data(1, 0, 2), c = epoch_data(2, 2, 2);
  EXPECT_EQ(a, b) << "with or without the thread";
  EXPECT_NE(a[0], a[1]) << "each epoch its own augmentation";
  EXPECT_NE(a[0], c[0]) << "another seed, another augmentation";
  // The batch's augmentation is exactly the transform with the engine of (seed, epoch, batch).
  DataLoader loader(ds, {.batch_size = 4, .seed = 1, .transform = shift});
  loader.set_epoch(1);
  std::int64_t b_index = 0;
  for (auto& batch : loader) {
    RandomEngine engine(1, {kAugmentStream, 1, static_cast<std::uint64_t>(b_index)});
    const Tensor raw = ds->get_batch({4 * b_index, 4 * b_index + 1, 4 * b_index + 2, 4 * b_index + 3}).data;
    EXPECT_TRUE(same_values(batch.data, shift->apply(raw, engine)));
    ++b_index;
  }
  EXPECT_EQ(b_index, 4);
}

TEST(DataLoader, CustomSamplerYieldsItsBatches) {
  auto ds = numbered_dataset(12);
  // P = 2 classes x K = 2 items per batch, as a PK sampler would hand out.
  auto sampler = std::make_shared<FixedSampler>(
      std::vector<std::vector<IndexBatch>>{{{0, 1, 6, 7}, {2, 3, 8, 9}}, {{11, 10, 5, 4}, {0, 0, 1, 1}}});
  DataLoader loader(ds, sampler);
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(run_epoch(loader), (std::vector<I64>{{0, 1, 6, 7}, {2, 3, 8, 9}}));
  EXPECT_EQ(run_epoch(loader), (std::vector<I64>{{11, 10, 5, 4}, {0, 0, 1, 1}}));
  EXPECT_THROW_MSG(DataLoader(ds, sampler, {.shuffle = true}),
                   "DataLoader: shuffle must be false when a sampler is given");
  EXPECT_THROW_MSG(DataLoader(ds, std::shared_ptr<const Sampler>()), "DataLoader: null sampler");
  EXPECT_THROW_MSG(DataLoader(std::shared_ptr<const Dataset>(), DataLoaderOptions{}), "DataLoader: null dataset");
  EXPECT_THROW_MSG(DataLoader(ds, {.batch_size = 0}), "DataLoader: batch_size must be >= 1, got 0");
  EXPECT_THROW_MSG(DataLoader(ds, {.prefetch = -1}), "DataLoader: prefetch must be >= 0, got -1");

  // An index out of range from a sampler is the dataset's error, raised in the caller's thread.
  DataLoader bad(ds, std::make_shared<FixedSampler>(std::vector<std::vector<IndexBatch>>{{{0, 12}}}));
  EXPECT_THROW_MSG(bad.begin(), "TensorDataset: index 12 out of range for 12 examples");
}

TEST(DataLoader, EmptyDataset) {
  auto ds = numbered_dataset(0);
  DataLoader loader(ds, {.batch_size = 4, .shuffle = true});
  EXPECT_EQ(loader.size(), 0);
  EXPECT_TRUE(run_epoch(loader).empty());
}

// ---- DataLoader: the prefetch thread -----------------------------------------------------------------------------

TEST(DataLoader, ManyShortEpochs) {
  auto ds = numbered_dataset(7);
  for (std::int64_t prefetch : {1, 2, 3}) {
    DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .seed = 5, .prefetch = prefetch});
    for (int epoch = 0; epoch < 300; ++epoch) {
      const auto batches = run_epoch(loader);
      ASSERT_EQ(batch_sizes(batches), (std::vector<std::size_t>{3, 3, 1})) << "epoch " << epoch;
      ASSERT_EQ(flatten(batches), RandomSampler(7, 3, 5).permutation(epoch)) << "epoch " << epoch;
    }
  }
}

TEST(DataLoader, StoppingMidEpoch) {
  auto ds = std::make_shared<FaultyDataset>(100, /*bad_index=*/-1, std::chrono::microseconds(200));
  {
    // Destroyed after one batch while the worker is still building the next ones.
    DataLoader loader(ds, {.batch_size = 2, .prefetch = 3});
    for (auto& batch : loader) {
      EXPECT_EQ(batch.labels.to_vector<std::int64_t>(), (I64{0, 1}));
      break;
    }
  }
  EXPECT_LE(ds->calls(), 1 + 3 + 1) << "the worker stops once its queue is full";
  {
    // A new epoch started in the middle of one: the old thread is stopped, the new epoch starts from its beginning.
    DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .seed = 3});
    auto it = loader.begin();
    ++it;
    const I64 second_batch = it->labels.to_vector<std::int64_t>();
    const I64 perm0 = RandomSampler(100, 10, 3).permutation(0);
    EXPECT_EQ(second_batch, I64(perm0.begin() + 10, perm0.begin() + 20));
    const auto next_epoch = run_epoch(loader);
    EXPECT_EQ(loader.epoch(), 1);
    EXPECT_EQ(flatten(next_epoch), RandomSampler(100, 10, 3).permutation(1));
  }
  for (int k = 0; k < 50; ++k) {
    // Destroyed right after begin(), many times: no hang, no crash.
    DataLoader loader(ds, {.batch_size = 1, .prefetch = 2});
    auto it = loader.begin();
    EXPECT_EQ(it->labels.item<std::int64_t>(), 0);
  }
  {
    DataLoader never_started(ds, {.batch_size = 4});  // no thread to stop
  }
}

TEST(DataLoader, DatasetExceptionsReachTheCaller) {
  for (std::int64_t prefetch : {0, 2}) {
    // Example 13 is in batch 3 (12..15): batches 0..2 arrive, then the error, in order.
    auto ds = std::make_shared<FaultyDataset>(20, /*bad_index=*/13);
    DataLoader loader(ds, {.batch_size = 4, .prefetch = prefetch});
    std::vector<I64> seen;
    try {
      for (auto& batch : loader) seen.push_back(batch.labels.to_vector<std::int64_t>());
      ADD_FAILURE() << "no exception, prefetch " << prefetch;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "FaultyDataset: example 13 is unreadable");
    }
    EXPECT_EQ(seen, (std::vector<I64>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}})) << "prefetch " << prefetch;
    // The loader stays usable: the next epoch fails at the same place again.
    auto it = loader.begin();
    EXPECT_EQ(it->labels.to_vector<std::int64_t>(), (I64{0, 1, 2, 3}));
    ++it;
    ++it;
    EXPECT_THROW_MSG(++it, "FaultyDataset: example 13 is unreadable");
  }
  // Failing on the very first batch: begin() throws.
  auto first_bad = std::make_shared<FaultyDataset>(8, 0);
  DataLoader loader(first_bad, {.batch_size = 4});
  EXPECT_THROW_MSG(loader.begin(), "FaultyDataset: example 0 is unreadable");
}

TEST(DataLoader, TransformExceptionsReachTheCaller) {
  auto ds = numbered_dataset(10);
  // Normalize refuses a [B, 2] batch: the error comes from the worker thread.
  DataLoader loader(
      ds, {.batch_size = 5, .transform = std::make_shared<Normalize>(std::vector<double>{0}, std::vector<double>{1})});
  EXPECT_THROW_MSG(loader.begin(), "Normalize: expected a batch [B, H, W] or [B, C, H, W], got [5, 2]");
}

TEST(DataLoader, BadBatchesFromADatasetAreReported) {
  class ShortBatches : public Dataset {
   public:
    std::int64_t size() const override { return 4; }
    Example get(std::int64_t i) const override { return Example{zeros({2}), i}; }
    Batch get_batch(const std::vector<std::int64_t>&) const override { return Batch{zeros({1, 2}), tensor(I64{0})}; }
  };
  DataLoader loader(std::make_shared<ShortBatches>(), {.batch_size = 2});
  EXPECT_THROW_MSG(loader.begin(),
                   "DataLoader: the dataset's get_batch returned data [1, 2] for 2 indices, expected [2, ...]");
}

TEST(DataLoader, IteratorAtTheEnd) {
  auto ds = numbered_dataset(3);
  DataLoader loader(ds, {.batch_size = 3});
  auto it = loader.begin();
  ASSERT_FALSE(it == loader.end());
  ++it;
  EXPECT_TRUE(it == loader.end());
  EXPECT_THROW_MSG(*it, "DataLoader: dereferencing an iterator at the end of the epoch");
  EXPECT_THROW_MSG(++it, "DataLoader: incrementing an iterator at the end of the epoch");
}

// ---- the real MNIST ----------------------------------------------------------------------------------------------

TEST(DataLoaderMnist, EpochAndThroughput) {
  const std::string dir = mnist_dir();
  if (!mnist_available(dir)) GTEST_SKIP() << "MNIST not found in " << dir << "; run bash scripts/fetch-mnist.sh";
  const auto t_load = std::chrono::steady_clock::now();
  auto train = std::make_shared<MNIST>(dir, true);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  const auto normalize = std::make_shared<Normalize>(std::vector<double>{0.1307}, std::vector<double>{0.3081});
  const auto augment = std::make_shared<Compose>(std::vector<TransformPtr>{
      std::make_shared<RandomAffine>(10, std::make_pair(0.1, 0.1), std::make_pair(0.9, 1.1)), normalize});
  struct Config {
    const char* name;
    TransformPtr transform;
    std::int64_t prefetch;
  };
  const std::vector<Config> configs = {{"no transform, prefetch 2", nullptr, 2},
                                       {"no transform, no thread", nullptr, 0},
                                       {"Normalize, prefetch 2", normalize, 2},
                                       {"RandomAffine+Normalize, prefetch 2", augment, 2},
                                       {"RandomAffine+Normalize, no thread", augment, 0}};
  std::printf("[ MNIST    ] loaded 60000 training images in %.3f s\n", load_s);
  for (const Config& config : configs) {
    DataLoader loader(
        train,
        {.batch_size = 128, .shuffle = true, .seed = 1, .transform = config.transform, .prefetch = config.prefetch});
    EXPECT_EQ(loader.size(), 469);
    std::int64_t batches = 0, examples = 0;
    std::vector<std::int64_t> counts(10, 0);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& batch : loader) {
      ASSERT_EQ(batch.data.sizes(), (Shape{batch.labels.size(0), 1, 28, 28}));
      ++batches;
      examples += batch.labels.size(0);
      const std::int64_t* l = batch.labels.data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < batch.labels.size(0); ++i) ++counts[static_cast<std::size_t>(l[i])];
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(batches, 469);
    EXPECT_EQ(examples, 60000);
    EXPECT_EQ(counts[0], 5923);
    std::printf("[ MNIST    ] %-36s one epoch of 469 batches of 128 in %.3f s: %.0f batches/s\n", config.name, seconds,
                static_cast<double>(batches) / seconds);
  }
  // With a consumer that waits 1 ms on each batch (a stand-in for a training step running on a GPU), the prefetch
  // thread hides the augmentation: an epoch takes about max(produce, consume) instead of their sum.
  for (std::int64_t prefetch : {2, 0}) {
    DataLoader loader(train,
                      {.batch_size = 128, .shuffle = true, .seed = 1, .transform = augment, .prefetch = prefetch});
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t batches = 0;
    for (auto& batch : loader) {
      (void)batch;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++batches;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "[ MNIST    ] RandomAffine+Normalize, consumer waits 1 ms per batch, %s: %.3f s per epoch (%.0f batches/s)\n",
        prefetch > 0 ? "prefetch 2" : "no thread ", seconds, static_cast<double>(batches) / seconds);
  }
}
