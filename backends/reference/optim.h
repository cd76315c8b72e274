// Naive optimizer updates: the oracle for the fused sgd_step / adam_step kernels.
//
// The formulas of kernels.h ("optimizers") written out one element at a time, in float64 whatever the dtype (the
// result is rounded once, when stored back). CPU tensors only; any strides.
#pragma once

#include "trident/backends/kernels.h"

namespace trident::reference {

// The contracts of kernels::sgd_step / kernels::adam_step.
void sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const kernels::SGDStepArgs& args);
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
               const kernels::AdamStepArgs& args);

}  // namespace trident::reference
