#include "trident/data/dataset.h"

#include "trident/ops/factory.h"
#include "trident/ops/index.h"
#include "trident/ops/shape.h"

namespace trident::data {

void check_example_index(const char* who, std::int64_t index, std::int64_t size) {
  TRIDENT_CHECK(index >= 0 && index < size, "{}: index {} out of range for {} examples", who, index, size);
}

Batch Dataset::get_batch(const std::vector<std::int64_t>& indices) const {
  TRIDENT_CHECK(!indices.empty(), "Dataset::get_batch: empty list of indices");
  std::vector<Tensor> examples;
  std::vector<std::int64_t> labels;
  examples.reserve(indices.size());
  labels.reserve(indices.size());
  for (std::int64_t i : indices) {
    Example e = get(i);
    examples.push_back(std::move(e.data));
    labels.push_back(e.label);
  }
  return Batch{stack(examples, 0), tensor(labels)};
}

Tensor Dataset::labels() const {
  std::vector<std::int64_t> all(static_cast<std::size_t>(size()));
  for (std::int64_t i = 0; i < size(); ++i) all[static_cast<std::size_t>(i)] = get(i).label;
  return tensor(all);
}

TensorDataset::TensorDataset(Tensor data, Tensor labels) : data_(std::move(data)), labels_(std::move(labels)) {
  TRIDENT_CHECK(data_.defined() && labels_.defined(), "TensorDataset: data and labels must be defined tensors");
  TRIDENT_CHECK(data_.dim() >= 1, "TensorDataset: data must be [N, ...], got a 0-d tensor");
  TRIDENT_CHECK(labels_.dtype() == kInt64, "TensorDataset: labels must be int64, got {}", labels_.dtype());
  TRIDENT_CHECK(labels_.dim() == 1 && labels_.size(0) == data_.size(0),
                "TensorDataset: labels must be [{}] to match data {}, got {}", data_.size(0), shape_str(data_.sizes()),
                shape_str(labels_.sizes()));
  data_ = data_.detach();
  labels_ = labels_.detach().contiguous();
}

Example TensorDataset::get(std::int64_t index) const {
  check_example_index("TensorDataset", index, size());
  return Example{data_.slice(0, index, index + 1).squeeze(0), labels_.at<std::int64_t>({index})};
}

Batch TensorDataset::get_batch(const std::vector<std::int64_t>& indices) const {
  TRIDENT_CHECK(!indices.empty(), "TensorDataset::get_batch: empty list of indices");
  for (std::int64_t i : indices) check_example_index("TensorDataset", i, size());
  const Tensor index = tensor(indices);
  return Batch{data_.index_select(0, index), labels_.index_select(0, index)};
}

}  // namespace trident::data
