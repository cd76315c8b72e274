// Reference convolution: see conv.h.
//
// All three kernels walk the same seven nested loops -- (n, o, i, j) over outputs, (c, p, q) over one filter -- and
// pair out[n, o, i, j] with x[n, g * C_in/G + c, i s0 - p0 + p d0, j s1 - p1 + q d1] and weight[o, c, p, q]. The
// forward sums x * weight into out; backward-data adds grad_out * weight into that x element; backward-weight adds
// grad_out * x into that weight element. Writing the backwards as the same pairing as the forward is what makes
// them obviously the forward's adjoints.
#include "trident/backends/reference/conv.h"

#include <vector>

namespace trident::reference {
namespace {

struct ConvGeometry {
  std::int64_t N, C_in, H, W, C_out, kH, kW, H_out, W_out, G, cin_g, cout_g;
};

ConvGeometry geometry(const Shape& x, const Shape& w, const Shape& out, std::int64_t groups) {
  ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], out[2], out[3], groups, x[1] / groups, w[0] / groups};
  return g;
}

// Calls f(x_offset, w_offset, out_offset) for every (output, filter tap) pair whose x element is inside the image.
template <typename F>
void for_each_tap(const ConvGeometry& g, const kernels::Conv2dParams& p, F&& f) {
  for (std::int64_t n = 0; n < g.N; ++n)
    for (std::int64_t o = 0; o < g.C_out; ++o) {
      const std::int64_t group = o / g.cout_g;
      for (std::int64_t i = 0; i < g.H_out; ++i)
        for (std::int64_t j = 0; j < g.W_out; ++j) {
          const std::int64_t out_off = ((n * g.C_out + o) * g.H_out + i) * g.W_out + j;
          for (std::int64_t c = 0; c < g.cin_g; ++c)
            for (std::int64_t kp = 0; kp < g.kH; ++kp)
              for (std::int64_t kq = 0; kq < g.kW; ++kq) {
                const std::int64_t y = i * p.stride[0] - p.padding[0] + kp * p.dilation[0];
                const std::int64_t x = j * p.stride[1] - p.padding[1] + kq * p.dilation[1];
                if (y < 0 || y >= g.H || x < 0 || x >= g.W) continue;  // a padded zero
                const std::int64_t x_off = ((n * g.C_in + group * g.cin_g + c) * g.H + y) * g.W + x;
                const std::int64_t w_off = ((o * g.cin_g + c) * g.kH + kp) * g.kW + kq;
                f(x_off, w_off, out_off);
              }
        }
    }
}

template <typename T>
void store(const std::vector<double>& acc, const Tensor& dst) {
  T* d = dst.data_ptr<T>();
  for (std::size_t k = 0; k < acc.size(); ++k) d[k] = static_cast<T>(acc[k]);
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                    const kernels::Conv2dParams& params) {
  const ConvGeometry g = geometry(x.sizes(), weight.sizes(), out.sizes(), params.groups);
  dispatch_floating(x.dtype(), "reference conv2d_forward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    const T* wp = weight.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(out.numel()), 0.0);
    if (bias.defined()) {
      const T* bp = bias.data_ptr<T>();
      for (std::size_t k = 0; k < acc.size(); ++k)
        acc[k] = static_cast<double>(bp[(static_cast<std::int64_t>(k) / (g.H_out * g.W_out)) % g.C_out]);
    }
    for_each_tap(g, params, [&](std::int64_t xo, std::int64_t wo, std::int64_t oo) {
      acc[static_cast<std::size_t>(oo)] += static_cast<double>(xp[xo]) * static_cast<double>(wp[wo]);
    });
    store<T>(acc, out);
  });
}

void conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                          const kernels::Conv2dParams& params) {
  const ConvGeometry g = geometry(grad_x.sizes(), weight.sizes(), grad_out.sizes(), params.groups);
  dispatch_floating(grad_out.dtype(), "reference conv2d_backward_data", [&]<typename T>() {
    const T* gp = grad_out.data_ptr<T>();
    const T* wp = weight.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(grad_x.numel()), 0.0);
    for_each_tap(g, params, [&](std::int64_t xo, std::int64_t wo, std::int64_t oo) {
      acc[static_cast<std::size_t>(xo)] += static_cast<double>(gp[oo]) * static_cast<double>(wp[wo]);
    });
    store<T>(acc, grad_x);
  });
}

void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight, const Tensor& grad_bias,
                            const kernels::Conv2dParams& params) {
  const ConvGeometry g = geometry(x.sizes(), grad_weight.sizes(), grad_out.sizes(), params.groups);
  dispatch_floating(grad_out.dtype(), "reference conv2d_backward_weight", [&]<typename T>() {
    const T* gp = grad_out.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    std::vector<double> acc(static_cast<std::size_t>(grad_weight.numel()), 0.0);
    for_each_tap(g, params, [&](std::int64_t xo, std::int64_t wo, std::int64_t oo) {
      acc[static_cast<std::size_t>(wo)] += static_cast<double>(gp[oo]) * static_cast<double>(xp[xo]);
    });
    store<T>(acc, grad_weight);
    if (grad_bias.defined()) {
      std::vector<double> bias_acc(static_cast<std::size_t>(g.C_out), 0.0);
      for (std::int64_t k = 0; k < grad_out.numel(); ++k)
        bias_acc[static_cast<std::size_t>((k / (g.H_out * g.W_out)) % g.C_out)] += static_cast<double>(gp[k]);
      store<T>(bias_acc, grad_bias);
    }
  });
}

}  // namespace trident::reference
