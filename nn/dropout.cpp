// Dropout. Interface: nn/dropout.h.
#include "trident/nn/dropout.h"

#include "trident/ops/dropout.h"

namespace trident::nn {

Dropout::Dropout(double p_) : p(p_) { TRIDENT_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must lie in [0, 1], got {}", p); }

Tensor Dropout::forward(const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "Dropout: the input is an undefined tensor");
  return dropout(x, p, is_training());
}

std::string Dropout::extra_repr() const { return fmt::format("p={}", p); }

}  // namespace trident::nn
