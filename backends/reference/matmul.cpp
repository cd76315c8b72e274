// Naive matrix product (see matmul.h): one dot product per output element, read through the strides.
#include "trident/backends/reference/matmul.h"

namespace trident::reference {

namespace {

template <typename T>
void matmul_typed(const Tensor& a, const Tensor& b, const Tensor& out) {
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  T* po = out.data_ptr<T>();
  const Shape& sa = a.strides();
  const Shape& sb = b.strides();
  const Shape& so = out.strides();
  for (std::int64_t n = 0; n < B; ++n)
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < N; ++j) {
        double acc = 0.0;
        for (std::int64_t k = 0; k < K; ++k)
          acc += static_cast<double>(pa[n * sa[0] + i * sa[1] + k * sa[2]]) *
                 static_cast<double>(pb[n * sb[0] + k * sb[1] + j * sb[2]]);
        po[n * so[0] + i * so[1] + j * so[2]] = static_cast<T>(acc);
      }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  TRIDENT_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && a.size(0) == out.size(0) &&
                    b.size(0) == out.size(0) && a.size(1) == out.size(1) && b.size(2) == out.size(2) &&
                    a.size(2) == b.size(1),
                "reference matmul: expected [B, M, K] @ [B, K, N] -> [B, M, N], got {} @ {} -> {}",
                shape_str(a.sizes()), shape_str(b.sizes()), shape_str(out.sizes()));
  TRIDENT_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "reference matmul: dtypes differ");
  TRIDENT_CHECK(a.device().is_cpu(), "reference matmul: CPU tensors only");
  dispatch_floating(a.dtype(), "reference matmul", [&]<typename T>() { matmul_typed<T>(a, b, out); });
}

}  // namespace trident::reference
