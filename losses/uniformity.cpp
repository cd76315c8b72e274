// The uniformity regulariser. Contract and derivation: uniformity.h, Note [Uniformity over different-label pairs].
#include "trident/losses/uniformity.h"

#include <cmath>
#include <vector>

#include "trident/core/error.h"
#include "trident/losses/metric_common.h"
#include "trident/ops/distance.h"
#include "trident/ops/factory.h"
#include "trident/ops/reduce.h"
#include "trident/ops/shape.h"

namespace trident {

Tensor uniformity_loss(const Tensor& embeddings, const Tensor& labels, UniformityOptions options) {
  constexpr const char* op = "uniformity_loss";
  check_metric_inputs(op, embeddings, labels);
  TRIDENT_CHECK(options.t > 0 && std::isfinite(options.t), "{}: t must be a positive finite number, got {}", op,
                options.t);
  const std::int64_t b = embeddings.size(0);
  // The flat indices i * B + j of Q's pairs (i < j, y_i != y_j) into the B x B matrix.
  const std::vector<std::int64_t> y = labels.contiguous().to_vector<std::int64_t>();
  std::vector<std::int64_t> pairs;
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t j = i + 1; j < b; ++j)
      if (y[i] != y[j]) pairs.push_back(i * b + j);
  if (pairs.empty()) return sum(embeddings) * 0.0;  // one class: 0, with an exactly-0 gradient
  const Tensor e = options.normalize ? l2_normalize(embeddings, 1) : embeddings;
  const Tensor d2 = pairwise_distance(e, Tensor(), Distance::SquaredEuclidean);         // [B, B]
  const Tensor q = reshape(d2, {b * b}).index_select(0, tensor(pairs)) * (-options.t);  // [|Q|]
  return logsumexp(q, {0}) - std::log(static_cast<double>(pairs.size()));               // []
}

}  // namespace trident
