// losses/metric_common: input checks, prepared embeddings, the distance matrix and its hand-written backward.
#include "gradcheck.h"
#include "trident/losses/metric_common.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::random_tensor;

namespace {
const Distance kAll[] = {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot};
}

// distance_matrix_backward(e, D, G) must equal autograd's gradient of sum(G * pairwise_distance(e)), for a
// non-symmetric G with a non-zero diagonal, on every distance.
TEST(MetricCommon, DistanceMatrixBackwardMatchesAutograd) {
  for (Distance dist : kAll) {
    Tensor x = random_tensor({20, 4}, 11);
    Tensor g = random_tensor({20, 20}, 12);  // 400 non-zeros > 8 B: the dense path
    Tensor e = prepare_embeddings(x, {.distance = dist, .normalize = false}).detach().set_requires_grad();
    Tensor d = pairwise_distance(e, Tensor(), dist == Distance::Cosine ? Distance::Dot : dist);
    sum(d * g).backward();
    Tensor mine = distance_matrix_backward(e, distance_matrix(e, dist), g, dist);
    EXPECT_TRUE(all_close(mine, e.grad(), 1e-12, 1e-12)) << distance_name(dist);
  }
}

TEST(MetricCommon, ZeroDistanceGivesFiniteGradient) {
  Tensor e = tensor({1.0, 2.0, 1.0, 2.0, 0.0, 1.0}, {3, 2});  // rows 0 and 1 coincide
  Tensor g = ones({3, 3}, {.dtype = kFloat64});
  Tensor grad = distance_matrix_backward(e, distance_matrix(e, Distance::Euclidean), g, Distance::Euclidean);
  for (double v : grad.to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(MetricCommon, PrepareNormalisesWhenAsked) {
  Tensor x = tensor({3.0, 4.0, 0.0, 2.0}, {2, 2});
  EXPECT_EQ(prepare_embeddings(x, {}).to_vector<double>(), (std::vector<double>{0.6, 0.8, 0.0, 1.0}));
  EXPECT_TRUE(prepare_embeddings(x, {.normalize = false}).is_same(x));
  EXPECT_EQ(prepare_embeddings(x, {.distance = Distance::Cosine, .normalize = false}).to_vector<double>(),
            (std::vector<double>{0.6, 0.8, 0.0, 1.0}));
}

TEST(MetricCommon, SameLabelMatrix) {
  EXPECT_EQ(same_label_matrix(tensor(std::vector<std::int64_t>{3, 1, 3}, {3})).to_vector<bool>(),
            (std::vector<bool>{true, false, true, false, true, false, true, false, true}));
}

TEST(MetricCommon, BadInputsAreClearErrors) {
  Tensor x = random_tensor({4, 3}, 1);
  Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 1}, {4});
  EXPECT_THROW_MSG(check_metric_inputs("loss", x.view({12}), y), "loss: embeddings must be 2-d [B, D], got shape [12]");
  EXPECT_THROW_MSG(check_metric_inputs("loss", x, y.to(kFloat64)), "loss: labels must be int64, got float64");
  EXPECT_THROW_MSG(check_metric_inputs("loss", x, y.slice(0, 0, 3)),
                   "loss: expected labels of shape [4] for embeddings [4, 3], got [3]");
  EXPECT_THROW_MSG(check_metric_inputs("loss", x.slice(0, 0, 1), y.slice(0, 0, 1)),
                   "loss: need a batch of at least 2 embeddings, got 1");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[5] = std::nan("");
  EXPECT_THROW_MSG(check_metric_inputs("loss", bad, y), "loss: embeddings contain NaN or infinity");
  bad.data_ptr<double>()[5] = INFINITY;
  EXPECT_THROW_MSG(check_metric_inputs("loss", bad, y), "loss: embeddings contain NaN or infinity");
  EXPECT_NO_THROW(check_metric_inputs("loss", x, y));
}

// Note [Rounding floor of GEMM distances]: duplicated rows are exactly 0 apart in both precisions (the GEMM form
// alone leaves ~1e-8 in float64), identically in distance_matrix and pairwise_distance; distinct rows are not.
TEST(MetricCommon, DuplicatedRowsAreExactlyZeroApart) {
  for (DType dt : {kFloat64, kFloat32}) {
    Tensor x = l2_normalize(random_tensor({6, 128}, 21)).to(dt);
    x.slice(0, 3, 4).copy_(x.slice(0, 1, 2));  // row 3 = row 1
    for (Distance dist : {Distance::Euclidean, Distance::SquaredEuclidean}) {
      const Tensor fused = distance_matrix(x, dist), op = pairwise_distance(x, Tensor(), dist);
      EXPECT_EQ(fused.to(kFloat64).at<double>({1, 3}), 0.0) << dtype_name(dt) << " " << distance_name(dist);
      EXPECT_EQ(op.to(kFloat64).at<double>({3, 1}), 0.0) << dtype_name(dt) << " " << distance_name(dist);
      EXPECT_GT(fused.to(kFloat64).at<double>({0, 1}), 0.1);
      EXPECT_TRUE(all_close(fused, op, 0.0, 0.0)) << "bit for bit";
    }
  }
}

// Note [Sparse distance-matrix backward]: a G with a few non-zeros (as batch-hard mining gives; one on the diagonal)
// takes the sparse path, which must equal autograd's gradient as the dense path does, on every distance.
TEST(MetricCommon, SparseDistanceMatrixBackwardMatchesAutograd) {
  for (Distance dist : kAll) {
    Tensor x = random_tensor({7, 5}, 31);
    Tensor g = zeros({7, 7}, {.dtype = kFloat64});
    g.data_ptr<double>()[0 * 7 + 3] = 0.7;
    g.data_ptr<double>()[2 * 7 + 5] = -1.3;
    g.data_ptr<double>()[5 * 7 + 2] = 0.4;
    g.data_ptr<double>()[4 * 7 + 4] = 0.9;  // diagonal: matters for dot
    Tensor e = prepare_embeddings(x, {.distance = dist, .normalize = false}).detach().set_requires_grad();
    Tensor d = pairwise_distance(e, Tensor(), dist == Distance::Cosine ? Distance::Dot : dist);
    sum(d * g).backward();
    Tensor mine = distance_matrix_backward(e, distance_matrix(e, dist), g, dist);
    EXPECT_TRUE(all_close(mine, e.grad(), 1e-12, 1e-12)) << distance_name(dist);
  }
}
