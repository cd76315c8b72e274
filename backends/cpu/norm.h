// CPU batch normalisation: which float32 implementation runs, for tests and benchmarks. The kernels are reached
// through kernels::batch_norm_* (backends/kernels.h); float64 runs on the reference loops.
#pragma once

namespace trident::cpu {

// OneDnn: oneDNN's batch_normalization primitives (use_scale / use_shift, use_global_stats for inference).
// Loops:  trident's own OpenMP + SIMD loops (norm.cpp).
// Note [Batch norm implementations] in norm.cpp has the measurements behind the default.
enum class BatchNormImpl { OneDnn, Loops };
void set_batch_norm_impl(BatchNormImpl impl);
BatchNormImpl batch_norm_impl();

}  // namespace trident::cpu
