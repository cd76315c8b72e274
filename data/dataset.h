// Dataset: indexed (example, label) pairs, the input of a DataLoader.
//
// A dataset answers three questions: how many examples (size), one example (get), and a batch of examples
// (get_batch). get_batch has a default that stacks get(i); datasets stored as one big tensor (TensorDataset, MNIST)
// override it with a direct copy, which is what makes a DataLoader fast. labels() gives every example's label at
// once, for samplers that choose batches by class (PK sampling).
//
// Thread safety: a DataLoader calls get_batch from its background thread while the caller's thread may call other
// const members; implementations must keep their const members free of unsynchronised mutable state.
#pragma once

#include <cstdint>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::data {

struct Example {
  Tensor data;  // one example, e.g. [1, 28, 28]
  std::int64_t label = 0;
};

struct Batch {
  Tensor data;    // [B, ...]: the examples stacked along a new first dim
  Tensor labels;  // int64 [B]
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual std::int64_t size() const = 0;
  // 0 <= index < size(); otherwise throws "<dataset>: index 7 out of range for 5 examples".
  virtual Example get(std::int64_t index) const = 0;
  // indices: each in [0, size()) -> Batch{[B, ...], int64 [B]}, in the order given (repeats allowed).
  // Default: stacks get(i) for every index.
  virtual Batch get_batch(const std::vector<std::int64_t>& indices) const;
  // int64 [size()]: every example's label. Default: collects get(i).label (override when labels are at hand).
  virtual Tensor labels() const;
};

// A dataset over tensors already in memory: example i is data[i] (a view), its label labels[i].
// data: [N, ...] (any dtype), labels: int64 [N].
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor data, Tensor labels);

  std::int64_t size() const override { return data_.size(0); }
  Example get(std::int64_t index) const override;
  Batch get_batch(const std::vector<std::int64_t>& indices) const override;  // index_select: one copy
  Tensor labels() const override { return labels_; }
  const Tensor& data() const { return data_; }

 private:
  Tensor data_;
  Tensor labels_;
};

// Throws "<who>: index <i> out of range for <n> examples" unless 0 <= i < n.
void check_example_index(const char* who, std::int64_t index, std::int64_t size);

}  // namespace trident::data
