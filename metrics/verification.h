// Verification metrics (the face protocol, as for LFW): pairs labelled same / different, each with a score.
// Semantics: METRIC_LEARNING.md "Evaluation".
//
// Scores are distances (a pair is predicted "same" when score <= threshold) or, with similarity = true,
// similarities (predicted "same" when score >= threshold). Every function below takes
//   scores: [N] float32/float64 (finite), is_same: [N] bool (or int64 0/1), on any device,
// and needs at least one same and one different pair (the rates below are undefined otherwise). Errors name the
// function: shapes, dtypes, lengths, a non-finite score, a label that is not 0/1, no same or no different pair.
#pragma once

#include <cstdint>
#include <vector>

#include "trident/core/tensor.h"

namespace trident {

// The ROC curve over every distinct score used as a threshold (no point is dropped, unlike scikit-learn's default
// drop_intermediate=True). Point 0 is (0, 0) with the threshold that accepts nothing (+inf for similarities, -inf for
// distances); then one point per distinct score, from the strictest threshold to the loosest; the last point is
// (1, 1). fpr and tpr are non-decreasing. Tied scores form one point.
struct RocCurve {
  std::vector<double> fpr;         // false accept rate: different pairs predicted same / different pairs
  std::vector<double> tpr;         // true accept rate: same pairs predicted same / same pairs
  std::vector<double> thresholds;  // in the scores' own units
};
RocCurve roc_curve(const Tensor& scores, const Tensor& is_same, bool similarity = false);

// Area under the ROC curve by the trapezoidal rule: the probability that a random same pair scores closer than a
// random different pair, ties counted 1/2 (the Mann-Whitney U statistic / (P N)). 1 = perfect, 0.5 = chance.
double auc(const RocCurve& roc);
double auc(const Tensor& scores, const Tensor& is_same, bool similarity = false);

// True accept rate at a false accept rate: the largest TPR over the ROC points (thresholds taken from the data, no
// interpolation) with FPR <= far. far in [0, 1]; e.g. 1e-3 and 1e-2. With N different pairs an FPR below 1/N is only
// reached as 0, so TAR@FAR = 1e-3 needs thousands of different pairs to mean anything.
double tar_at_far(const RocCurve& roc, double far);
double tar_at_far(const Tensor& scores, const Tensor& is_same, double far, bool similarity = false);

// Equal error rate: the x where FPR = x = FNR (FNR = 1 - TPR) on the ROC curve linearly interpolated between its
// points, i.e. the root of 1 - x - TPR(x) (as the usual LFW scripts do with brentq on interp1d). 0 = perfect.
double eer(const RocCurve& roc);
double eer(const Tensor& scores, const Tensor& is_same, bool similarity = false);

// Verification accuracy by k-fold cross-validation (the LFW protocol, 10 folds): the pairs are shuffled with `seed`
// and cut into `folds` parts of sizes differing by at most one; for each fold, the threshold with the best accuracy on
// the other folds is chosen and the accuracy is measured on the held-out fold.
// Candidate thresholds: midway between consecutive distinct training scores, plus accept-nothing and accept-all
// (+-inf); among equally accurate thresholds the strictest (smallest distance, largest similarity) is taken.
struct KFoldAccuracy {
  double mean = 0;                 // mean of the fold accuracies
  double std = 0;                  // their standard deviation (population, ddof = 0, as numpy's np.std)
  std::vector<double> accuracies;  // per fold, on the held-out pairs
  std::vector<double> thresholds;  // per fold, chosen on the other folds (scores' units)
};
// folds in [2, N].
KFoldAccuracy verification_accuracy_kfold(const Tensor& scores, const Tensor& is_same, std::int64_t folds = 10,
                                          std::uint64_t seed = 0, bool similarity = false);

// A pair of dataset items for verification.
struct VerificationPair {
  std::int64_t first = 0, second = 0;  // item indices, first != second
  bool same = false;                   // labels[first] == labels[second]
};

// Balanced random pairs from labels [N] int64: pairs at even positions are "same" (a class drawn uniformly among the
// classes with at least two items, then two distinct items of it), at odd positions "different" (two distinct classes
// drawn uniformly, one item of each). Deterministic in seed (Philox). A pair may occur more than once.
// Errors: labels not 1-d int64, num_pairs < 1, no class with two items, fewer than two classes.
std::vector<VerificationPair> make_verification_pairs(const Tensor& labels, std::int64_t num_pairs,
                                                      std::uint64_t seed = 0);

// The pairs as tensors, to gather embeddings and score them: first [N] int64, second [N] int64, is_same [N] bool.
struct VerificationPairTensors {
  Tensor first, second, is_same;
};
VerificationPairTensors pair_tensors(const std::vector<VerificationPair>& pairs);

}  // namespace trident
