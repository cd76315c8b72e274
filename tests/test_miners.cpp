// losses/miners: every miner against a brute-force enumeration written plainly here (on the same distance matrix),
// over small random batches, label patterns, tie-heavy data and every distance in both directions; a few hand-worked
// cases that pin the semantics themselves; input errors.
#include <tuple>
#include <vector>

#include "gradcheck.h"
#include "trident/losses/miners.h"

using namespace trident;
using trident::testing::random_tensor;

namespace {

using Triplet = std::tuple<std::int64_t, std::int64_t, std::int64_t>;
using Pair = std::tuple<std::int64_t, std::int64_t>;
using Quadruplet = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

// The distance options the tests run: distances and similarities, normalised or not.
const DistanceOptions kDistances[] = {
    {.distance = Distance::Euclidean, .normalize = true},
    {.distance = Distance::Euclidean, .normalize = false},
    {.distance = Distance::SquaredEuclidean, .normalize = false},
    {.distance = Distance::Cosine, .normalize = true},
    {.distance = Distance::Dot, .normalize = false},
    {.distance = Distance::Dot, .normalize = true},
};

enum Pattern { RandomLabels, OneClass, AllDistinct, TwoEach, Duplicates, IntegerGrid, kPatterns };

struct Case {
  Tensor x, labels;
};

// B embeddings of dimension 3 with labels in a pattern. Duplicates copies rows (within and across classes);
// IntegerGrid has coordinates in {-1, 0, 1}, so many distances tie exactly.
Case make_case(std::int64_t b, int pattern, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int64_t> y(static_cast<std::size_t>(b));
  for (std::int64_t i = 0; i < b; ++i) {
    switch (pattern) {
      case OneClass:
        y[i] = 7;
        break;
      case AllDistinct:
        y[i] = 100 - i;
        break;
      case TwoEach:
        y[i] = i / 2;
        break;
      case IntegerGrid:
        y[i] = static_cast<std::int64_t>(rng() % 4);
        break;
      default:
        y[i] = static_cast<std::int64_t>(rng() % 3);
        break;
    }
  }
  Tensor x = random_tensor({b, 3}, seed + 1);
  double* p = x.data_ptr<double>();
  if (pattern == Duplicates) {
    for (std::int64_t i = 2; i < b; i += 2)
      for (int j = 0; j < 3; ++j) p[i * 3 + j] = p[(i - 2) * 3 + j];
  }
  if (pattern == IntegerGrid) {
    for (std::int64_t i = 0; i < 3 * b; ++i) p[i] = static_cast<double>(static_cast<int>(rng() % 3) - 1);
  }
  return {x, tensor(y, {b})};
}

// The matrix the miners compare, as plain doubles.
std::vector<std::vector<double>> matrix(const Tensor& x, const DistanceOptions& opt) {
  const Tensor d = distance_matrix(prepare_embeddings(x, opt), opt.distance).to(kFloat64);
  const std::int64_t b = d.size(0);
  std::vector<double> v = d.contiguous().to_vector<double>();
  std::vector<std::vector<double>> m(static_cast<std::size_t>(b));
  for (std::int64_t i = 0; i < b; ++i) m[i].assign(v.begin() + i * b, v.begin() + (i + 1) * b);
  return m;
}

std::vector<Triplet> as_triplets(const TripletIndices& t) {
  const auto a = t.anchor.to_vector<std::int64_t>(), p = t.positive.to_vector<std::int64_t>(),
             n = t.negative.to_vector<std::int64_t>();
  EXPECT_EQ(a.size(), p.size());
  EXPECT_EQ(a.size(), n.size());
  std::vector<Triplet> out;
  for (std::size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i], p[i], n[i]);
  return out;
}

// Brute force, in the words of METRIC_LEARNING.md: with a similarity s larger is closer and delta = s_ap - s_an.
std::vector<Triplet> brute_triplets(const std::vector<std::vector<double>>& d, const std::vector<std::int64_t>& y,
                                    TripletMining mining, double margin, bool sim) {
  const std::int64_t b = static_cast<std::int64_t>(y.size());
  // "u is closer to a than v is" / "farther"
  auto closer = [&](double u, double v) { return sim ? u > v : u < v; };
  std::vector<Triplet> out;
  for (std::int64_t a = 0; a < b; ++a) {
    if (mining == TripletMining::BatchHard) {
      std::int64_t best_p = -1, best_n = -1;
      for (std::int64_t p = 0; p < b; ++p)
        if (p != a && y[p] == y[a] && (best_p < 0 || closer(d[a][best_p], d[a][p]))) best_p = p;
      for (std::int64_t n = 0; n < b; ++n)
        if (y[n] != y[a] && (best_n < 0 || closer(d[a][n], d[a][best_n]))) best_n = n;
      if (best_p >= 0 && best_n >= 0) out.emplace_back(a, best_p, best_n);
      continue;
    }
    for (std::int64_t p = 0; p < b; ++p) {
      if (p == a || y[p] != y[a]) continue;
      if (mining == TripletMining::BatchSemiHard) {
        std::int64_t outside = -1, farthest = -1;
        for (std::int64_t n = 0; n < b; ++n) {
          if (y[n] == y[a]) continue;
          if (closer(d[a][p], d[a][n]) && (outside < 0 || closer(d[a][n], d[a][outside]))) outside = n;
          if (farthest < 0 || closer(d[a][farthest], d[a][n])) farthest = n;
        }
        if (outside >= 0)
          out.emplace_back(a, p, outside);
        else if (farthest >= 0)
          out.emplace_back(a, p, farthest);
        continue;
      }
      for (std::int64_t n = 0; n < b; ++n) {
        if (y[n] == y[a]) continue;
        const double delta = sim ? d[a][p] - d[a][n] : d[a][n] - d[a][p];
        bool keep = true;
        if (mining == TripletMining::Hard) keep = delta <= 0;
        if (mining == TripletMining::SemiHard) keep = delta > 0 && delta <= margin;
        if (mining == TripletMining::Easy) keep = delta > margin;
        if (keep) out.emplace_back(a, p, n);
      }
    }
  }
  return out;
}

std::vector<Quadruplet> brute_quadruplets(const std::vector<std::vector<double>>& d, const std::vector<std::int64_t>& y,
                                          bool sim) {
  const std::int64_t b = static_cast<std::int64_t>(y.size());
  auto closer = [&](double u, double v) { return sim ? u > v : u < v; };
  std::vector<Quadruplet> out;
  for (std::int64_t a = 0; a < b; ++a) {
    std::int64_t best_p = -1, best_n = -1, best_l = -1, best_k = -1;
    for (std::int64_t p = 0; p < b; ++p)
      if (p != a && y[p] == y[a] && (best_p < 0 || closer(d[a][best_p], d[a][p]))) best_p = p;
    for (std::int64_t n = 0; n < b; ++n)
      if (y[n] != y[a] && (best_n < 0 || closer(d[a][n], d[a][best_n]))) best_n = n;
    for (std::int64_t l = 0; l < b; ++l)
      for (std::int64_t k = 0; k < b; ++k)
        if (y[l] != y[a] && y[k] != y[a] && y[l] != y[k] && (best_l < 0 || closer(d[l][k], d[best_l][best_k])))
          best_l = l, best_k = k;
    if (best_p >= 0 && best_n >= 0 && best_l >= 0) out.emplace_back(a, best_p, best_n, best_l, best_k);
  }
  return out;
}

const TripletMining kTripletMinings[] = {TripletMining::All,  TripletMining::Hard,      TripletMining::SemiHard,
                                         TripletMining::Easy, TripletMining::BatchHard, TripletMining::BatchSemiHard};

}  // namespace

TEST(Miners, TripletsEqualBruteForce) {
  std::int64_t nonempty = 0;
  for (std::int64_t b = 2; b <= 12; ++b) {
    for (int pattern = 0; pattern < kPatterns; ++pattern) {
      const Case c = make_case(b, pattern, static_cast<std::uint32_t>(100 * b + pattern));
      const auto y = c.labels.to_vector<std::int64_t>();
      for (const DistanceOptions& opt : kDistances) {
        const auto d = matrix(c.x, opt);
        for (TripletMining mining : kTripletMinings) {
          for (double margin : {0.2, 1.0}) {
            const auto got = as_triplets(mine_triplets(c.x, c.labels, mining, margin, opt));
            const auto want = brute_triplets(d, y, mining, margin, is_similarity(opt.distance));
            EXPECT_EQ(got, want) << "B=" << b << " pattern " << pattern << " " << to_string(opt) << " "
                                 << mining_name(mining) << " margin " << margin;
            nonempty += !want.empty();
          }
        }
      }
    }
  }
  EXPECT_GT(nonempty, 1000);  // the comparisons are not vacuous
}

// B above the miners' parallel threshold, float32 embeddings (the float32 matrix is compared in float64).
TEST(Miners, TripletsEqualBruteForceLargeBatchAndFloat32) {
  for (DType dtype : {kFloat64, kFloat32}) {
    for (int pattern : {RandomLabels, Duplicates, IntegerGrid}) {
      Case c = make_case(45, pattern, 7u + static_cast<std::uint32_t>(pattern));
      c.x = c.x.to(dtype);
      const auto y = c.labels.to_vector<std::int64_t>();
      for (const DistanceOptions& opt : kDistances) {
        const auto d = matrix(c.x, opt);
        for (TripletMining mining : kTripletMinings) {
          const auto got = as_triplets(mine_triplets(c.x, c.labels, mining, 0.3, opt));
          EXPECT_EQ(got, brute_triplets(d, y, mining, 0.3, is_similarity(opt.distance)))
              << dtype_name(dtype) << " pattern " << pattern << " " << to_string(opt) << " " << mining_name(mining);
        }
      }
    }
  }
}

// 1-d points 0, 2.5, 1, 4 with labels 0, 0, 1, 1 (raw euclidean): d01 = 2.5, d02 = 1, d03 = 4, d12 = d13 = 1.5,
// d23 = 3. Worked by hand from the table in METRIC_LEARNING.md.
TEST(Miners, TripletsByHand) {
  const Tensor x = tensor({0.0, 2.5, 1.0, 4.0}, {4, 1});
  const Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 1}, {4});
  const DistanceOptions raw{.normalize = false};
  auto mine = [&](TripletMining m, double margin) { return as_triplets(mine_triplets(x, y, m, margin, raw)); };
  EXPECT_EQ(mine(TripletMining::BatchHard, 0.2), (std::vector<Triplet>{{0, 1, 2}, {1, 0, 2}, {2, 3, 0}, {3, 2, 1}}));
  // a = 1, p = 0: no negative beyond 2.5; the farthest are 2 and 3 (both 1.5): the lowest index, 2.
  EXPECT_EQ(mine(TripletMining::BatchSemiHard, 0.2),
            (std::vector<Triplet>{{0, 1, 3}, {1, 0, 2}, {2, 3, 1}, {3, 2, 0}}));
  EXPECT_EQ(mine(TripletMining::Hard, 0.2),
            (std::vector<Triplet>{{0, 1, 2}, {1, 0, 2}, {1, 0, 3}, {2, 3, 0}, {2, 3, 1}, {3, 2, 1}}));
  EXPECT_EQ(mine(TripletMining::SemiHard, 1.5), (std::vector<Triplet>{{0, 1, 3}, {3, 2, 0}}));  // delta 1.5 and 1
  EXPECT_EQ(mine(TripletMining::Easy, 1.0), (std::vector<Triplet>{{0, 1, 3}}));
  EXPECT_EQ(mine(TripletMining::All, 0.2).size(), 8u);
  // The similarity -d ranks exactly as d: dot products of 1-d points do not, so check the direction on cosine:
  // unit vectors at angles 0, 0.1 (class 0) and 0.5, 3 (class 1): the nearest negative of 0 is 2, the farthest 3.
  const Tensor u = tensor(
      {1.0, 0.0, std::cos(0.1), std::sin(0.1), std::cos(0.5), std::sin(0.5), std::cos(3.0), std::sin(3.0)}, {4, 2});
  EXPECT_EQ(as_triplets(mine_triplets(u, y, TripletMining::BatchHard, 0.2, {.distance = Distance::Cosine}))[0],
            Triplet(0, 1, 2));
  // s_01 = cos 0.1 and s_02 = cos 0.5: delta = cos 0.1 - cos 0.5 = 0.1175: semihard at margin 0.2, easy at 0.1.
  EXPECT_EQ(as_triplets(mine_triplets(u, y, TripletMining::SemiHard, 0.2, {.distance = Distance::Cosine}))[0],
            Triplet(0, 1, 2));
  EXPECT_EQ(as_triplets(mine_triplets(u, y, TripletMining::Easy, 0.1, {.distance = Distance::Cosine}))[0],
            Triplet(0, 1, 2));
}

TEST(Miners, NothingToMineIsEmpty) {
  for (TripletMining mining : kTripletMinings) {
    for (int pattern : {OneClass, AllDistinct}) {
      const Case c = make_case(6, pattern, 3);
      const TripletIndices t = mine_triplets(c.x, c.labels, mining);
      EXPECT_EQ(t.size(), 0);
      EXPECT_EQ(t.anchor.dtype(), kInt64);
      EXPECT_EQ(t.anchor.sizes(), (Shape{0}));
    }
  }
  const Case c = make_case(6, OneClass, 3);
  const PairIndices p = mine_pairs(c.x, c.labels, PairMining::All);
  EXPECT_EQ(p.a1.numel(), 30);
  EXPECT_EQ(p.a2.numel(), 0);
  EXPECT_EQ(mine_quadruplets_batch_hard(c.x, c.labels).size(), 0);
}

TEST(Miners, PairsEqualBruteForce) {
  for (std::int64_t b = 2; b <= 12; ++b) {
    for (int pattern = 0; pattern < kPatterns; ++pattern) {
      const Case c = make_case(b, pattern, static_cast<std::uint32_t>(200 * b + pattern));
      const auto y = c.labels.to_vector<std::int64_t>();
      for (const DistanceOptions& opt : kDistances) {
        const bool sim = is_similarity(opt.distance);
        const auto d = matrix(c.x, opt);
        for (PairMining mining : {PairMining::All, PairMining::Hard}) {
          // Margins in the distance's units: for similarities a positive is hard below pos_margin.
          const double pos_margin = sim ? 0.5 : 0.8, neg_margin = sim ? 0.1 : 1.2;
          const PairIndices got = mine_pairs(c.x, c.labels, mining, pos_margin, neg_margin, opt);
          std::vector<Pair> want_pos, want_neg, got_pos, got_neg;
          for (std::int64_t i = 0; i < b; ++i) {
            for (std::int64_t j = 0; j < b; ++j) {
              if (i == j) continue;
              const bool all = mining == PairMining::All;
              if (y[i] == y[j] && (all || (sim ? d[i][j] < pos_margin : d[i][j] > pos_margin)))
                want_pos.emplace_back(i, j);
              if (y[i] != y[j] && (all || (sim ? d[i][j] > neg_margin : d[i][j] < neg_margin)))
                want_neg.emplace_back(i, j);
            }
          }
          const auto a1 = got.a1.to_vector<std::int64_t>(), p = got.p.to_vector<std::int64_t>(),
                     a2 = got.a2.to_vector<std::int64_t>(), n = got.n.to_vector<std::int64_t>();
          ASSERT_EQ(a1.size(), p.size());
          ASSERT_EQ(a2.size(), n.size());
          for (std::size_t i = 0; i < a1.size(); ++i) got_pos.emplace_back(a1[i], p[i]);
          for (std::size_t i = 0; i < a2.size(); ++i) got_neg.emplace_back(a2[i], n[i]);
          EXPECT_EQ(got_pos, want_pos) << "B=" << b << " pattern " << pattern << " " << to_string(opt);
          EXPECT_EQ(got_neg, want_neg) << "B=" << b << " pattern " << pattern << " " << to_string(opt);
        }
      }
    }
  }
}

TEST(Miners, QuadrupletsEqualBruteForce) {
  std::int64_t nonempty = 0;
  for (std::int64_t b = 2; b <= 12; ++b) {
    for (int pattern = 0; pattern < kPatterns; ++pattern) {
      const Case c = make_case(b, pattern, static_cast<std::uint32_t>(300 * b + pattern));
      const auto y = c.labels.to_vector<std::int64_t>();
      for (const DistanceOptions& opt : kDistances) {
        const QuadrupletIndices q = mine_quadruplets_batch_hard(c.x, c.labels, opt);
        const auto a = q.anchor.to_vector<std::int64_t>(), p = q.positive.to_vector<std::int64_t>(),
                   n = q.negative.to_vector<std::int64_t>(), l = q.l.to_vector<std::int64_t>(),
                   k = q.k.to_vector<std::int64_t>();
        std::vector<Quadruplet> got;
        for (std::size_t i = 0; i < a.size(); ++i) got.emplace_back(a[i], p[i], n[i], l[i], k[i]);
        const auto want = brute_quadruplets(matrix(c.x, opt), y, is_similarity(opt.distance));
        EXPECT_EQ(got, want) << "B=" << b << " pattern " << pattern << " " << to_string(opt);
        nonempty += !want.empty();
      }
    }
  }
  EXPECT_GT(nonempty, 100);
}

// Points 0, 1, 3, 4 with labels 0, 0, 1, 2 (raw squared euclidean): anchors 0 and 1 have the positive, the nearest
// negative is 2, and the closest pair of two other classes is (2, 3); classes 1 and 2 have no positive.
TEST(Miners, QuadrupletsByHand) {
  const Tensor x = tensor({0.0, 1.0, 3.0, 4.0}, {4, 1});
  const Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 2}, {4});
  const QuadrupletIndices q =
      mine_quadruplets_batch_hard(x, y, {.distance = Distance::SquaredEuclidean, .normalize = false});
  EXPECT_EQ(q.anchor.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(q.positive.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(q.negative.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(q.l.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(q.k.to_vector<std::int64_t>(), (std::vector<std::int64_t>{3, 3}));
}

TEST(Miners, BadInputsAreClearErrors) {
  const Tensor x = random_tensor({4, 3}, 1);
  const Tensor y = tensor(std::vector<std::int64_t>{0, 0, 1, 1}, {4});
  EXPECT_THROW_MSG(mine_triplets(x.view({12}), y, TripletMining::All), "mine_triplets: embeddings must be 2-d");
  EXPECT_THROW_MSG(mine_triplets(x, y.to(kFloat64), TripletMining::All), "mine_triplets: labels must be int64");
  EXPECT_THROW_MSG(mine_triplets(x, y.slice(0, 0, 3), TripletMining::All),
                   "mine_triplets: expected labels of shape [4]");
  EXPECT_THROW_MSG(mine_triplets(x, y, TripletMining::SemiHard, std::nan("")), "mine_triplets: margin must be finite");
  EXPECT_THROW_MSG(mine_pairs(x.slice(0, 0, 1), y.slice(0, 0, 1), PairMining::All),
                   "mine_pairs: need a batch of at least 2 embeddings");
  EXPECT_THROW_MSG(mine_pairs(x, y, PairMining::Hard, INFINITY), "mine_pairs: pos_margin must be finite");
  Tensor bad = x.clone();
  bad.data_ptr<double>()[2] = std::nan("");
  EXPECT_THROW_MSG(mine_quadruplets_batch_hard(bad, y), "mine_quadruplets_batch_hard: embeddings contain NaN");
  EXPECT_THROW_MSG(mine_triplets_from_matrix(x, y, TripletMining::All, 0.2, Distance::Euclidean),
                   "mine_triplets: expected a square [B, B] distance matrix, got [4, 3]");
}
