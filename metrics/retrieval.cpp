// Retrieval metrics from streamed exact kNN. Contracts and definitions: metrics/retrieval.h.
#include "trident/metrics/retrieval.h"

#include <algorithm>
#include <unordered_map>

#include "trident/metrics/knn.h"
#include "trident/ops/checks.h"

namespace trident {

namespace {

std::vector<std::int64_t> labels_vector(const Tensor& labels, const Tensor& embeddings, const char* what) {
  check_defined("retrieval_metrics", labels, what);
  TRIDENT_CHECK(labels.dtype() == kInt64, "retrieval_metrics: {} must be int64, got {}", what, labels.dtype());
  TRIDENT_CHECK(labels.dim() == 1, "retrieval_metrics: {} must be 1-d, got shape {}", what, shape_str(labels.sizes()));
  if (embeddings.defined() && embeddings.dim() >= 1) {
    TRIDENT_CHECK(labels.size(0) == embeddings.size(0),
                  "retrieval_metrics: expected {} of shape [{}] for embeddings {}, got {}", what, embeddings.size(0),
                  shape_str(embeddings.sizes()), shape_str(labels.sizes()));
  }
  return labels.to_vector<std::int64_t>();
}

}  // namespace

RetrievalMetrics retrieval_metrics(const Tensor& query_embeddings, const Tensor& query_labels,
                                   const Tensor& reference_embeddings, const Tensor& reference_labels,
                                   const RetrievalOptions& options) {
  check_defined("retrieval_metrics", query_embeddings, "query embeddings");
  check_defined("retrieval_metrics", reference_embeddings, "reference embeddings");
  const std::vector<std::int64_t> qy = labels_vector(query_labels, query_embeddings, "query labels");
  const std::vector<std::int64_t> ry = labels_vector(reference_labels, reference_embeddings, "reference labels");
  const bool self = options.query_in_reference;
  if (self) {
    TRIDENT_CHECK(qy.size() == ry.size(),
                  "retrieval_metrics: query_in_reference needs the query set to be the reference set, got {} query "
                  "rows and {} reference rows",
                  qy.size(), ry.size());
    TRIDENT_CHECK(qy == ry,
                  "retrieval_metrics: query_in_reference needs the query set to be the reference set, but the query "
                  "and reference labels differ");
  }
  const std::int64_t candidates = static_cast<std::int64_t>(ry.size()) - (self ? 1 : 0);
  TRIDENT_CHECK(!options.recall_at.empty(), "retrieval_metrics: recall_at is empty");
  std::int64_t max_recall_k = 0;
  for (std::int64_t kk : options.recall_at) {
    TRIDENT_CHECK(kk >= 1 && kk <= candidates,
                  "retrieval_metrics: Recall@K needs 1 <= K <= {} (the references a query can match), got K = {}",
                  candidates, kk);
    max_recall_k = std::max(max_recall_k, kk);
  }

  // R_q: the references that share the query's label, the query itself not counted.
  std::unordered_map<std::int64_t, std::int64_t> count;
  for (std::int64_t y : ry) ++count[y];
  std::vector<std::int64_t> relevant(qy.size());
  std::int64_t max_relevant = 0;
  for (std::size_t i = 0; i < qy.size(); ++i) {
    const auto it = count.find(qy[i]);
    relevant[i] = (it == count.end() ? 0 : it->second) - (self ? 1 : 0);
    max_relevant = std::max(max_relevant, relevant[i]);
  }
  TRIDENT_CHECK(max_relevant > 0,
                "retrieval_metrics: no query has a reference with its label{}, so every metric is undefined",
                self ? " (other than itself)" : "");

  const std::int64_t k = std::max(max_relevant, max_recall_k);
  RetrievalMetrics m;
  double p1 = 0, rp = 0, map = 0;
  std::vector<double> recall(options.recall_at.size(), 0.0);
  knn_chunked(query_embeddings, reference_embeddings, k, options.distance, self, options.chunk,
              [&](std::int64_t first, const KnnResult& block) {
                const std::int64_t* idx = block.indices.data_ptr<std::int64_t>();
                const std::int64_t n = block.indices.size(0);
                for (std::int64_t i = 0; i < n; ++i) {
                  const std::size_t q = static_cast<std::size_t>(first + i);
                  const std::int64_t r = relevant[q];
                  if (r == 0) {
                    ++m.queries_without_match;
                    continue;
                  }
                  ++m.queries_evaluated;
                  const std::int64_t* row = idx + i * k;
                  auto rel = [&](std::int64_t pos) { return ry[static_cast<std::size_t>(row[pos])] == qy[q]; };
                  // First position (0-based) of a same-label neighbour within the k, or k if none.
                  std::int64_t first_hit = 0;
                  while (first_hit < k && !rel(first_hit)) ++first_hit;
                  p1 += first_hit == 0 ? 1.0 : 0.0;
                  for (std::size_t j = 0; j < options.recall_at.size(); ++j) {
                    recall[j] += first_hit < options.recall_at[j] ? 1.0 : 0.0;
                  }
                  std::int64_t hits = 0;
                  double ap = 0;
                  for (std::int64_t pos = 0; pos < r; ++pos) {
                    if (rel(pos)) {
                      ++hits;
                      ap += static_cast<double>(hits) / static_cast<double>(pos + 1);  // P(i) rel(i), i = pos + 1
                    }
                  }
                  rp += static_cast<double>(hits) / static_cast<double>(r);
                  map += ap / static_cast<double>(r);
                }
              });
  const double n = static_cast<double>(m.queries_evaluated);
  m.precision_at_1 = p1 / n;
  m.r_precision = rp / n;
  m.map_at_r = map / n;
  for (std::size_t j = 0; j < options.recall_at.size(); ++j) m.recall_at_k[options.recall_at[j]] = recall[j] / n;
  return m;
}

}  // namespace trident
