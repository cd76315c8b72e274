// Pooling layers. Interfaces: nn/pooling.h.
#include "trident/nn/pooling.h"

namespace trident::nn {

namespace {

std::string pair_str(const std::array<std::int64_t, 2>& p) { return fmt::format("({}, {})", p[0], p[1]); }

// The stride the op will use: {0, 0} means "the kernel size".
std::array<std::int64_t, 2> effective_stride(const Pool2dOptions& o) {
  return o.stride == std::array<std::int64_t, 2>{0, 0} ? o.kernel : o.stride;
}

void check_input(const char* layer, const Tensor& x) {
  TRIDENT_CHECK(x.defined(), "{}: the input is an undefined tensor", layer);
  TRIDENT_CHECK(x.dim() == 4, "{}: expected input of shape [N, C, H, W], got {}", layer, shape_str(x.sizes()));
}

std::string pool_repr(const Pool2dOptions& o) {
  return fmt::format("kernel_size={}, stride={}, padding={}", pair_str(o.kernel), pair_str(effective_stride(o)),
                     pair_str(o.padding));
}

}  // namespace

Tensor MaxPool2d::forward(const Tensor& x) {
  check_input("MaxPool2d", x);
  return max_pool2d(x, options);
}
std::string MaxPool2d::extra_repr() const { return pool_repr(options); }

Tensor AvgPool2d::forward(const Tensor& x) {
  check_input("AvgPool2d", x);
  return avg_pool2d(x, options);
}
std::string AvgPool2d::extra_repr() const { return pool_repr(options); }

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  check_input("AdaptiveAvgPool2d", x);
  return adaptive_avg_pool2d(x, output_size);
}
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

}  // namespace trident::nn
