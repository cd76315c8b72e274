// Printing tensors the way PyTorch does: fmt::format("{}", t), std::cout << t, to_string(t).
//
//   tensor([[1.0000, 2.5000],
//           [3.0000, 4.0000]])
//   tensor([  1, -20, 300])                      int64
//   tensor([ True, False])                       bool
//   tensor([1.5000, 2.0000], dtype=float64)      a dtype suffix unless float32, int64 or bool
//   tensor([2., 2.], grad_fn=<MulBackward>)      or requires_grad=True on a leaf
//
// PyTorch's rules (torch/_tensor_str.py, default print options: precision 4, threshold 1000, 3 edge items, line width
// 80): integral float values print as "2."; scientific notation when the nonzero finite magnitudes span more than a
// factor 1000, exceed 1e8 or go below 1e-4; tensors of more than 1000 elements are summarised with "..." keeping 3
// items at each end of every dim. CUDA tensors are copied to the CPU for printing and get a device='cuda:0' suffix.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <string>

#include "trident/core/tensor.h"

namespace trident {

std::string to_string(const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace trident

template <>
struct fmt::formatter<trident::Tensor> {
  constexpr auto parse(format_parse_context& ctx) -> decltype(ctx.begin()) {
    auto it = ctx.begin();
    if (it != ctx.end() && *it != '}') throw format_error("a trident::Tensor is formatted with {} (no format spec)");
    return it;
  }
  template <typename FormatContext>
  auto format(const trident::Tensor& t, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string s = trident::to_string(t);
    return std::copy(s.begin(), s.end(), ctx.out());
  }
};
