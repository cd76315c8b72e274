// Naive softmax. Contract: backends/reference/softmax.h.
#include "trident/backends/reference/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

namespace trident::reference {

namespace {

// Calls f(offsets of t1, offsets of t2, ...) for every slice along dim: the element offsets of its D elements.
template <typename F>
void for_each_slice(const std::vector<const Tensor*>& ts, std::int64_t dim, F&& f) {
  const Tensor& t = *ts[0];
  const std::int64_t nd = t.dim(), D = t.size(dim);
  const std::int64_t n_slices = D == 0 ? 0 : t.numel() / D;
  std::vector<std::vector<std::int64_t>> offsets(ts.size(), std::vector<std::int64_t>(static_cast<std::size_t>(D)));
  for (std::int64_t s = 0; s < n_slices; ++s) {
    // s = C-order index over the dims other than dim
    for (std::size_t k = 0; k < ts.size(); ++k) {
      std::int64_t rem = s, base = 0;
      for (std::int64_t d = nd; d-- > 0;) {
        if (d == dim) continue;
        base += (rem % t.size(d)) * ts[k]->stride(d);
        rem /= t.size(d);
      }
      for (std::int64_t j = 0; j < D; ++j) offsets[k][j] = base + j * ts[k]->stride(dim);
    }
    f(offsets);
  }
}

}  // namespace

void softmax(const Tensor& in, const Tensor& out, std::int64_t dim, bool log) {
  TRIDENT_CHECK(in.device().is_cpu() && out.device().is_cpu(), "reference::softmax: CPU tensors only");
  dispatch_floating(in.dtype(), "reference::softmax", [&]<typename T>() {
    const T* x = static_cast<const T*>(in.raw_data());
    T* y = static_cast<T*>(out.raw_data());
    for_each_slice({&in, &out}, dim, [&](const std::vector<std::vector<std::int64_t>>& off) {
      const std::size_t D = off[0].size();
      double m = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < D; ++j) m = std::fmax(m, static_cast<double>(x[off[0][j]]));
      bool nan = false;
      for (std::size_t j = 0; j < D; ++j) nan |= std::isnan(x[off[0][j]]);
      double s = 0;
      for (std::size_t j = 0; j < D; ++j) s += std::exp(static_cast<double>(x[off[0][j]]) - m);
      for (std::size_t j = 0; j < D; ++j) {
        const double v = static_cast<double>(x[off[0][j]]) - m;  // NaN when m is +-inf: see kernels.h
        const double r = log ? v - std::log(s) : std::exp(v) / s;
        y[off[1][j]] = static_cast<T>(nan ? std::numeric_limits<double>::quiet_NaN() : r);
      }
    });
  });
}

void softmax_backward(const Tensor& grad_out, const Tensor& out, const Tensor& grad_in, std::int64_t dim, bool log) {
  TRIDENT_CHECK(out.device().is_cpu(), "reference::softmax_backward: CPU tensors only");
  dispatch_floating(out.dtype(), "reference::softmax_backward", [&]<typename T>() {
    const T* g = static_cast<const T*>(grad_out.raw_data());
    const T* y = static_cast<const T*>(out.raw_data());
    T* gx = static_cast<T*>(grad_in.raw_data());
    for_each_slice({&grad_out, &out, &grad_in}, dim, [&](const std::vector<std::vector<std::int64_t>>& off) {
      const std::size_t D = off[0].size();
      double s = 0;  // softmax: sum g*y; log_softmax: sum g
      for (std::size_t j = 0; j < D; ++j) s += static_cast<double>(g[off[0][j]]) * (log ? 1.0 : y[off[1][j]]);
      for (std::size_t j = 0; j < D; ++j) {
        const double gj = g[off[0][j]], yj = y[off[1][j]];
        gx[off[2][j]] = static_cast<T>(log ? gj - std::exp(yj) * s : yj * (gj - s));
      }
    });
  });
}

}  // namespace trident::reference
