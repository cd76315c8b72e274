// Verification metrics: ROC, AUC, TAR@FAR, EER, k-fold accuracy, and balanced pair sampling.
// Contracts: metrics/verification.h.
#include "trident/metrics/verification.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "trident/core/random.h"
#include "trident/ops/checks.h"
#include "trident/ops/factory.h"

namespace trident {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scores as "larger means same" keys (similarities as given, distances negated: exact) and the 0/1 labels, checked.
struct Pairs {
  std::vector<double> key;
  std::vector<char> same;
  std::int64_t positives = 0, negatives = 0;
};

Pairs read_pairs(const char* op, const Tensor& scores, const Tensor& is_same, bool similarity) {
  check_defined(op, scores, "scores");
  check_defined(op, is_same, "is_same");
  TRIDENT_CHECK(scores.dim() == 1, "{}: scores must be 1-d [N], got shape {}", op, shape_str(scores.sizes()));
  TRIDENT_CHECK(is_floating(scores.dtype()), "{}: scores must be float32 or float64, got {}", op, scores.dtype());
  TRIDENT_CHECK(is_same.dtype() == kBool || is_same.dtype() == kInt64, "{}: is_same must be bool or int64, got {}", op,
                is_same.dtype());
  TRIDENT_CHECK(is_same.dim() == 1 && is_same.size(0) == scores.size(0),
                "{}: expected is_same of shape [{}] for scores {}, got {}", op, scores.size(0),
                shape_str(scores.sizes()), shape_str(is_same.sizes()));
  Pairs p;
  p.key = scores.to_vector<double>();
  const std::vector<std::int64_t> labels = is_same.to(kInt64).to_vector<std::int64_t>();
  p.same.resize(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    TRIDENT_CHECK(std::isfinite(p.key[i]), "{}: score {} is not finite ({})", op, i, p.key[i]);
    TRIDENT_CHECK(labels[i] == 0 || labels[i] == 1, "{}: is_same must hold 0 or 1, got {} at {}", op, labels[i], i);
    if (!similarity) p.key[i] = -p.key[i];
    p.same[i] = static_cast<char>(labels[i]);
    (labels[i] ? p.positives : p.negatives) += 1;
  }
  TRIDENT_CHECK(p.positives > 0 && p.negatives > 0,
                "{}: need at least one same and one different pair, got {} same and {} different", op, p.positives,
                p.negatives);
  return p;
}

// Indices of `pairs` (a subset, `members`) sorted by key descending (strictest threshold first); ties by index.
std::vector<std::size_t> by_key_descending(const Pairs& p, std::vector<std::size_t> members) {
  std::sort(members.begin(), members.end(),
            [&](std::size_t a, std::size_t b) { return p.key[a] > p.key[b] || (p.key[a] == p.key[b] && a < b); });
  return members;
}

std::vector<std::size_t> all_members(const Pairs& p) {
  std::vector<std::size_t> m(p.key.size());
  std::iota(m.begin(), m.end(), std::size_t{0});
  return m;
}

RocCurve roc_from_pairs(const Pairs& p, bool similarity) {
  const std::vector<std::size_t> order = by_key_descending(p, all_members(p));
  RocCurve roc;
  roc.fpr.push_back(0.0);
  roc.tpr.push_back(0.0);
  roc.thresholds.push_back(similarity ? kInf : -kInf);
  std::int64_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < order.size();) {
    const double key = p.key[order[i]];
    for (; i < order.size() && p.key[order[i]] == key; ++i) (p.same[order[i]] ? tp : fp) += 1;
    roc.fpr.push_back(static_cast<double>(fp) / static_cast<double>(p.negatives));
    roc.tpr.push_back(static_cast<double>(tp) / static_cast<double>(p.positives));
    roc.thresholds.push_back(similarity ? key : -key);
  }
  return roc;
}

void check_roc(const char* op, const RocCurve& roc) {
  TRIDENT_CHECK(roc.fpr.size() >= 2 && roc.fpr.size() == roc.tpr.size(),
                "{}: expected a ROC curve from roc_curve (at least 2 points, as many FPR as TPR), got {} and {}", op,
                roc.fpr.size(), roc.tpr.size());
}

// Uniform integer in [0, n) from a 32-bit random word (multiply-shift; the bias is below n / 2^32).
std::int64_t below(std::uint32_t word, std::int64_t n) {
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(word) * static_cast<std::uint64_t>(n)) >> 32);
}

}  // namespace

RocCurve roc_curve(const Tensor& scores, const Tensor& is_same, bool similarity) {
  return roc_from_pairs(read_pairs("roc_curve", scores, is_same, similarity), similarity);
}

double auc(const RocCurve& roc) {
  check_roc("auc", roc);
  double area = 0;
  for (std::size_t i = 1; i < roc.fpr.size(); ++i) {
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) * 0.5;
  }
  return area;
}

double auc(const Tensor& scores, const Tensor& is_same, bool similarity) {
  return auc(roc_from_pairs(read_pairs("auc", scores, is_same, similarity), similarity));
}

double tar_at_far(const RocCurve& roc, double far) {
  check_roc("tar_at_far", roc);
  TRIDENT_CHECK(far >= 0.0 && far <= 1.0, "tar_at_far: far must be in [0, 1], got {}", far);
  double tar = 0;
  for (std::size_t i = 0; i < roc.fpr.size(); ++i) {
    if (roc.fpr[i] <= far) tar = std::max(tar, roc.tpr[i]);
  }
  return tar;
}

double tar_at_far(const Tensor& scores, const Tensor& is_same, double far, bool similarity) {
  return tar_at_far(roc_from_pairs(read_pairs("tar_at_far", scores, is_same, similarity), similarity), far);
}

// h_i = 1 - FPR_i - TPR_i is non-increasing along the curve, from 1 at (0, 0) to -1 at (1, 1): the EER is where the
// interpolated curve crosses h = 0.
double eer(const RocCurve& roc) {
  check_roc("eer", roc);
  auto h = [&](std::size_t i) { return 1.0 - roc.fpr[i] - roc.tpr[i]; };
  for (std::size_t i = 0; i < roc.fpr.size(); ++i) {
    if (h(i) > 0.0) continue;
    if (h(i) == 0.0 || i == 0) return roc.fpr[i];
    const double t = h(i - 1) / (h(i - 1) - h(i));  // in (0, 1]
    return roc.fpr[i - 1] + t * (roc.fpr[i] - roc.fpr[i - 1]);
  }
  return roc.fpr.back();  // not reached for a curve ending at (1, 1)
}

double eer(const Tensor& scores, const Tensor& is_same, bool similarity) {
  return eer(roc_from_pairs(read_pairs("eer", scores, is_same, similarity), similarity));
}

KFoldAccuracy verification_accuracy_kfold(const Tensor& scores, const Tensor& is_same, std::int64_t folds,
                                          std::uint64_t seed, bool similarity) {
  const Pairs p = read_pairs("verification_accuracy_kfold", scores, is_same, similarity);
  const std::int64_t n = static_cast<std::int64_t>(p.key.size());
  TRIDENT_CHECK(folds >= 2 && folds <= n, "verification_accuracy_kfold: folds must be in [2, {}] (the pairs), got {}",
                n, folds);
  Generator gen(seed);
  const std::vector<std::int64_t> perm = randperm(n, &gen).to_vector<std::int64_t>();
  std::vector<std::int64_t> fold_of(static_cast<std::size_t>(n));
  for (std::int64_t f = 0; f < folds; ++f) {
    for (std::int64_t pos = f * n / folds; pos < (f + 1) * n / folds; ++pos) fold_of[perm[pos]] = f;
  }

  KFoldAccuracy result;
  for (std::int64_t f = 0; f < folds; ++f) {
    std::vector<std::size_t> train, test;
    for (std::int64_t i = 0; i < n; ++i) (fold_of[i] == f ? test : train).push_back(static_cast<std::size_t>(i));
    // Sweep the training pairs from the strictest threshold down: accepting a group of tied keys turns its same
    // pairs right and its different pairs wrong.
    const std::vector<std::size_t> order = by_key_descending(p, train);
    std::int64_t train_negatives = 0;
    for (std::size_t i : train) train_negatives += p.same[i] ? 0 : 1;
    std::int64_t correct = train_negatives;  // threshold +inf: everything predicted different
    std::int64_t best = correct;
    double best_key = kInf;
    for (std::size_t i = 0; i < order.size();) {
      const double key = p.key[order[i]];
      for (; i < order.size() && p.key[order[i]] == key; ++i) correct += p.same[order[i]] ? 1 : -1;
      if (correct > best) {
        best = correct;
        best_key = i < order.size() ? 0.5 * (key + p.key[order[i]]) : -kInf;  // midway to the next distinct key
      }
    }
    std::int64_t right = 0;
    for (std::size_t i : test) right += ((p.key[i] >= best_key) == static_cast<bool>(p.same[i])) ? 1 : 0;
    result.accuracies.push_back(static_cast<double>(right) / static_cast<double>(test.size()));
    result.thresholds.push_back(similarity ? best_key : -best_key);
  }
  double sum = 0;
  for (double a : result.accuracies) sum += a;
  result.mean = sum / static_cast<double>(folds);
  double var = 0;
  for (double a : result.accuracies) var += (a - result.mean) * (a - result.mean);
  result.std = std::sqrt(var / static_cast<double>(folds));
  return result;
}

std::vector<VerificationPair> make_verification_pairs(const Tensor& labels, std::int64_t num_pairs,
                                                      std::uint64_t seed) {
  const char* op = "make_verification_pairs";
  check_defined(op, labels, "labels");
  TRIDENT_CHECK(labels.dtype() == kInt64, "{}: labels must be int64, got {}", op, labels.dtype());
  TRIDENT_CHECK(labels.dim() == 1, "{}: labels must be 1-d, got shape {}", op, shape_str(labels.sizes()));
  TRIDENT_CHECK(num_pairs >= 1, "{}: num_pairs must be >= 1, got {}", op, num_pairs);
  // Items of each class, classes in increasing label order (so the result does not depend on hashing).
  std::map<std::int64_t, std::vector<std::int64_t>> by_label;
  const std::vector<std::int64_t> y = labels.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < y.size(); ++i) by_label[y[i]].push_back(static_cast<std::int64_t>(i));
  std::vector<const std::vector<std::int64_t>*> classes, pairable;
  for (const auto& [label, items] : by_label) {
    classes.push_back(&items);
    if (items.size() >= 2) pairable.push_back(&items);
  }
  TRIDENT_CHECK(!pairable.empty(), "{}: no class has two items, so no same pair exists ({} items, {} classes)", op,
                y.size(), classes.size());
  TRIDENT_CHECK(classes.size() >= 2, "{}: need at least two classes for different pairs, got {}", op, classes.size());

  std::vector<VerificationPair> pairs(static_cast<std::size_t>(num_pairs));
  const std::int64_t nclasses = static_cast<std::int64_t>(classes.size());
  const std::int64_t npairable = static_cast<std::int64_t>(pairable.size());
  for (std::int64_t i = 0; i < num_pairs; ++i) {
    const std::array<std::uint32_t, 4> w = philox4x32(seed, static_cast<std::uint64_t>(i));
    VerificationPair& pair = pairs[static_cast<std::size_t>(i)];
    if (i % 2 == 0) {
      const auto& items = *pairable[below(w[0], npairable)];
      const std::int64_t size = static_cast<std::int64_t>(items.size());
      const std::int64_t a = below(w[1], size);
      std::int64_t b = below(w[2], size - 1);
      if (b >= a) ++b;  // a distinct second item
      pair = {items[a], items[b], true};
    } else {
      const std::int64_t c1 = below(w[0], nclasses);
      std::int64_t c2 = below(w[1], nclasses - 1);
      if (c2 >= c1) ++c2;  // a distinct second class
      const auto& first = *classes[c1];
      const auto& second = *classes[c2];
      pair = {first[below(w[2], static_cast<std::int64_t>(first.size()))],
              second[below(w[3], static_cast<std::int64_t>(second.size()))], false};
    }
  }
  return pairs;
}

VerificationPairTensors pair_tensors(const std::vector<VerificationPair>& pairs) {
  std::vector<std::int64_t> first, second;
  std::vector<bool> same;
  for (const VerificationPair& p : pairs) {
    first.push_back(p.first);
    second.push_back(p.second);
    same.push_back(p.same);
  }
  const std::int64_t n = static_cast<std::int64_t>(pairs.size());
  return {tensor(first, {n}), tensor(second, {n}), tensor(same, {n})};
}

}  // namespace trident
