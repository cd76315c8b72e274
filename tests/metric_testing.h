// Helpers shared by the metric-learning loss and metric tests: label tensors, random labels, the sorted distances of a
// batch (for options scaled to the batch, e.g. margins at quantiles of its distances), and the check that a loss gives
// the same bits on one thread and on two.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
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

// Evaluates loss(x) and dloss/dx with 1 thread and then with 2, and expects the same bits both times: the fused losses
// keep per-row (per-anchor, per-proxy) partial results and add them in a fixed order, so the thread count must not move
// the last bit. x must be large enough for the loss's parallel paths. One shared path is outside the promise: the dense
// distance-matrix backward (losses/metric_common.cpp), parallel from B = 256, adds per-thread column sums, whose bits
// repeat from run to run at one thread count but change with the count; the checks of the losses that can take it (a
// G with more than a few non-zeros per row: the pair losses, the triplet minings but batch-hard) stay below B = 256.
// The thread count is put back afterwards.
inline void expect_same_bits_on_1_and_2_threads(const std::function<Tensor(const Tensor&)>& loss, const Tensor& x) {
  const int before = get_num_threads();
  std::vector<double> values;
  std::vector<Tensor> grads;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor xg = x.clone().set_requires_grad();
    Tensor l = loss(xg);
    l.backward();
    values.push_back(l.item<double>());
    grads.push_back(xg.grad().to(kFloat64));
  }
  set_num_threads(before);
  EXPECT_EQ(values[0], values[1]);
  const auto g1 = grads[0].to_vector<double>(), g2 = grads[1].to_vector<double>();
  ASSERT_EQ(g1.size(), g2.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < g1.size(); ++i) differ += g1[i] != g2[i] ? 1 : 0;
  EXPECT_EQ(differ, 0u) << "of " << g1.size() << " gradient entries";
}

}  // namespace trident::testing
