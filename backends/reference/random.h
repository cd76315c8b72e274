// Reference random samples: Note [Random streams] (backends/kernels.h) evaluated one element at a time, straight
// from its definition, as the oracle for the random_fill kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "trident/backends/kernels.h"

namespace trident::reference {

// Sample i (i < n) of the stream (seed, offset) for `kind` and dtype, as double (before conversion to the dtype).
std::vector<double> random_samples(kernels::RandomKind kind, DType dtype, std::int64_t n, std::uint64_t seed,
                                   std::uint64_t offset, double a, double b);

}  // namespace trident::reference
