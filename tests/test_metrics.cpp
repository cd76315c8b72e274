// metrics/: exact kNN, retrieval metrics (P@1, Recall@K, R-Precision, MAP@R) and verification metrics.
#include <algorithm>
#include <numeric>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/metrics/knn.h"
#include "trident/metrics/retrieval.h"
#include "trident/metrics/verification.h"

using namespace trident;
using trident::testing::labels_of;
using trident::testing::random_tensor;

namespace {

const Distance kAllDistances[] = {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot};

// Integer-valued embeddings: every dot product and squared distance is exact in float32 and float64, whatever the
// GEMM's summation order, so the ranking (ties included) is fully determined.
Tensor integer_embeddings(std::int64_t n, std::int64_t d, std::uint64_t seed, DType dtype) {
  Generator gen(seed);
  return randint(-3, 4, {n, d}, {.dtype = kInt64}, &gen).to(dtype);
}

// Brute force: every distance in float64 with plain loops, a full stable sort by (key, index).
KnnResult brute_knn(const Tensor& q_in, const Tensor& r_in, std::int64_t k, Distance distance, bool self) {
  Tensor q = q_in.to(kFloat64), r = r_in.to(kFloat64);
  if (distance == Distance::Cosine) {
    q = l2_normalize(q, 1);
    r = l2_normalize(r, 1);
  }
  const std::int64_t nq = q.size(0), nr = r.size(0), d = q.size(1);
  const auto qv = q.to_vector<double>(), rv = r.to_vector<double>();
  std::vector<std::int64_t> idx;
  std::vector<double> dist;
  for (std::int64_t i = 0; i < nq; ++i) {
    std::vector<double> key(static_cast<std::size_t>(nr));
    for (std::int64_t j = 0; j < nr; ++j) {
      double dot = 0, sq = 0;
      for (std::int64_t c = 0; c < d; ++c) {
        const double a = qv[i * d + c], b = rv[j * d + c];
        dot += a * b;
        sq += (a - b) * (a - b);
      }
      key[j] = is_similarity(distance) ? -dot : sq;
    }
    std::vector<std::int64_t> order;
    for (std::int64_t j = 0; j < nr; ++j)
      if (!(self && j == i)) order.push_back(j);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return key[a] < key[b]; });
    for (std::int64_t m = 0; m < k; ++m) {
      const std::int64_t j = order[m];
      idx.push_back(j);
      dist.push_back(is_similarity(distance) ? -key[j] : distance == Distance::Euclidean ? std::sqrt(key[j]) : key[j]);
    }
  }
  return {tensor(idx, {nq, k}), tensor(dist, {nq, k})};
}

}  // namespace

// ---- kNN
// --------------------------------------------------------------------------------------------------------------

// Chunked equals unchunked equals a brute-force sort, on integer data full of ties, for every distance and dtype.
TEST(Knn, ChunkedEqualsBruteForce) {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (Distance distance : kAllDistances) {
      if (distance == Distance::Cosine) continue;  // normalised rows are not exact: see CosineMatchesBruteForce
      for (bool self : {false, true}) {
        Tensor r = integer_embeddings(23, 3, 7, dtype);
        Tensor q = self ? r : integer_embeddings(17, 3, 8, dtype);
        const std::int64_t k = self ? 22 : 23;  // every candidate: the whole order, ties included
        KnnResult expected = brute_knn(q, r, k, distance, self);
        for (std::int64_t chunk : {1, 3, 1024}) {
          KnnResult got = knn(q, r, k, distance, self, chunk);
          ASSERT_EQ(got.indices.dtype(), kInt64);
          ASSERT_EQ(got.distances.dtype(), dtype);
          ASSERT_EQ(got.indices.sizes(), (Shape{q.size(0), k}));
          EXPECT_EQ(got.indices.to_vector<std::int64_t>(), expected.indices.to_vector<std::int64_t>())
              << distance_name(distance) << " self=" << self << " chunk=" << chunk << " " << dtype_name(dtype);
          EXPECT_TRUE(trident::testing::all_close(got.distances.to(kFloat64), expected.distances, 1e-6, 1e-6))
              << distance_name(distance) << " self=" << self << " chunk=" << chunk;
        }
        // A smaller k gives the prefix of the full order (the partial sort agrees with the full sort).
        KnnResult top3 = knn(q, r, 3, distance, self, 5);
        EXPECT_EQ(top3.indices.to_vector<std::int64_t>(),
                  expected.indices.slice(1, 0, 3).contiguous().to_vector<std::int64_t>());
      }
    }
  }
}

TEST(Knn, CosineMatchesBruteForce) {
  Tensor q = random_tensor({9, 5}, 3), r = random_tensor({31, 5}, 4);
  KnnResult expected = brute_knn(q, r, 6, Distance::Cosine, false);
  for (std::int64_t chunk : {1, 4, 100}) {
    KnnResult got = knn(q, r, 6, Distance::Cosine, false, chunk);
    EXPECT_EQ(got.indices.to_vector<std::int64_t>(), expected.indices.to_vector<std::int64_t>());
    EXPECT_TRUE(trident::testing::all_close(got.distances, expected.distances, 1e-12, 1e-12));
  }
}

TEST(Knn, HandCaseWithTies) {
  // 1-d points; the query at 2 is equally far (1) from references 1 and 3 (indices 2 and 0): the smaller index first.
  Tensor r = tensor({3.0, 0.0, 1.0, 2.0, 2.0}, {5, 1});
  Tensor q = tensor({2.0, -1.0}, {2, 1});
  KnnResult res = knn(q, r, 4);
  EXPECT_EQ(res.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 4, 0, 2, 1, 2, 3, 4}));
  EXPECT_EQ(res.distances.to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 1, 2, 3, 3}));
  KnnResult sq = knn(q, r, 4, Distance::SquaredEuclidean);
  EXPECT_EQ(sq.distances.to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 1, 4, 9, 9}));
  // Dot: similarities, largest first.
  KnnResult dot = knn(q, r, 2, Distance::Dot);
  EXPECT_EQ(dot.indices.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 3, 1, 2}));
  EXPECT_EQ(dot.distances.to_vector<double>(), (std::vector<double>{6, 4, -0.0, -1}));
}

TEST(Knn, QueryInReferenceNeverMatchesItself) {
  // Rows 0 and 2 coincide: row 0's nearest is row 2 (distance 0), never row 0 itself.
  Tensor x = tensor({0.0f, 0.0f, 5.0f, 5.0f, 0.0f, 0.0f, 1.0f, 0.0f}, {4, 2});
  KnnResult res = knn(x, x, 3, Distance::Euclidean, true, 3);
  const auto idx = res.indices.to_vector<std::int64_t>();
  EXPECT_EQ(idx, (std::vector<std::int64_t>{2, 3, 1, 3, 0, 2, 0, 3, 1, 0, 2, 1}));
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t m = 0; m < 3; ++m) EXPECT_NE(idx[i * 3 + m], i);
  EXPECT_EQ(res.distances.at<float>({0, 0}), 0.0f);
}

TEST(Knn, BadInputsAreClearErrors) {
  Tensor q = random_tensor({4, 3}, 1), r = random_tensor({5, 3}, 2);
  EXPECT_THROW_MSG(knn(q.view({12}), r, 1), "knn: query must be 2-d [Q, D], got shape [12]");
  EXPECT_THROW_MSG(knn(q, r.view({15}), 1), "knn: reference must be 2-d [R, D], got shape [15]");
  EXPECT_THROW_MSG(knn(q, r.to(kFloat32), 1), "knn: dtype mismatch: float64 and float32");
  EXPECT_THROW_MSG(knn(q.to(kInt64), r.to(kInt64), 1), "knn: expected a floating tensor");
  EXPECT_THROW_MSG(knn(q, random_tensor({5, 2}, 3), 1),
                   "knn: embedding sizes differ: query [4, 3] and reference [5, 2]");
  EXPECT_THROW_MSG(knn(q, r, 0), "knn: k must be >= 1, got 0");
  EXPECT_THROW_MSG(knn(q, r, 6), "knn: k = 6 exceeds the 5 reference rows a query can match");
  EXPECT_THROW_MSG(knn(r, r, 5, Distance::Euclidean, true),
                   "knn: k = 5 exceeds the 4 reference rows a query can match (itself excluded)");
  EXPECT_THROW_MSG(knn(q, r, 1, Distance::Euclidean, true),
                   "knn: query_in_reference needs the query set to be the "
                   "reference set, got 4 query rows and 5 reference rows");
  EXPECT_THROW_MSG(knn(q, r, 1, Distance::Euclidean, false, 0), "knn: chunk must be >= 1, got 0");
  Tensor bad = r.clone();
  bad.data_ptr<double>()[4] = std::nan("");
  EXPECT_THROW_MSG(knn(q, bad, 1), "knn: reference embeddings contain NaN or infinity");
}

// ---- retrieval
// ----------------------------------------------------------------------------------------------------------

// Worked by hand. References: 1-d points at 1..6 (indices 0..5) with labels A B A B A B.
//  query 0 at 0, label A: order 1(A) 2(B) 3(A) 4(B) 5(A) 6(B); R = 3, rel = 1 0 1 | 0 1 0
//    P@1 = 1, R-Precision = 2/3, MAP@R = (1/3)(P(1) + P(3)) = (1/3)(1 + 2/3) = 5/9, first hit at rank 1.
//  query 1 at 3.5, label B: distances 0.5 to 3 and 4 (a tie: index 2 (A) before index 3 (B)), 1.5 to 2 and 5,
//    2.5 to 1 and 6: order 3(A) 4(B) 2(B) 5(A) 1(A) 6(B); R = 3, rel = 0 1 1 | 0 0 1
//    P@1 = 0, R-Precision = 2/3, MAP@R = (1/3)(P(2) + P(3)) = (1/3)(1/2 + 2/3) = 7/18, first hit at rank 2.
//  query 2, label C: no reference has label C (R = 0): left out.
// Means over the 2 evaluated queries: P@1 = 1/2, R-Precision = 2/3, MAP@R = (5/9 + 7/18)/2 = 17/36,
// Recall@1 = 1/2, Recall@2 = Recall@4 = 1.
TEST(Retrieval, HandWorkedMapAtR) {
  const std::int64_t A = 10, B = 20, C = 30;
  Tensor r = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {6, 1});
  Tensor ry = labels_of({A, B, A, B, A, B});
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor q = tensor({0.0, 3.5, 2.0}, {3, 1}).to(dtype);
    for (std::int64_t chunk : {1, 2, 1024}) {
      RetrievalMetrics m =
          retrieval_metrics(q, labels_of({A, B, C}), r.to(dtype), ry, {.recall_at = {1, 2, 4}, .chunk = chunk});
      EXPECT_DOUBLE_EQ(m.precision_at_1, 0.5);
      EXPECT_DOUBLE_EQ(m.r_precision, 2.0 / 3.0);
      EXPECT_DOUBLE_EQ(m.map_at_r, 17.0 / 36.0);
      EXPECT_EQ(m.recall_at_k, (std::map<std::int64_t, double>{{1, 0.5}, {2, 1.0}, {4, 1.0}}));
      EXPECT_EQ(m.queries_evaluated, 2);
      EXPECT_EQ(m.queries_without_match, 1);
    }
  }
}

// The query set is the reference set. Points 0, 1, 3, 4.5, 10 with labels A A B B A:
//  q0 (A): others 1(A) 3(B) 4.5(B) 10(A); R = 2: rel 1 0 -> P@1 1, RP 1/2, MAP (1/2)(1) = 1/2
//  q1 (A): 0(A) 3(B) 4.5(B) 10(A);        R = 2: rel 1 0 -> 1, 1/2, 1/2
//  q2 (B): 4.5(B) 1(A) 0(A) 10(A);        R = 1: rel 1   -> 1, 1, 1
//  q3 (B): 3(B) 1(A) 0(A) 10(A);          R = 1: rel 1   -> 1, 1, 1
//  q4 (A): 4.5(B) 3(B) 1(A) 0(A);         R = 2: rel 0 0 -> 0, 0, 0; first hit at rank 3
// Means: P@1 = 4/5, R-Precision = MAP@R = 3/5, Recall@1 = Recall@2 = 4/5, Recall@3 = Recall@4 = 1.
// Were a query allowed to match itself, P@1 would be 1.
TEST(Retrieval, QueryInReference) {
  Tensor x = tensor({0.0, 1.0, 3.0, 4.5, 10.0}, {5, 1});
  Tensor y = labels_of({1, 1, 2, 2, 1});
  RetrievalMetrics m = retrieval_metrics(x, y, x, y, {.query_in_reference = true, .recall_at = {1, 2, 3, 4}});
  EXPECT_DOUBLE_EQ(m.precision_at_1, 0.8);
  EXPECT_DOUBLE_EQ(m.r_precision, 0.6);
  EXPECT_DOUBLE_EQ(m.map_at_r, 0.6);
  EXPECT_EQ(m.recall_at_k, (std::map<std::int64_t, double>{{1, 0.8}, {2, 0.8}, {3, 1.0}, {4, 1.0}}));
  EXPECT_EQ(m.queries_evaluated, 5);
  EXPECT_EQ(m.queries_without_match, 0);
  // A class with one item has no match when the query set is the reference set: it is left out.
  Tensor y2 = labels_of({1, 1, 2, 3, 1});
  RetrievalMetrics m2 = retrieval_metrics(x, y2, x, y2, {.query_in_reference = true, .recall_at = {1}});
  EXPECT_EQ(m2.queries_evaluated, 3);
  EXPECT_EQ(m2.queries_without_match, 2);
  EXPECT_DOUBLE_EQ(m2.precision_at_1, 2.0 / 3.0);  // q0, q1 hit; q4's nearest is 4.5 (label 3)
}

// Well-separated classes: every metric is 1. One class per corner of a cube, 4 items each, tiny jitter.
TEST(Retrieval, SeparatedClassesScoreOne) {
  std::vector<double> v;
  std::vector<std::int64_t> y;
  Tensor jitter = random_tensor({32, 3}, 5, -0.01, 0.01);
  for (std::int64_t i = 0; i < 32; ++i) {
    const std::int64_t c = i % 8;
    for (std::int64_t b = 0; b < 3; ++b) v.push_back(((c >> b) & 1) * 10.0 + jitter.at<double>({i, b}));
    y.push_back(c);
  }
  Tensor x = tensor(v, {32, 3});
  for (Distance distance : kAllDistances) {
    if (is_similarity(distance)) continue;  // the corners are not separated by angle
    RetrievalMetrics m = retrieval_metrics(x, labels_of(y), x, labels_of(y),
                                           {.distance = distance, .query_in_reference = true, .chunk = 5});
    EXPECT_DOUBLE_EQ(m.precision_at_1, 1.0);
    EXPECT_DOUBLE_EQ(m.r_precision, 1.0);
    EXPECT_DOUBLE_EQ(m.map_at_r, 1.0);
    for (auto [kk, value] : m.recall_at_k) EXPECT_DOUBLE_EQ(value, 1.0) << kk;
  }
}

// Against an oracle written straight from the definitions on the brute-force order, on random integer data (many
// ties) with a few classes, for several chunk sizes and both settings of query_in_reference.
TEST(Retrieval, MatchesDefinitionsOnRandomData) {
  for (bool self : {false, true}) {
    Tensor r = integer_embeddings(40, 2, 21, kFloat32);
    Tensor q = self ? r : integer_embeddings(25, 2, 22, kFloat32);
    Generator gen(5);
    Tensor ry = randint(0, 4, {40}, {.dtype = kInt64}, &gen);
    Tensor qy = self ? ry : randint(0, 5, {25}, {.dtype = kInt64}, &gen);  // label 4: no reference has it
    const auto rv = ry.to_vector<std::int64_t>(), qv = qy.to_vector<std::int64_t>();
    const std::int64_t candidates = self ? 39 : 40;
    const auto order = brute_knn(q, r, candidates, Distance::Euclidean, self).indices.to_vector<std::int64_t>();
    double p1 = 0, rp = 0, map = 0, r5 = 0, evaluated = 0;
    for (std::int64_t i = 0; i < q.size(0); ++i) {
      std::vector<int> rel;
      for (std::int64_t m = 0; m < candidates; ++m) rel.push_back(rv[order[i * candidates + m]] == qv[i]);
      const int big_r = std::accumulate(rel.begin(), rel.end(), 0);
      if (big_r == 0) continue;
      evaluated += 1;
      p1 += rel[0];
      r5 += std::accumulate(rel.begin(), rel.begin() + 5, 0) > 0;
      double sum_p = 0;
      for (int n = 1; n <= big_r; ++n) {
        const double precision_at_n = std::accumulate(rel.begin(), rel.begin() + n, 0) / static_cast<double>(n);
        sum_p += precision_at_n * rel[n - 1];
      }
      map += sum_p / big_r;
      rp += std::accumulate(rel.begin(), rel.begin() + big_r, 0) / static_cast<double>(big_r);
    }
    if (!self) {
      EXPECT_LT(evaluated, 25.0);  // some queries have label 4 and are left out
    }
    EXPECT_NE(map, rp);  // the data tells MAP@R from R-Precision
    for (std::int64_t chunk : {1, 7, 1024}) {
      RetrievalMetrics m =
          retrieval_metrics(q, qy, r, ry, {.query_in_reference = self, .recall_at = {5}, .chunk = chunk});
      EXPECT_EQ(m.queries_evaluated, static_cast<std::int64_t>(evaluated));
      EXPECT_NEAR(m.precision_at_1, p1 / evaluated, 1e-12);
      EXPECT_NEAR(m.recall_at_k[5], r5 / evaluated, 1e-12);
      EXPECT_NEAR(m.r_precision, rp / evaluated, 1e-12);
      EXPECT_NEAR(m.map_at_r, map / evaluated, 1e-12);
    }
  }
}

TEST(Retrieval, BadInputsAreClearErrors) {
  Tensor x = random_tensor({5, 2}, 1);
  Tensor y = labels_of({0, 0, 1, 1, 2});
  EXPECT_THROW_MSG(retrieval_metrics(x, y.to(kFloat64), x, y),
                   "retrieval_metrics: query labels must be int64, got float64");
  EXPECT_THROW_MSG(retrieval_metrics(x, y, x, y.slice(0, 0, 4)),
                   "retrieval_metrics: expected reference labels of shape [5] for embeddings [5, 2], got [4]");
  EXPECT_THROW_MSG(retrieval_metrics(x, y.view({5, 1}), x, y), "retrieval_metrics: query labels must be 1-d");
  // Default recall_at {1, 2, 4, 8}: K = 8 is more than the 4 other items.
  EXPECT_THROW_MSG(retrieval_metrics(x, y, x, y, {.query_in_reference = true}),
                   "retrieval_metrics: Recall@K needs 1 <= K <= 4 (the references a query can match), got K = 8");
  EXPECT_THROW_MSG(retrieval_metrics(x, y, x, y, {.recall_at = {}}), "retrieval_metrics: recall_at is empty");
  EXPECT_THROW_MSG(
      retrieval_metrics(x, y, x, labels_of({0, 0, 1, 1, 3}), {.query_in_reference = true, .recall_at = {1}}),
      "retrieval_metrics: query_in_reference needs the query set to be the reference set, but the query "
      "and reference labels differ");
  EXPECT_THROW_MSG(retrieval_metrics(x, labels_of({0, 1, 2, 3, 4}), x, labels_of({0, 1, 2, 3, 4}),
                                     {.query_in_reference = true, .recall_at = {1}}),
                   "retrieval_metrics: no query has a reference with its label (other than itself)");
  EXPECT_THROW_MSG(retrieval_metrics(x, y, x.to(kFloat32), y, {.recall_at = {1}}), "knn: dtype mismatch");
}

// ---- verification
// -----------------------------------------------------------------------------------------------------

namespace {
Tensor flags(std::vector<bool> v) { return tensor(v, {static_cast<std::int64_t>(v.size())}); }

// The Mann-Whitney statistic: P(a same pair scores closer than a different pair), ties 1/2.
double mann_whitney(const std::vector<double>& s, const std::vector<bool>& same) {
  double wins = 0, total = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    for (std::size_t j = 0; j < s.size(); ++j)
      if (same[i] && !same[j]) {
        wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        total += 1;
      }
  return wins / total;
}
}  // namespace

// Similarities: same {0.9, 0.6, 0.4}, different {0.7, 0.3}. From the strictest threshold:
//   t = inf (0, 0); 0.9 (0, 1/3); 0.7 (1/2, 1/3); 0.6 (1/2, 2/3); 0.4 (1/2, 1); 0.3 (1, 1).
// AUC = 1/2 * 1/3 + 1/2 * 1 = 2/3 (4 of the 6 same/different pairs are ordered right).
// 1 - FPR - TPR: 1, 2/3, 1/6, -1/6: it crosses 0 on the vertical segment at FPR 1/2, so EER = 1/2.
TEST(Verification, RocOnAHandCase) {
  Tensor s = tensor({0.9, 0.7, 0.6, 0.4, 0.3});
  Tensor same = flags({true, false, true, true, false});
  RocCurve roc = roc_curve(s, same, true);
  EXPECT_EQ(roc.fpr, (std::vector<double>{0, 0, 0.5, 0.5, 0.5, 1}));
  EXPECT_EQ(roc.tpr, (std::vector<double>{0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1, 1}));
  EXPECT_EQ(roc.thresholds, (std::vector<double>{INFINITY, 0.9, 0.7, 0.6, 0.4, 0.3}));
  EXPECT_DOUBLE_EQ(auc(roc), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(auc(s, same, true), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(eer(roc), 0.5);
  EXPECT_DOUBLE_EQ(tar_at_far(roc, 0.0), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(tar_at_far(roc, 0.49), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(tar_at_far(roc, 0.5), 1.0);
  // The same pairs scored as distances 1 - s: the same curve, thresholds in distance units.
  Tensor d = 1.0 - s;
  RocCurve rd = roc_curve(d, same);
  EXPECT_EQ(rd.fpr, roc.fpr);
  EXPECT_EQ(rd.tpr, roc.tpr);
  EXPECT_EQ(rd.thresholds[0], -INFINITY);
  EXPECT_DOUBLE_EQ(rd.thresholds[1], 1.0 - 0.9);
  EXPECT_DOUBLE_EQ(auc(d, same), 2.0 / 3.0);
}

// Similarities with a tie between a same and a different pair: same {0.8, 0.5}, different {0.5, 0.2}.
// Points (0, 0), (0, 1/2), (1/2, 1) [the tied group is one point], (1, 1): AUC = 1/2 (1/2 + 1)/2 + 1/2 = 7/8, the
// Mann-Whitney value with the tie counted 1/2. EER: on the segment (0, 1/2)-(1/2, 1), TPR = 1/2 + x = 1 - x at x = 1/4.
TEST(Verification, TiesAndInterpolatedEer) {
  Tensor s = tensor({0.5, 0.8, 0.2, 0.5});
  Tensor same = flags({false, true, false, true});
  RocCurve roc = roc_curve(s, same, true);
  EXPECT_EQ(roc.fpr, (std::vector<double>{0, 0, 0.5, 1}));
  EXPECT_EQ(roc.tpr, (std::vector<double>{0, 0.5, 1, 1}));
  EXPECT_DOUBLE_EQ(auc(roc), 0.875);
  EXPECT_DOUBLE_EQ(eer(roc), 0.25);
  EXPECT_DOUBLE_EQ(eer(s, same, true), 0.25);
  EXPECT_DOUBLE_EQ(tar_at_far(s, same, 1e-3, true), 0.5);
}

TEST(Verification, PerfectAndReversed) {
  Tensor d = tensor({0.1, 0.2, 0.3, 1.0, 1.1, 1.2});
  Tensor same = flags({true, true, true, false, false, false});
  EXPECT_EQ(auc(d, same), 1.0);
  EXPECT_EQ(eer(d, same), 0.0);
  EXPECT_EQ(tar_at_far(d, same, 0.0), 1.0);
  Tensor reversed = flags({false, false, false, true, true, true});
  EXPECT_EQ(auc(d, reversed), 0.0);
  EXPECT_EQ(eer(d, reversed), 1.0);
  EXPECT_EQ(tar_at_far(d, reversed, 1e-2), 0.0);
  // float32 scores and int64 labels are accepted.
  EXPECT_EQ(auc(d.to(kFloat32), same.to(kInt64)), 1.0);
}

TEST(Verification, AucEqualsMannWhitneyOnRandomScoresWithTies) {
  Tensor raw = random_tensor({200}, 9, 0.0, 1.0);
  std::vector<double> s;
  std::vector<bool> same;
  for (std::int64_t i = 0; i < 200; ++i) {
    const double v = raw.at<double>({i});
    same.push_back(i % 3 == 0);
    s.push_back(std::round((v + (same.back() ? 0.3 : 0.0)) * 10.0) / 10.0);  // coarse: many ties
  }
  EXPECT_NEAR(auc(tensor(s), flags(same), true), mann_whitney(s, same), 1e-12);
}

TEST(Verification, KFoldOnSeparableDataIsOne) {
  Tensor d = random_tensor({100}, 3, 0.0, 0.1);
  std::vector<bool> same(100);
  std::vector<double> dv = d.to_vector<double>();
  for (std::size_t i = 0; i < 100; ++i) {
    same[i] = i % 2 == 0;
    if (!same[i]) dv[i] += 0.9;  // different pairs in [0.9, 1.0), same pairs in [0, 0.1)
  }
  KFoldAccuracy acc = verification_accuracy_kfold(tensor(dv), flags(same), 10, 42);
  EXPECT_EQ(acc.mean, 1.0);
  EXPECT_EQ(acc.std, 0.0);
  ASSERT_EQ(acc.accuracies.size(), 10u);
  for (double t : acc.thresholds) {
    EXPECT_GT(t, 0.1);
    EXPECT_LT(t, 0.9);
  }
}

// Leave-one-out (folds = N, so the shuffle does not matter). Similarities: same {0.9, 0.8, 0.4}, different
// {0.6, 0.2, 0.1}. Training accuracy of "same iff s >= t", best threshold (the strictest among ties), held-out result:
//   leave out 0.9 (same):  train 0.8s 0.6d 0.4s 0.2d 0.1d: best 4/5 after 0.8 -> t = 0.7;  0.9 >= 0.7 right
//   leave out 0.8 (same):  train 0.9s 0.6d 0.4s ...:        best after 0.9 -> t = 0.75;      0.8 right
//   leave out 0.4 (same):  train 0.9s 0.8s 0.6d 0.2d 0.1d: best 5/5 after 0.8 -> t = 0.7;  0.4 < 0.7 wrong
//   leave out 0.6 (diff):  train 0.9s 0.8s 0.4s 0.2d 0.1d: best 5/5 after 0.4 -> t = 0.3;  0.6 >= 0.3 wrong
//   leave out 0.2 (diff):  train 0.9s 0.8s 0.6d 0.4s 0.1d: best 4/5 after 0.8 -> t = 0.7;  0.2 right
//   leave out 0.1 (diff):  likewise t = 0.7;                                                  0.1 right
// Accuracies 1 1 0 0 1 1 (in shuffled fold order): mean 2/3, std sqrt((4 (1/3)^2 + 2 (2/3)^2) / 6) = sqrt(2)/3.
TEST(Verification, KFoldLeaveOneOutKnownCase) {
  const std::vector<double> s = {0.9, 0.8, 0.4, 0.6, 0.2, 0.1};
  Tensor same = flags({true, true, true, false, false, false});
  for (std::uint64_t seed : {0u, 1u, 7u}) {
    KFoldAccuracy acc = verification_accuracy_kfold(tensor(s), same, 6, seed, true);
    EXPECT_NEAR(acc.mean, 2.0 / 3.0, 1e-15);
    EXPECT_NEAR(acc.std, std::sqrt(2.0) / 3.0, 1e-15);
    std::vector<double> t = acc.thresholds;
    std::sort(t.begin(), t.end());
    const std::vector<double> expected = {0.3, 0.7, 0.7, 0.7, 0.7, 0.75};
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(t[i], expected[i], 1e-12);
    // As distances 1 - s: the same accuracies, thresholds 1 - t.
    KFoldAccuracy dist = verification_accuracy_kfold(1.0 - tensor(s), same, 6, seed);
    EXPECT_NEAR(dist.mean, 2.0 / 3.0, 1e-15);
  }
}

TEST(Verification, MakePairs) {
  Tensor y = labels_of({5, 5, 5, 7, 7, 9, 11, 11, 11, 11});
  const auto yv = y.to_vector<std::int64_t>();
  std::vector<VerificationPair> pairs = make_verification_pairs(y, 101, 3);
  ASSERT_EQ(pairs.size(), 101u);
  std::int64_t same_count = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const VerificationPair& p = pairs[i];
    EXPECT_NE(p.first, p.second);
    EXPECT_EQ(p.same, i % 2 == 0);
    EXPECT_EQ(p.same, yv[p.first] == yv[p.second]);
    same_count += p.same;
    EXPECT_NE(yv[p.first], 9 * p.same + 1000 * !p.same);  // the lone item of class 9 is never in a same pair
  }
  EXPECT_EQ(same_count, 51);
  // Deterministic in the seed.
  std::vector<VerificationPair> again = make_verification_pairs(y, 101, 3);
  std::vector<VerificationPair> other = make_verification_pairs(y, 101, 4);
  bool all_equal = true, any_differ = false;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    all_equal &= pairs[i].first == again[i].first && pairs[i].second == again[i].second;
    any_differ |= pairs[i].first != other[i].first || pairs[i].second != other[i].second;
  }
  EXPECT_TRUE(all_equal);
  EXPECT_TRUE(any_differ);
  VerificationPairTensors t = pair_tensors(pairs);
  EXPECT_EQ(t.first.sizes(), (Shape{101}));
  EXPECT_EQ(t.is_same.dtype(), kBool);
  EXPECT_EQ(t.second.at<std::int64_t>({4}), pairs[4].second);
}

TEST(Verification, BadInputsAreClearErrors) {
  Tensor s = tensor({0.1, 0.2, 0.3});
  Tensor same = flags({true, false, true});
  EXPECT_THROW_MSG(roc_curve(s.view({3, 1}), same), "roc_curve: scores must be 1-d [N], got shape [3, 1]");
  EXPECT_THROW_MSG(auc(s.to(kInt64), same), "auc: scores must be float32 or float64, got int64");
  EXPECT_THROW_MSG(eer(s, same.slice(0, 0, 2)), "eer: expected is_same of shape [3] for scores [3], got [2]");
  EXPECT_THROW_MSG(auc(s, s), "auc: is_same must be bool or int64, got float64");
  EXPECT_THROW_MSG(auc(s, labels_of({0, 2, 1})), "auc: is_same must hold 0 or 1, got 2 at 1");
  EXPECT_THROW_MSG(auc(s, flags({true, true, true})),
                   "auc: need at least one same and one different pair, got 3 same and 0 different");
  EXPECT_THROW_MSG(auc(tensor({0.1, NAN, 0.3}), same), "auc: score 1 is not finite");
  EXPECT_THROW_MSG(tar_at_far(s, same, 1.5), "tar_at_far: far must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(verification_accuracy_kfold(s, same, 10), "verification_accuracy_kfold: folds must be in [2, 3]");
  EXPECT_THROW_MSG(auc(RocCurve{}), "auc: expected a ROC curve from roc_curve");
  EXPECT_THROW_MSG(make_verification_pairs(labels_of({0, 1, 2}), 4), "make_verification_pairs: no class has two items");
  EXPECT_THROW_MSG(make_verification_pairs(labels_of({0, 0, 0}), 4),
                   "make_verification_pairs: need at least two classes for different pairs, got 1");
  EXPECT_THROW_MSG(make_verification_pairs(labels_of({0, 0, 1}), 0), "make_verification_pairs: num_pairs must be >= 1");
  EXPECT_THROW_MSG(make_verification_pairs(s, 4), "make_verification_pairs: labels must be int64, got float64");
}
