// DataLoader: batches of a Dataset, one epoch per range-for, prepared ahead on a background thread.
//
//   auto train = std::make_shared<data::MNIST>(data::mnist_dir(), /*train=*/true);
//   data::DataLoader loader(train, {.batch_size = 128, .shuffle = true, .seed = 1,
//                                   .transform = std::make_shared<data::Normalize>(std::vector{0.1307},
//                                                                                  std::vector{0.3081})});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (auto& batch : loader) { ... batch.data [128, 1, 28, 28], batch.labels int64 [128] ... }
//
// Each begin() starts the next epoch (0, 1, 2, ...; set_epoch chooses it). The batches of epoch e -- which indices,
// in which order, and their random augmentations -- depend only on (seed, e): see Note [Reproducible data randomness].
//
// Note [Prefetching]
// While the caller works on batch k, a background thread builds batches k+1 .. k+prefetch (dataset get_batch, then
// the transform) into a bounded queue: one producer, one consumer, a mutex and two condition variables (queue not
// empty / queue not full). An exception thrown while building a batch is stored and rethrown to the caller at that
// batch's place in the epoch, after the batches before it. Starting a new epoch, or destroying the loader, mid-epoch
// tells the thread to stop and joins it (it finishes the batch it is building first). With prefetch = 0 batches are
// built on the caller's thread: same batches, no thread -- handy for debugging.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>

#include "trident/data/dataset.h"
#include "trident/data/sampler.h"
#include "trident/data/transforms.h"

namespace trident::data {

struct DataLoaderOptions {
  std::int64_t batch_size = 1;
  bool shuffle = false;              // a new random order each epoch (RandomSampler), else in order (SequentialSampler)
  std::uint64_t seed = 0;            // for the shuffle and for random transforms
  bool drop_last = false;            // drop the last batch when it is smaller than batch_size
  TransformPtr transform = nullptr;  // applied to each batch's data (not to its labels); null: none
  std::int64_t prefetch = 2;         // batches prepared ahead by the background thread; 0: no thread
};

class EpochRun;  // one epoch in flight (dataloader.cpp)

class DataLoader {
 public:
  // Batches of options.batch_size, shuffled or in order.
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  // Batches chosen by `sampler` (e.g. a PK sampler); options.batch_size and drop_last are then unused, and shuffle
  // must be false (ordering is the sampler's job).
  DataLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Sampler> sampler,
             DataLoaderOptions options = {});
  ~DataLoader();  // stops and joins the background thread of an unfinished epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::int64_t size() const;  // batches per epoch
  const Dataset& dataset() const { return *dataset_; }
  const Sampler& sampler() const { return *sampler_; }
  const DataLoaderOptions& options() const { return options_; }
  // The epoch the last begin() started (-1 before the first).
  std::int64_t epoch() const { return epoch_; }
  // The next begin() runs epoch `epoch` (>= 0), and the ones after it epoch + 1, ... (e.g. to resume a run).
  void set_epoch(std::int64_t epoch);

  // An input iterator over the batches of the running epoch. Only one epoch runs at a time: begin() stops any epoch
  // in progress, so iterators of the previous one must not be used after it.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator() = default;
    Batch& operator*() const;
    Batch* operator->() const { return &**this; }
    Iterator& operator++();  // waits for the next batch; rethrows an exception from building it
    bool operator==(const Iterator& other) const { return at_end() == other.at_end(); }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* loader) : loader_(loader) {}
    bool at_end() const;
    DataLoader* loader_ = nullptr;
  };

  Iterator begin();  // starts the next epoch and waits for its first batch
  Iterator end() { return Iterator(); }

 private:
  void advance();

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Sampler> sampler_;
  DataLoaderOptions options_;
  std::int64_t epoch_ = -1;
  std::int64_t next_epoch_ = 0;
  std::unique_ptr<EpochRun> run_;
  Batch current_;
  bool has_current_ = false;
};

}  // namespace trident::data
