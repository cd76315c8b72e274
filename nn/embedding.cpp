// Embedding. Interface: nn/embedding.h.
#include "trident/nn/embedding.h"

#include "trident/nn/init.h"
#include "trident/ops/index.h"

namespace trident::nn {

Embedding::Embedding(std::int64_t num_embeddings_, std::int64_t embedding_dim_)
    : num_embeddings(num_embeddings_), embedding_dim(embedding_dim_) {
  TRIDENT_CHECK(num_embeddings > 0 && embedding_dim > 0,
                "Embedding: num_embeddings and embedding_dim must be positive, got {} and {}", num_embeddings,
                embedding_dim);
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters(Generator* gen) { init::normal_(weight, 0.0, 1.0, gen); }

Tensor Embedding::forward(const Tensor& indices) {
  TRIDENT_CHECK(indices.defined(), "Embedding: the indices are an undefined tensor");
  TRIDENT_CHECK(indices.dtype() == kInt64, "Embedding: indices must be int64, got {}", indices.dtype());
  Shape out_shape = indices.sizes();
  out_shape.push_back(embedding_dim);
  // index_select checks the range and names the bad index.
  return index_select(weight, 0, indices.reshape({indices.numel()})).reshape(out_shape);
}

std::string Embedding::extra_repr() const { return fmt::format("{}, {}", num_embeddings, embedding_dim); }

}  // namespace trident::nn
