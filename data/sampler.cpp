#include "trident/data/sampler.h"

#include <numeric>

#include "trident/core/error.h"
#include "trident/data/random_engine.h"

namespace trident::data {

namespace {
void check_sizes(const char* who, std::int64_t size, std::int64_t batch_size) {
  TRIDENT_CHECK(size >= 0, "{}: dataset size must be >= 0, got {}", who, size);
  TRIDENT_CHECK(batch_size >= 1, "{}: batch_size must be >= 1, got {}", who, batch_size);
}
void check_epoch(const char* who, std::int64_t epoch) {
  TRIDENT_CHECK(epoch >= 0, "{}: epoch must be >= 0, got {}", who, epoch);
}
}  // namespace

std::int64_t count_batches(std::int64_t size, std::int64_t batch_size, bool drop_last) {
  return drop_last ? size / batch_size : (size + batch_size - 1) / batch_size;
}

std::vector<IndexBatch> split_into_batches(const std::vector<std::int64_t>& order, std::int64_t batch_size,
                                           bool drop_last) {
  TRIDENT_CHECK(batch_size >= 1, "split_into_batches: batch_size must be >= 1, got {}", batch_size);
  const auto n = static_cast<std::int64_t>(order.size());
  std::vector<IndexBatch> out;
  out.reserve(static_cast<std::size_t>(count_batches(n, batch_size, drop_last)));
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t end = std::min(n, start + batch_size);
    if (drop_last && end - start < batch_size) break;
    out.emplace_back(order.begin() + start, order.begin() + end);
  }
  return out;
}

SequentialSampler::SequentialSampler(std::int64_t size, std::int64_t batch_size, bool drop_last)
    : size_(size), batch_size_(batch_size), drop_last_(drop_last) {
  check_sizes("SequentialSampler", size, batch_size);
}

std::vector<IndexBatch> SequentialSampler::batches(std::int64_t epoch) const {
  check_epoch("SequentialSampler", epoch);
  std::vector<std::int64_t> order(static_cast<std::size_t>(size_));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  return split_into_batches(order, batch_size_, drop_last_);
}

std::int64_t SequentialSampler::num_batches() const { return count_batches(size_, batch_size_, drop_last_); }

RandomSampler::RandomSampler(std::int64_t size, std::int64_t batch_size, std::uint64_t seed, bool drop_last)
    : size_(size), batch_size_(batch_size), seed_(seed), drop_last_(drop_last) {
  check_sizes("RandomSampler", size, batch_size);
}

std::vector<std::int64_t> RandomSampler::permutation(std::int64_t epoch) const {
  check_epoch("RandomSampler", epoch);
  std::vector<std::int64_t> order(static_cast<std::size_t>(size_));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  RandomEngine engine(seed_, {kShuffleStream, static_cast<std::uint64_t>(epoch)});
  engine.shuffle(order.data(), size_);
  return order;
}

std::vector<IndexBatch> RandomSampler::batches(std::int64_t epoch) const {
  return split_into_batches(permutation(epoch), batch_size_, drop_last_);
}

std::int64_t RandomSampler::num_batches() const { return count_batches(size_, batch_size_, drop_last_); }

}  // namespace trident::data
