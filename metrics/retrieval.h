// Retrieval metrics of an embedding: Precision@1, Recall@K, R-Precision, MAP@R.
// Semantics: METRIC_LEARNING.md "Evaluation" (the definitions of Musgrave et al. 2020, "A Metric Learning Reality
// Check", and of pytorch-metric-learning's AccuracyCalculator).
//
// For each query q with label y_q, the references are ranked by knn (metrics/knn.h: nearest first, ties by the
// smaller reference index); rel(i) = 1 when the i-th nearest reference has label y_q. R_q is the number of references
// with label y_q (the query itself not counted when query_in_reference). Then, per query:
//   Precision@1   rel(1)
//   Recall@K      1 if rel(i) = 1 for some i <= K (at least one same-label item among the K nearest), else 0
//   R-Precision   (1/R_q) sum_{i=1..R_q} rel(i)
//   MAP@R         (1/R_q) sum_{i=1..R_q} P(i) rel(i),   P(i) = (1/i) sum_{j=1..i} rel(j)
// and each metric is the mean over the evaluated queries.
//
// Queries with R_q = 0 (no reference shares their label, e.g. a class with a single item when query_in_reference)
// have nothing to retrieve: they are left out of every metric (pytorch-metric-learning does the same for its "lone"
// queries) and counted in RetrievalMetrics::queries_without_match. When no query has a match, the metrics are
// undefined and retrieval_metrics throws (pytorch-metric-learning returns 0 there instead).
//
// The kNN is run with k = max(max_q R_q, max recall K), streamed chunk by chunk (knn_chunked), so memory stays
// O(chunk x |reference|).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "trident/core/tensor.h"
#include "trident/ops/distance.h"

namespace trident {

struct RetrievalOptions {
  Distance distance = Distance::Euclidean;  // used as in knn: normalise the embeddings first if you want that
  bool query_in_reference = false;          // the query set is the reference set (row i is reference i)
  std::vector<std::int64_t> recall_at = {1, 2, 4, 8};  // the K of Recall@K, each in [1, candidates per query]
  std::int64_t chunk = 1024;                           // query rows per GEMM block
};

struct RetrievalMetrics {
  double precision_at_1 = 0;
  std::map<std::int64_t, double> recall_at_k;  // K -> fraction of the evaluated queries
  double r_precision = 0;
  double map_at_r = 0;
  std::int64_t queries_evaluated = 0;      // queries with R_q > 0: the denominators of the means above
  std::int64_t queries_without_match = 0;  // queries with R_q = 0, left out
};

// query_embeddings: [Q, D] float32/float64, query_labels: [Q] int64,
// reference_embeddings: [R, D] (same dtype), reference_labels: [R] int64.
// With query_in_reference, pass the same set twice (Q == R).
// Errors: the knn errors (metrics/knn.h); labels not int64, not 1-d or of a length that differs from the embeddings';
//   an empty recall_at or a K < 1 or larger than the references a query can match; query_in_reference with labels
//   that differ between the two sets; no query with a same-label reference.
RetrievalMetrics retrieval_metrics(const Tensor& query_embeddings, const Tensor& query_labels,
                                   const Tensor& reference_embeddings, const Tensor& reference_labels,
                                   const RetrievalOptions& options = {});

}  // namespace trident
