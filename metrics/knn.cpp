// Exact k-nearest neighbours by chunked GEMM and per-row partial sorts. Contracts: metrics/knn.h.
#include "trident/metrics/knn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "trident/core/autograd/grad_mode.h"
#include "trident/ops/checks.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/matmul.h"
#include "trident/ops/reduce.h"

namespace trident {

namespace {

void check_finite(const char* op, const Tensor& x, const char* what) {
  // x * 0 is 0 for every finite x and NaN for NaN or +-inf, so one reduction finds any non-finite value.
  TRIDENT_CHECK(std::isfinite(sum(x * 0.0).item<double>()), "{}: {} contain NaN or infinity", op, what);
}

void check_knn_inputs(const Tensor& query, const Tensor& reference, std::int64_t k, bool query_in_reference,
                      std::int64_t chunk) {
  const char* op = "knn";
  check_defined(op, query, "query");
  check_defined(op, reference, "reference");
  TRIDENT_CHECK(query.dim() == 2, "knn: query must be 2-d [Q, D], got shape {}", shape_str(query.sizes()));
  TRIDENT_CHECK(reference.dim() == 2, "knn: reference must be 2-d [R, D], got shape {}", shape_str(reference.sizes()));
  check_floating(op, query);
  check_same_dtype(op, query, reference);
  check_same_device(op, query, reference);
  TRIDENT_CHECK(query.size(1) == reference.size(1), "knn: embedding sizes differ: query {} and reference {}",
                shape_str(query.sizes()), shape_str(reference.sizes()));
  TRIDENT_CHECK(chunk >= 1, "knn: chunk must be >= 1, got {}", chunk);
  if (query_in_reference) {
    TRIDENT_CHECK(query.size(0) == reference.size(0),
                  "knn: query_in_reference needs the query set to be the reference set, got {} query rows and {} "
                  "reference rows",
                  query.size(0), reference.size(0));
  }
  const std::int64_t candidates = reference.size(0) - (query_in_reference ? 1 : 0);
  TRIDENT_CHECK(k >= 1, "knn: k must be >= 1, got {}", k);
  TRIDENT_CHECK(k <= candidates, "knn: k = {} exceeds the {} reference rows a query can match{}", k, candidates,
                query_in_reference ? " (itself excluded)" : "");
  check_finite(op, query, "query embeddings");
  check_finite(op, reference, "reference embeddings");
}

// For the n query rows [first, first + n): key[i, j] (in place over the GEMM block `dots`) is a quantity to sort
// ascending: the squared distance, or minus the similarity (negation is exact, so ties stay ties). Then the k smallest
// keys of each row are selected, ties by the smaller index, and written out as distances / similarities.
template <typename T>
void select_block(T* dots, const T* qsq, const T* rsq, std::int64_t n, std::int64_t r, std::int64_t first,
                  std::int64_t k, Distance distance, bool query_in_reference, std::int64_t* out_idx, T* out_dist) {
  const bool similarity = is_similarity(distance);
  const bool parallel = n > 1 && n * r > 32768;
#pragma omp parallel if (parallel)
  {
    std::vector<std::int64_t> order;
    order.reserve(static_cast<std::size_t>(r));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      T* key = dots + i * r;
      if (similarity) {
        for (std::int64_t j = 0; j < r; ++j) key[j] = -key[j];
      } else {
        // The formula of pairwise_distance: max(|q|^2 + |r|^2 - 2 q.r, 0).
        for (std::int64_t j = 0; j < r; ++j) key[j] = std::max(qsq[i] + rsq[j] - key[j] * T(2), T(0));
      }
      const std::int64_t self = query_in_reference ? first + i : -1;
      order.clear();
      for (std::int64_t j = 0; j < r; ++j) {
        if (j != self) order.push_back(j);
      }
      auto closer = [key](std::int64_t a, std::int64_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), closer);
      for (std::int64_t m = 0; m < k; ++m) {
        const std::int64_t j = order[static_cast<std::size_t>(m)];
        out_idx[i * k + m] = j;
        T v = key[j];
        if (similarity) {
          v = -v;
        } else if (distance == Distance::Euclidean) {
          v = std::sqrt(v);
        }
        out_dist[i * k + m] = v;
      }
    }
  }
}

template <typename T>
void run_chunks(const Tensor& q, const Tensor& ref, std::int64_t k, Distance distance, bool query_in_reference,
                std::int64_t chunk, const std::function<void(std::int64_t, const KnnResult&)>& visit) {
  const std::int64_t nq = q.size(0), nr = ref.size(0);
  const bool euclid = !is_similarity(distance);
  // Squared norms (for the euclidean forms), on the CPU: [Q] and [R].
  Tensor qsq, rsq;
  if (euclid) {
    qsq = sum(q * q, {1}).cpu().contiguous();
    rsq = sum(ref * ref, {1}).cpu().contiguous();
  }
  const Tensor ref_t = ref.t();
  for (std::int64_t first = 0; first < nq; first += chunk) {
    const std::int64_t n = std::min(chunk, nq - first);
    // [n, R]: a fresh tensor of our own, overwritten in place by select_block.
    Tensor dots = matmul(q.slice(0, first, first + n), ref_t).cpu().contiguous();
    KnnResult block{empty({n, k}, {.dtype = kInt64}), empty({n, k}, {.dtype = q.dtype()})};
    select_block<T>(dots.data_ptr<T>(), euclid ? qsq.data_ptr<T>() + first : nullptr,
                    euclid ? rsq.data_ptr<T>() : nullptr, n, nr, first, k, distance, query_in_reference,
                    block.indices.data_ptr<std::int64_t>(), block.distances.data_ptr<T>());
    visit(first, block);
  }
}

}  // namespace

void knn_chunked(const Tensor& query, const Tensor& reference, std::int64_t k, Distance distance,
                 bool query_in_reference, std::int64_t chunk,
                 const std::function<void(std::int64_t first, const KnnResult& block)>& visit) {
  NoGradGuard no_grad;
  check_knn_inputs(query, reference, k, query_in_reference, chunk);
  Tensor q = query.detach(), ref = reference.detach();
  if (distance == Distance::Cosine) {
    q = l2_normalize(q, 1);
    ref = l2_normalize(ref, 1);
  }
  if (q.dtype() == kFloat64) {
    run_chunks<double>(q, ref, k, distance, query_in_reference, chunk, visit);
  } else if (q.dtype() == kFloat32) {
    run_chunks<float>(q, ref, k, distance, query_in_reference, chunk, visit);
  } else {
    TRIDENT_CHECK(false, "knn: expected float32 or float64 embeddings, got {}", q.dtype());
  }
}

// query: [Q, D], reference: [R, D] -> indices, distances [Q, k]
KnnResult knn(const Tensor& query, const Tensor& reference, std::int64_t k, Distance distance, bool query_in_reference,
              std::int64_t chunk) {
  KnnResult out;
  knn_chunked(query, reference, k, distance, query_in_reference, chunk, [&](std::int64_t first, const KnnResult& b) {
    if (!out.indices.defined()) {
      out.indices = empty({query.size(0), k}, {.dtype = kInt64});
      out.distances = empty({query.size(0), k}, {.dtype = query.dtype()});
    }
    const std::int64_t n = b.indices.size(0);
    std::memcpy(out.indices.data_ptr<std::int64_t>() + first * k, b.indices.data_ptr<std::int64_t>(),
                static_cast<std::size_t>(n * k) * sizeof(std::int64_t));
    std::memcpy(static_cast<char*>(out.distances.raw_data()) + first * k * out.distances.itemsize(),
                b.distances.raw_data(), static_cast<std::size_t>(n * k) * out.distances.itemsize());
  });
  if (!out.indices.defined()) {  // Q == 0
    out.indices = empty({0, k}, {.dtype = kInt64});
    out.distances = empty({0, k}, {.dtype = query.dtype()});
  }
  return out;
}

}  // namespace trident
