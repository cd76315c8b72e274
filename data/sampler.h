// Samplers: which examples form each batch of an epoch.
//
// A sampler hands out whole batches of dataset indices, not single indices, because the interesting samplers of
// metric learning build batches by structure: a PK sampler takes P classes and K examples of each, so that every
// batch holds positives and negatives for each anchor. Sequential and random samplers are the simple cases.
//
// batches(epoch) must be a pure function of the sampler's settings and the epoch number: the same seed gives the same
// batches on every run and machine, each epoch gets its own order, and a run can resume at any epoch.
#pragma once

#include <cstdint>
#include <vector>

namespace trident::data {

using IndexBatch = std::vector<std::int64_t>;

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The batches of epoch `epoch` (>= 0), in order.
  virtual std::vector<IndexBatch> batches(std::int64_t epoch) const = 0;
  // How many batches batches(epoch) returns; the same for every epoch.
  virtual std::int64_t num_batches() const = 0;
};

// 0, 1, ..., size-1 in order, cut into batches of batch_size; the last one is smaller unless drop_last drops it.
class SequentialSampler : public Sampler {
 public:
  SequentialSampler(std::int64_t size, std::int64_t batch_size, bool drop_last = false);
  std::vector<IndexBatch> batches(std::int64_t epoch) const override;
  std::int64_t num_batches() const override;

 private:
  std::int64_t size_, batch_size_;
  bool drop_last_;
};

// A random permutation of 0..size-1 per epoch, drawn from (seed, epoch) (Note [Reproducible data randomness]), cut
// into batches like SequentialSampler. Every index appears exactly once per epoch (except those drop_last drops).
class RandomSampler : public Sampler {
 public:
  RandomSampler(std::int64_t size, std::int64_t batch_size, std::uint64_t seed, bool drop_last = false);
  std::vector<IndexBatch> batches(std::int64_t epoch) const override;
  std::int64_t num_batches() const override;
  std::vector<std::int64_t> permutation(std::int64_t epoch) const;

 private:
  std::int64_t size_, batch_size_;
  std::uint64_t seed_;
  bool drop_last_;
};

// Cuts `order` into consecutive batches of batch_size (the last one partial unless drop_last).
std::vector<IndexBatch> split_into_batches(const std::vector<std::int64_t>& order, std::int64_t batch_size,
                                           bool drop_last);
// Batches per epoch for `size` examples.
std::int64_t count_batches(std::int64_t size, std::int64_t batch_size, bool drop_last);

}  // namespace trident::data
