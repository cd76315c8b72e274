// Reference pooling: see pool.h. Each output element visits its window pixel by pixel.
#include "trident/backends/reference/pool.h"

#include <vector>

#include "trident/ops/factory.h"

namespace trident::reference {
namespace {

// One output element's window in its H x W plane: rows [y0, y1), columns [x0, x1), already clipped to the image.
struct Window {
  std::int64_t y0, y1, x0, x1;
};

Window pool_window(std::int64_t i, std::int64_t j, std::int64_t H, std::int64_t W, const kernels::Pool2dParams& p) {
  const std::int64_t y = i * p.stride[0] - p.padding[0], x = j * p.stride[1] - p.padding[1];
  return {std::max<std::int64_t>(y, 0), std::min(y + p.kernel[0], H), std::max<std::int64_t>(x, 0),
          std::min(x + p.kernel[1], W)};
}

// floor(i * size / out) .. ceil((i + 1) * size / out)
std::int64_t adaptive_start(std::int64_t i, std::int64_t size, std::int64_t out) { return (i * size) / out; }
std::int64_t adaptive_end(std::int64_t i, std::int64_t size, std::int64_t out) {
  return ((i + 1) * size + out - 1) / out;
}

// Calls f(plane, i, j, window) for every output element (plane = n * C + c).
template <typename WindowOf, typename F>
void for_each_output(const Shape& in, const Shape& out, WindowOf&& window_of, F&& f) {
  for (std::int64_t plane = 0; plane < in[0] * in[1]; ++plane)
    for (std::int64_t i = 0; i < out[2]; ++i)
      for (std::int64_t j = 0; j < out[3]; ++j) f(plane, i, j, window_of(i, j));
}

}  // namespace

Tensor max_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params) {
  const std::int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  Tensor workspace = empty(out.sizes(), {.dtype = kInt64});
  std::int64_t* ws = workspace.data_ptr<std::int64_t>();
  dispatch_floating(x.dtype(), "reference max_pool2d_forward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    auto window_of = [&](std::int64_t i, std::int64_t j) { return pool_window(i, j, H, W, params); };
    for_each_output(x.sizes(), out.sizes(), window_of,
                    [&](std::int64_t plane, std::int64_t i, std::int64_t j, Window w) {
                      std::int64_t best = w.y0 * W + w.x0;
                      for (std::int64_t y = w.y0; y < w.y1; ++y)
                        for (std::int64_t xx = w.x0; xx < w.x1; ++xx)
                          if (xp[plane * H * W + y * W + xx] > xp[plane * H * W + best])
                            best = y * W + xx;  // strict: first wins ties
                      op[(plane * OH + i) * OW + j] = xp[plane * H * W + best];
                      ws[(plane * OH + i) * OW + j] = best;
                    });
  });
  return workspace;
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& workspace, const Tensor& grad_x,
                         const kernels::Pool2dParams&) {
  const std::int64_t HW = grad_x.size(2) * grad_x.size(3), OHW = grad_out.size(2) * grad_out.size(3);
  const std::int64_t* ws = workspace.data_ptr<std::int64_t>();
  dispatch_floating(grad_out.dtype(), "reference max_pool2d_backward", [&]<typename T>() {
    const T* gp = grad_out.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(grad_x.numel()), 0.0);
    for (std::int64_t k = 0; k < grad_out.numel(); ++k)
      acc[static_cast<std::size_t>((k / OHW) * HW + ws[k])] += static_cast<double>(gp[k]);
    T* dst = grad_x.data_ptr<T>();
    for (std::size_t k = 0; k < acc.size(); ++k) dst[k] = static_cast<T>(acc[k]);
  });
}

void avg_pool2d_forward(const Tensor& x, const Tensor& out, const kernels::Pool2dParams& params) {
  const std::int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  const double area = static_cast<double>(params.kernel[0] * params.kernel[1]);  // padding counts
  dispatch_floating(x.dtype(), "reference avg_pool2d_forward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    auto window_of = [&](std::int64_t i, std::int64_t j) { return pool_window(i, j, H, W, params); };
    for_each_output(x.sizes(), out.sizes(), window_of,
                    [&](std::int64_t plane, std::int64_t i, std::int64_t j, Window w) {
                      double s = 0.0;
                      for (std::int64_t y = w.y0; y < w.y1; ++y)
                        for (std::int64_t xx = w.x0; xx < w.x1; ++xx)
                          s += static_cast<double>(xp[plane * H * W + y * W + xx]);
                      op[(plane * OH + i) * OW + j] = static_cast<T>(s / area);
                    });
  });
}

void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x, const kernels::Pool2dParams& params) {
  const std::int64_t H = grad_x.size(2), W = grad_x.size(3), OH = grad_out.size(2), OW = grad_out.size(3);
  const double area = static_cast<double>(params.kernel[0] * params.kernel[1]);
  dispatch_floating(grad_out.dtype(), "reference avg_pool2d_backward", [&]<typename T>() {
    const T* gp = grad_out.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(grad_x.numel()), 0.0);
    auto window_of = [&](std::int64_t i, std::int64_t j) { return pool_window(i, j, H, W, params); };
    for_each_output(grad_x.sizes(), grad_out.sizes(), window_of,
                    [&](std::int64_t plane, std::int64_t i, std::int64_t j, Window w) {
                      const double g = static_cast<double>(gp[(plane * OH + i) * OW + j]) / area;
                      for (std::int64_t y = w.y0; y < w.y1; ++y)
                        for (std::int64_t xx = w.x0; xx < w.x1; ++xx)
                          acc[static_cast<std::size_t>(plane * H * W + y * W + xx)] += g;
                    });
    T* dst = grad_x.data_ptr<T>();
    for (std::size_t k = 0; k < acc.size(); ++k) dst[k] = static_cast<T>(acc[k]);
  });
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& out) {
  const std::int64_t H = x.size(2), W = x.size(3), OH = out.size(2), OW = out.size(3);
  dispatch_floating(x.dtype(), "reference adaptive_avg_pool2d_forward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    auto window_of = [&](std::int64_t i, std::int64_t j) {
      return Window{adaptive_start(i, H, OH), adaptive_end(i, H, OH), adaptive_start(j, W, OW), adaptive_end(j, W, OW)};
    };
    for_each_output(
        x.sizes(), out.sizes(), window_of, [&](std::int64_t plane, std::int64_t i, std::int64_t j, Window w) {
          double s = 0.0;
          for (std::int64_t y = w.y0; y < w.y1; ++y)
            for (std::int64_t xx = w.x0; xx < w.x1; ++xx) s += static_cast<double>(xp[plane * H * W + y * W + xx]);
          op[(plane * OH + i) * OW + j] = static_cast<T>(s / static_cast<double>((w.y1 - w.y0) * (w.x1 - w.x0)));
        });
  });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  const std::int64_t H = grad_x.size(2), W = grad_x.size(3), OH = grad_out.size(2), OW = grad_out.size(3);
  dispatch_floating(grad_out.dtype(), "reference adaptive_avg_pool2d_backward", [&]<typename T>() {
    const T* gp = grad_out.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(grad_x.numel()), 0.0);
    auto window_of = [&](std::int64_t i, std::int64_t j) {
      return Window{adaptive_start(i, H, OH), adaptive_end(i, H, OH), adaptive_start(j, W, OW), adaptive_end(j, W, OW)};
    };
    for_each_output(
        grad_x.sizes(), grad_out.sizes(), window_of, [&](std::int64_t plane, std::int64_t i, std::int64_t j, Window w) {
          const double g =
              static_cast<double>(gp[(plane * OH + i) * OW + j]) / static_cast<double>((w.y1 - w.y0) * (w.x1 - w.x0));
          for (std::int64_t y = w.y0; y < w.y1; ++y)
            for (std::int64_t xx = w.x0; xx < w.x1; ++xx)
              acc[static_cast<std::size_t>(plane * H * W + y * W + xx)] += g;
        });
    T* dst = grad_x.data_ptr<T>();
    for (std::size_t k = 0; k < acc.size(); ++k) dst[k] = static_cast<T>(acc[k]);
  });
}

}  // namespace trident::reference
