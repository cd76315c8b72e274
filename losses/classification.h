// Classification and regression losses.
//   logits: [N, C] (float), target: [N] int64 class indices in [0, C) -> [] (or [N] with Reduction::None)
#pragma once

#include "trident/core/tensor.h"

namespace trident {

enum class Reduction { None, Mean, Sum };

// Fused log-softmax + negative log-likelihood. With label_smoothing s the target distribution is
// (1 - s) one_hot(y) + s / C (PyTorch's definition). Backward: (softmax(logits) - target_distribution) / N.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing = 0.0,
                     Reduction reduction = Reduction::Mean);
// log_probs: [N, C], target: [N] -> -log_probs[i, target[i]], reduced.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean);
// input, target: same shape -> (input - target)^2, reduced.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// logits, target (probabilities in [0, 1]): same shape -> -(t log s(x) + (1 - t) log(1 - s(x))), computed stably
// as max(x, 0) - x t + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace trident
