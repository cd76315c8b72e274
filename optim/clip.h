// Gradient clipping by the total norm of all gradients (PyTorch's torch.nn.utils.clip_grad_norm_).
#pragma once

#include <limits>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::optim {

// The norm of all the gradients of `params` taken together, as if concatenated into one vector:
//   total = (sum over every gradient element x of |x|^norm_type)^(1 / norm_type),  or max |x| for norm_type = inf.
// When total > max_norm the gradients are scaled in place by clip_coef = max_norm / (total + 1e-6) (the 1e-6 keeps
// the division finite, as in PyTorch); otherwise they are left as they are. Parameters without a gradient are
// skipped; with none at all the total is 0. Returns the total norm from before clipping. A non-finite total (a NaN
// or inf gradient) is an error when error_if_nonfinite; otherwise the gradients are scaled by the NaN / zero
// coefficient that follows from it, as PyTorch does.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

}  // namespace trident::optim
