// Embedding: a lookup table of learned vectors.
#pragma once

#include <cstdint>

#include "trident/core/random.h"
#include "trident/nn/module.h"

namespace trident::nn {

// indices: [*] int64 in [0, num_embeddings) -> [*, embedding_dim], the rows of weight (index_select on dim 0; the
// gradient scatters back into the rows used).
// Parameter: weight [num_embeddings, embedding_dim] ~ N(0, 1), as PyTorch.
class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  void reset_parameters(Generator* gen = nullptr);
  std::string extra_repr() const override;

  std::int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

}  // namespace trident::nn
