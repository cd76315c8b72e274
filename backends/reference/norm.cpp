// Reference batch normalisation: see norm.h. Element k of a contiguous [N, C, *] tensor belongs to channel
// (k / inner) % C, inner = H * W (1 for [N, C]).
#include "trident/backends/reference/norm.h"

#include <cmath>
#include <vector>

namespace trident::reference {
namespace {

struct Layout {
  std::int64_t C, inner, M;  // channels, values per (n, c), values per channel
  std::int64_t channel(std::int64_t k) const { return (k / inner) % C; }
};

Layout layout_of(const Tensor& x) {
  const std::int64_t C = x.size(1);
  const std::int64_t inner = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  return {C, inner, C == 0 ? 0 : x.numel() / C};
}

template <typename T>
double value_or(const Tensor& t, std::int64_t c, double fallback) {
  return t.defined() ? static_cast<double>(t.data_ptr<T>()[c]) : fallback;
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                        const Tensor& var, bool training, double eps, const Tensor& out) {
  const Layout L = layout_of(x);
  dispatch_floating(x.dtype(), "reference batch_norm_forward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* mp = mean.data_ptr<T>();
    T* vp = var.data_ptr<T>();
    std::vector<double> mu(static_cast<std::size_t>(L.C)), sigma2(static_cast<std::size_t>(L.C));
    if (training) {
      std::vector<double> s(static_cast<std::size_t>(L.C), 0.0), ss(static_cast<std::size_t>(L.C), 0.0);
      for (std::int64_t k = 0; k < x.numel(); ++k) s[static_cast<std::size_t>(L.channel(k))] += xp[k];
      for (std::int64_t c = 0; c < L.C; ++c) mu[static_cast<std::size_t>(c)] = s[static_cast<std::size_t>(c)] / L.M;
      for (std::int64_t k = 0; k < x.numel(); ++k) {
        const double d = xp[k] - mu[static_cast<std::size_t>(L.channel(k))];
        ss[static_cast<std::size_t>(L.channel(k))] += d * d;
      }
      for (std::int64_t c = 0; c < L.C; ++c) {
        sigma2[static_cast<std::size_t>(c)] = ss[static_cast<std::size_t>(c)] / L.M;
        mp[c] = static_cast<T>(mu[static_cast<std::size_t>(c)]);
        vp[c] = static_cast<T>(sigma2[static_cast<std::size_t>(c)]);
      }
    } else {
      for (std::int64_t c = 0; c < L.C; ++c) {
        mu[static_cast<std::size_t>(c)] = mp[c];
        sigma2[static_cast<std::size_t>(c)] = vp[c];
      }
    }
    T* op = out.data_ptr<T>();
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      const std::int64_t c = L.channel(k);
      const double xhat =
          (xp[k] - mu[static_cast<std::size_t>(c)]) / std::sqrt(sigma2[static_cast<std::size_t>(c)] + eps);
      op[k] = static_cast<T>(xhat * value_or<T>(weight, c, 1.0) + value_or<T>(bias, c, 0.0));
    }
  });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& var, bool training, double eps, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  const Layout L = layout_of(x);
  dispatch_floating(x.dtype(), "reference batch_norm_backward", [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    const T* gp = grad_out.data_ptr<T>();
    const T* mp = mean.data_ptr<T>();
    const T* vp = var.data_ptr<T>();
    auto xhat = [&](std::int64_t k) {
      const std::int64_t c = L.channel(k);
      return (xp[k] - static_cast<double>(mp[c])) / std::sqrt(static_cast<double>(vp[c]) + eps);
    };
    std::vector<double> sum_g(static_cast<std::size_t>(L.C), 0.0), sum_g_xhat(static_cast<std::size_t>(L.C), 0.0);
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      sum_g[static_cast<std::size_t>(L.channel(k))] += gp[k];
      sum_g_xhat[static_cast<std::size_t>(L.channel(k))] += gp[k] * xhat(k);
    }
    for (std::int64_t c = 0; c < L.C; ++c) {
      if (grad_bias.defined()) grad_bias.data_ptr<T>()[c] = static_cast<T>(sum_g[static_cast<std::size_t>(c)]);
      if (grad_weight.defined()) grad_weight.data_ptr<T>()[c] = static_cast<T>(sum_g_xhat[static_cast<std::size_t>(c)]);
    }
    if (!grad_x.defined()) return;
    T* dx = grad_x.data_ptr<T>();
    for (std::int64_t k = 0; k < x.numel(); ++k) {
      const std::int64_t c = L.channel(k);
      const double scale = value_or<T>(weight, c, 1.0) / std::sqrt(static_cast<double>(vp[c]) + eps);
      double g = gp[k];
      if (training) g -= (sum_g[static_cast<std::size_t>(c)] + xhat(k) * sum_g_xhat[static_cast<std::size_t>(c)]) / L.M;
      dx[k] = static_cast<T>(scale * g);
    }
  });
}

}  // namespace trident::reference
