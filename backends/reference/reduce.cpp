// Naive reductions. Contract: backends/reference/reduce.h.
#include "trident/backends/reference/reduce.h"

#include <cmath>
#include <type_traits>
#include <vector>

namespace trident::reference {

namespace {

template <typename T>
void reduce_typed(kernels::ReduceOp op, const Tensor& in, const Tensor& out) {
  using kernels::ReduceOp;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
  const std::int64_t nd = in.dim(), n_out = out.numel();
  std::vector<Acc> sum(static_cast<std::size_t>(n_out), 0);
  std::vector<T> best(static_cast<std::size_t>(n_out));
  std::vector<std::int64_t> best_index(static_cast<std::size_t>(n_out), 0);
  std::vector<bool> seen(static_cast<std::size_t>(n_out), false);
  const T* x = static_cast<const T*>(in.raw_data());
  std::int64_t reduced_dim = -1;  // for argmax/argmin: the one reduced dim
  for (std::int64_t d = 0; d < nd; ++d)
    if (out.size(d) == 1 && in.size(d) != 1) reduced_dim = d;

  const Shape &sizes = in.sizes(), &in_strides = in.strides(), &out_sizes = out.sizes(), &out_strides = out.strides();
  std::vector<std::int64_t> index(static_cast<std::size_t>(nd), 0);
  const std::int64_t numel = in.numel();
  for (std::int64_t i = 0; i < numel; ++i) {
    // index = the C-order multi-index of element i
    std::int64_t rem = i, in_off = 0, out_off = 0;
    for (std::int64_t d = nd; d-- > 0;) {
      index[d] = rem % sizes[d];
      rem /= sizes[d];
      in_off += index[d] * in_strides[d];
      if (out_sizes[d] != 1) out_off += index[d] * out_strides[d];
    }
    const T v = x[in_off];
    const auto o = static_cast<std::size_t>(out_off);
    const std::int64_t r = reduced_dim < 0 ? 0 : index[reduced_dim];
    const bool v_nan = v != v, best_nan = seen[o] && best[o] != best[o];
    switch (op) {
      case ReduceOp::Sum:
        sum[o] += static_cast<Acc>(v);
        break;
      case ReduceOp::Max:
      case ReduceOp::ArgMax:
        if (!seen[o] || (!best_nan && (v_nan || v > best[o]))) {
          best[o] = v;
          best_index[o] = r;
        }
        break;
      case ReduceOp::Min:
      case ReduceOp::ArgMin:
        if (!seen[o] || (!best_nan && (v_nan || v < best[o]))) {
          best[o] = v;
          best_index[o] = r;
        }
        break;
    }
    seen[o] = true;
  }
  dispatch_numeric(out.dtype(), "reference::reduce", [&]<typename O>() {
    O* y = static_cast<O*>(out.raw_data());
    for (std::int64_t o = 0; o < n_out; ++o) {
      switch (op) {
        case ReduceOp::Sum:
          y[o] = static_cast<O>(sum[o]);
          break;
        case ReduceOp::Max:
        case ReduceOp::Min:
          y[o] = static_cast<O>(best[o]);
          break;
        case ReduceOp::ArgMax:
        case ReduceOp::ArgMin:
          y[o] = static_cast<O>(best_index[o]);
          break;
      }
    }
  });
}

}  // namespace

void reduce(kernels::ReduceOp op, const Tensor& in, const Tensor& out) {
  TRIDENT_CHECK(in.device().is_cpu() && out.device().is_cpu(), "reference::reduce: CPU tensors only");
  TRIDENT_CHECK(out.is_contiguous() && out.dim() == in.dim(), "reference::reduce: out must be contiguous, in's rank");
  dispatch_dtype(in.dtype(), "reference::reduce", [&]<typename T>() { reduce_typed<T>(op, in, out); });
}

}  // namespace trident::reference
