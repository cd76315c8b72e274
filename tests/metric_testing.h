// Helpers shared by the metric-learning loss and metric tests: label tensors, random labels, and the sorted distances
// of a batch (for options scaled to the batch, e.g. margins at quantiles of its distances).
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "trident/trident.h"

namespace trident::testing {

// labels: -> int64 [B]
inline Tensor labels_of(const std::vector<std::int64_t>& v) { return tensor(v, {static_cast<std::int64_t>(v.size())}); }

// B labels drawn uniformly from [0, classes), deterministic in seed.
inline std::vector<std::int64_t> random_labels(std::int64_t b, std::int64_t classes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> pick(0, classes - 1);
  std::vector<std::int64_t> y(static_cast<std::size_t>(b));
  for (auto& v : y) v = pick(rng);
  return y;
}

// The B (B - 1) off-diagonal entries of the loss's distance matrix of x [B, D] (prepared as the loss prepares it:
// normalised unless o says not), ascending.
inline std::vector<double> sorted_distances(const Tensor& x, const DistanceOptions& o) {
  const Tensor d = distance_matrix(prepare_embeddings(x, o), o.distance);
  const std::int64_t b = x.size(0);
  const auto v = d.to_vector<double>();
  std::vector<double> out;
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      if (i != j) out.push_back(v[static_cast<std::size_t>(i * b + j)]);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace trident::testing
