#include "trident/data/dataloader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "trident/core/autograd/grad_mode.h"

namespace trident::data {

// One epoch: its batches of indices and, with prefetching, the thread that builds them (Note [Prefetching]).
class EpochRun {
 public:
  EpochRun(std::shared_ptr<const Dataset> dataset, TransformPtr transform, std::uint64_t seed, std::int64_t epoch,
           std::vector<IndexBatch> batches, std::int64_t prefetch)
      : dataset_(std::move(dataset)),
        transform_(std::move(transform)),
        seed_(seed),
        epoch_(epoch),
        batches_(std::move(batches)),
        capacity_(static_cast<std::size_t>(prefetch)) {
    if (capacity_ > 0 && !batches_.empty()) worker_ = std::thread([this] { work(); });
  }

  ~EpochRun() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    not_full_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  EpochRun(const EpochRun&) = delete;
  EpochRun& operator=(const EpochRun&) = delete;

  // The next batch into `out`; false at the end of the epoch. Rethrows an exception from building the batch.
  bool next(Batch& out) {
    if (!worker_.joinable()) {
      if (next_batch_ >= batches_.size()) return false;
      out = build(next_batch_++);
      return true;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [this] { return !ready_.empty() || finished_; });
    if (!ready_.empty()) {
      out = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      not_full_.notify_one();
      return true;
    }
    if (error_) {
      std::exception_ptr error = std::exchange(error_, nullptr);
      std::rethrow_exception(error);
    }
    return false;
  }

 private:
  // Batch b of the epoch: the dataset's examples, then the transform with the engine of (seed, epoch, b).
  Batch build(std::size_t b) const {
    NoGradGuard no_grad;  // grad mode is per thread; data preparation never records a graph
    const IndexBatch& indices = batches_[b];
    Batch batch = dataset_->get_batch(indices);
    const auto n = static_cast<std::int64_t>(indices.size());
    TRIDENT_CHECK(batch.data.defined() && batch.data.dim() >= 1 && batch.data.size(0) == n,
                  "DataLoader: the dataset's get_batch returned data {} for {} indices, expected [{}, ...]",
                  batch.data.defined() ? shape_str(batch.data.sizes()) : std::string("(undefined)"), n, n);
    TRIDENT_CHECK(batch.labels.defined() && batch.labels.dtype() == kInt64 && batch.labels.sizes() == Shape{n},
                  "DataLoader: the dataset's get_batch returned labels {} for {} indices, expected int64 [{}]",
                  batch.labels.defined() ? fmt::format("{} {}", batch.labels.dtype(), shape_str(batch.labels.sizes()))
                                         : std::string("(undefined)"),
                  n, n);
    if (transform_) {
      RandomEngine engine(seed_, {kAugmentStream, static_cast<std::uint64_t>(epoch_), static_cast<std::uint64_t>(b)});
      batch.data = transform_->apply(batch.data, engine);
    }
    return batch;
  }

  void work() {
    for (std::size_t b = 0; b < batches_.size(); ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        not_full_.wait(lock, [this] { return stop_ || ready_.size() < capacity_; });
        if (stop_) return;
      }
      Batch batch;
      try {
        batch = build(b);
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          error_ = std::current_exception();
          finished_ = true;
        }
        not_empty_.notify_one();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return;
        ready_.push_back(std::move(batch));
      }
      not_empty_.notify_one();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    not_empty_.notify_one();
  }

  const std::shared_ptr<const Dataset> dataset_;
  const TransformPtr transform_;
  const std::uint64_t seed_;
  const std::int64_t epoch_;
  const std::vector<IndexBatch> batches_;
  const std::size_t capacity_;
  std::size_t next_batch_ = 0;  // without a worker: the next batch to build

  std::mutex mutex_;
  std::condition_variable not_empty_;  // the consumer waits for a batch (or the end)
  std::condition_variable not_full_;   // the worker waits for room in the queue (or stop)
  std::deque<Batch> ready_;            // built batches, in epoch order
  bool finished_ = false;              // the worker has built its last batch or failed
  bool stop_ = false;                  // the consumer no longer wants batches
  std::exception_ptr error_;           // what building a batch threw
  std::thread worker_;                 // last member: started after all the state above exists
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TRIDENT_CHECK(dataset_ != nullptr, "DataLoader: null dataset");
  TRIDENT_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got {}", options_.batch_size);
  TRIDENT_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got {}", options_.prefetch);
  if (options_.shuffle) {
    sampler_ =
        std::make_shared<RandomSampler>(dataset_->size(), options_.batch_size, options_.seed, options_.drop_last);
  } else {
    sampler_ = std::make_shared<SequentialSampler>(dataset_->size(), options_.batch_size, options_.drop_last);
  }
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Sampler> sampler,
                       DataLoaderOptions options)
    : dataset_(std::move(dataset)), sampler_(std::move(sampler)), options_(std::move(options)) {
  TRIDENT_CHECK(dataset_ != nullptr, "DataLoader: null dataset");
  TRIDENT_CHECK(sampler_ != nullptr, "DataLoader: null sampler");
  TRIDENT_CHECK(!options_.shuffle, "DataLoader: shuffle must be false when a sampler is given (the sampler orders)");
  TRIDENT_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got {}", options_.prefetch);
}

DataLoader::~DataLoader() = default;

std::int64_t DataLoader::size() const { return sampler_->num_batches(); }

void DataLoader::set_epoch(std::int64_t epoch) {
  TRIDENT_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be >= 0, got {}", epoch);
  next_epoch_ = epoch;
}

DataLoader::Iterator DataLoader::begin() {
  run_.reset();  // stops the previous epoch's thread, if any
  has_current_ = false;
  current_ = Batch{};
  epoch_ = next_epoch_++;
  run_ = std::make_unique<EpochRun>(dataset_, options_.transform, options_.seed, epoch_, sampler_->batches(epoch_),
                                    options_.prefetch);
  advance();
  return Iterator(this);
}

void DataLoader::advance() {
  TRIDENT_CHECK(run_ != nullptr, "DataLoader: iterator advanced past the end of the epoch");
  try {
    has_current_ = run_->next(current_);
  } catch (...) {
    has_current_ = false;
    current_ = Batch{};
    run_.reset();
    throw;
  }
  if (!has_current_) {
    current_ = Batch{};
    run_.reset();
  }
}

bool DataLoader::Iterator::at_end() const { return loader_ == nullptr || !loader_->has_current_; }

Batch& DataLoader::Iterator::operator*() const {
  TRIDENT_CHECK(!at_end(), "DataLoader: dereferencing an iterator at the end of the epoch");
  return loader_->current_;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  TRIDENT_CHECK(!at_end(), "DataLoader: incrementing an iterator at the end of the epoch");
  loader_->advance();
  return *this;
}

}  // namespace trident::data
