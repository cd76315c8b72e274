// Exact k-nearest-neighbour search for evaluation (metrics/retrieval.h). Semantics: METRIC_LEARNING.md "Evaluation".
//
// Distances come from chunked GEMM blocks: a chunk of c query rows at a time, the block [c, R] of dot products with
// every reference row, then a partial sort of each row (OpenMP over the rows). Memory O(chunk x R), never Q x R.
// Not differentiable: the inputs are read without autograd.
#pragma once

#include <cstdint>
#include <functional>

#include "trident/core/tensor.h"
#include "trident/ops/distance.h"

namespace trident {

// Neighbours of Q queries, k each, nearest first.
struct KnnResult {
  Tensor indices;    // [Q, k] int64: rows of the reference set
  Tensor distances;  // [Q, k] the input's dtype: distances ascending, or similarities descending (cosine, dot)
};

// query: [Q, D], reference: [R, D] (same floating dtype, float32 or float64; any device, results on the CPU)
//   -> indices and distances [Q, k].
// distance: Euclidean and SquaredEuclidean are distances (nearest = smallest), computed from one GEMM as
//   max(|q|^2 + |r|^2 - 2 q.r, 0) (its sqrt for Euclidean), exactly like pairwise_distance; Cosine and Dot are
//   similarities (nearest = largest). The embeddings are used as given: normalise them first if you want that
//   (Cosine normalises by definition).
// query_in_reference: the query set is the reference set (Q == R, query row i is reference row i): a query never
//   matches itself, so k <= R - 1. Otherwise k <= R.
// Ties are broken by the smaller reference index, so the result is deterministic (also across chunk sizes and thread
//   counts, as long as the GEMM gives the same value for the same pair of rows).
// chunk: query rows per GEMM block (>= 1).
// Errors: inputs not 2-d, not floating, of different dtypes, devices or embedding sizes; k < 1 or k larger than the
//   number of candidates; NaN or infinity in the embeddings; query_in_reference with Q != R.
KnnResult knn(const Tensor& query, const Tensor& reference, std::int64_t k, Distance distance = Distance::Euclidean,
              bool query_in_reference = false, std::int64_t chunk = 1024);

// The streaming form of knn, for consumers that never need all Q x k neighbours at once (retrieval_metrics):
// for each chunk of query rows [first, first + n) calls visit(first, block) with block.indices / block.distances of
// shape [n, k] (contiguous, CPU). Same arguments, checks and results as knn.
void knn_chunked(const Tensor& query, const Tensor& reference, std::int64_t k, Distance distance,
                 bool query_in_reference, std::int64_t chunk,
                 const std::function<void(std::int64_t first, const KnnResult& block)>& visit);

}  // namespace trident
