// ProxyNCALoss and ProxyAnchorLoss. Interface and semantics: losses/proxy.h.
//
// Each loss is one autograd node of the prepared embeddings e [B, D] and the prepared proxies P [C, D]: the forward
// computes the similarities with one GEMM and, in one sweep over them, the loss and the gradient G with respect to
// those similarities; the backward is two GEMMs (Notes below).
#include "trident/losses/proxy.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "trident/backends/cpu/loops.h"
#include "trident/core/autograd/grad_mode.h"
#include "trident/core/autograd/node.h"
#include "trident/nn/init.h"
#include "trident/ops/checks.h"
#include "trident/ops/distance.h"
#include "trident/ops/elementwise.h"
#include "trident/ops/factory.h"
#include "trident/ops/matmul.h"
#include "trident/ops/reduce.h"

namespace trident {

using autograd::Node;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Checks what every proxy loss is given: the metric-loss inputs (metric_common), proxies [C, D] of the embeddings'
// dtype and width, finite, and labels in [0, C).
void check_proxy_inputs(const char* op, const Tensor& embeddings, const Tensor& proxies, const Tensor& labels) {
  check_metric_inputs(op, embeddings, labels);
  check_defined(op, proxies, "proxies");
  TRIDENT_CHECK(proxies.dim() == 2 && proxies.size(0) >= 1, "{}: proxies must be 2-d [C, D] with C >= 1, got shape {}",
                op, shape_str(proxies.sizes()));
  TRIDENT_CHECK(proxies.dtype() == embeddings.dtype(),
                "{}: embeddings are {} but the proxies are {} (convert the loss with loss->to({}))", op,
                embeddings.dtype(), proxies.dtype(), embeddings.dtype());
  TRIDENT_CHECK(proxies.size(1) == embeddings.size(1), "{}: embeddings have dimension {} but the proxies {} (shape {})",
                op, embeddings.size(1), proxies.size(1), shape_str(proxies.sizes()));
  check_same_device(op, embeddings, proxies);
  NoGradGuard no_grad;
  TRIDENT_CHECK(std::isfinite(sum(proxies.detach() * 0.0).item<double>()), "{}: proxies contain NaN or infinity", op);
  const std::int64_t classes = proxies.size(0);
  const std::int64_t lo = min(labels).item<std::int64_t>(), hi = max(labels).item<std::int64_t>();
  TRIDENT_CHECK(lo >= 0, "{}: label {} is out of range [0, {}) (one proxy per class)", op, lo, classes);
  TRIDENT_CHECK(hi < classes, "{}: label {} is out of range [0, {}) (one proxy per class)", op, hi, classes);
}

void check_nca_options(const char* op, const ProxyNCAOptions& o, std::int64_t classes) {
  TRIDENT_CHECK(std::isfinite(o.softmax_scale) && o.softmax_scale > 0, "{}: softmax_scale must be > 0, got {}", op,
                o.softmax_scale);
  TRIDENT_CHECK(o.include_positive_in_denominator || classes >= 2,
                "{}: include_positive_in_denominator = false needs at least 2 classes (the denominator holds the other "
                "classes' proxies), got {}",
                op, classes);
}

void check_anchor_options(const char* op, const ProxyAnchorOptions& o) {
  TRIDENT_CHECK(std::isfinite(o.alpha) && o.alpha > 0, "{}: alpha must be > 0, got {}", op, o.alpha);
  TRIDENT_CHECK(std::isfinite(o.margin), "{}: margin must be finite, got {}", op, o.margin);
}

void check_sizes(const char* op, std::int64_t classes, std::int64_t dim) {
  TRIDENT_CHECK(classes >= 1 && dim >= 1, "{}: num_classes and dim must be >= 1, got {} and {}", op, classes, dim);
}

void finish_stats(LossStats* stats, std::int64_t b, std::int64_t classes, std::int64_t active, double pos_sum,
                  double neg_sum) {
  if (!stats) return;
  stats->tuples = b;
  stats->active = active;
  stats->active_fraction = static_cast<double>(active) / static_cast<double>(b);
  stats->mean_positive = pos_sum / static_cast<double>(b);
  stats->mean_negative = classes > 1 ? neg_sum / static_cast<double>(b * (classes - 1)) : kNaN;
}

bool worth_parallel(std::int64_t work) { return work >= cpu::kParallelGrain && omp_get_max_threads() > 1; }

// ------------------------------------------------------------------------------------------------------------------
// Note [ProxyNCA gradient]
// With e_i [D] and P_c [D] as given to the node, S = e P^T, n_i = |e_i|^2, m_c = |P_c|^2:
//   d_ic = n_i + m_c - 2 S_ic = |e_i - P_c|^2,   z_ic = -kappa d_ic,
//   l_i = -z_{i y_i} + log sum_{c in Den_i} e^{z_ic},   L = (1/B) sum_i l_i,
// where Den_i is every class (include_positive_in_denominator) or every class but y_i. With q_ic the softmax of z_i
// over Den_i (q_ic = 0 for c outside Den_i), dl_i/dz_ic = q_ic - [c = y_i], so
//   H_ic := dL/dd_ic = (kappa / B) ([c = y_i] - q_ic).
// d depends on S, n and m:  dL/dS = -2 H =: G,  dL/dn_i = sum_c H_ic = -1/2 (G 1)_i,  dL/dm_c = -1/2 (G^T 1)_c.
// With dn_i/de_i = 2 e_i and dm_c/dP_c = 2 P_c:
//   dL/de = G P   - diag(G 1) e        (the second term is 0 when Den_i holds every class: the softmax rows sum to 1)
//   dL/dP = G^T e - diag(G^T 1) P.
// The forward sweeps each row of S once (parallel over samples): z, its max over Den_i (log-sum-exp with max
// subtraction, so no exponential overflows or underflows to a wrong loss), l_i and the row of G.
// ------------------------------------------------------------------------------------------------------------------
struct NCAOut {
  std::vector<double> loss;       // l_i
  std::vector<double> d_pos;      // d(e_i, P_{y_i}), clamped at 0
  std::vector<double> d_neg_sum;  // sum over c != y_i of d(e_i, P_c), clamped at 0
};

template <typename T>
void nca_sweep(const T* s, const T* e, const T* p, const std::int64_t* y, std::int64_t b, std::int64_t c_count,
               std::int64_t dim, double kappa, bool include_positive, T* g, NCAOut& out) {
  std::vector<double> m(static_cast<std::size_t>(c_count));
  for (std::int64_t c = 0; c < c_count; ++c) {
    double acc = 0;
    for (std::int64_t k = 0; k < dim; ++k)
      acc += static_cast<double>(p[c * dim + k]) * static_cast<double>(p[c * dim + k]);
    m[static_cast<std::size_t>(c)] = acc;
  }
  const double grad_scale = kappa / static_cast<double>(b);
#pragma omp parallel if (worth_parallel(b * (c_count + dim)))
  {
    std::vector<double> z(static_cast<std::size_t>(c_count));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < b; ++i) {
      double n = 0;
      for (std::int64_t k = 0; k < dim; ++k)
        n += static_cast<double>(e[i * dim + k]) * static_cast<double>(e[i * dim + k]);
      const std::int64_t yi = y[i];
      const T* srow = s + i * c_count;
      double zmax = -std::numeric_limits<double>::infinity(), neg_sum = 0;
      for (std::int64_t c = 0; c < c_count; ++c) {
        const double d = n + m[static_cast<std::size_t>(c)] - 2.0 * static_cast<double>(srow[c]);
        z[static_cast<std::size_t>(c)] = -kappa * d;
        if (c != yi) neg_sum += std::max(d, 0.0);
        if (c != yi || include_positive) zmax = std::max(zmax, z[static_cast<std::size_t>(c)]);
      }
      double total = 0;
      for (std::int64_t c = 0; c < c_count; ++c) {
        const double w = (c != yi || include_positive) ? std::exp(z[static_cast<std::size_t>(c)] - zmax) : 0.0;
        z[static_cast<std::size_t>(c)] = w;  // z now holds the unnormalised softmax weights
        total += w;
      }
      const double z_pos = -kappa * (n + m[static_cast<std::size_t>(yi)] - 2.0 * static_cast<double>(srow[yi]));
      out.loss[static_cast<std::size_t>(i)] = zmax + std::log(total) - z_pos;
      out.d_pos[static_cast<std::size_t>(i)] = std::max(-z_pos / kappa, 0.0);
      out.d_neg_sum[static_cast<std::size_t>(i)] = neg_sum;
      T* grow = g + i * c_count;
      for (std::int64_t c = 0; c < c_count; ++c) {
        const double q = z[static_cast<std::size_t>(c)] / total;
        const double h = grad_scale * ((c == yi ? 1.0 : 0.0) - q);  // H_ic of the Note
        grow[c] = static_cast<T>(-2.0 * h);                         // G = -2 H
      }
    }
  }
}

// grad: [] -> dL/de [B, D], dL/dP [C, D]. Note [ProxyNCA gradient].
struct ProxyNCABackward final : Node {
  std::size_t e = 0;  // saved: the prepared embeddings, for dL/dP = G^T e - diag(G^T 1) P
  std::size_t p = 0;  // saved: the prepared proxies, for dL/de = G P - diag(G 1) e
  std::size_t g = 0;  // saved: G = dL/dS [B, C] of the forward (for an incoming gradient of 1)
  std::string name() const override { return "ProxyNCABackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor gs = saved(g) * grad;  // [B, C]
    Tensor ge, gp;
    if (needs_input_grad(0)) {
      const Tensor ev = saved(e);
      ge = matmul(gs, saved(p)) - ev * gs.sum({1}, true);
    }
    if (needs_input_grad(1)) {
      const Tensor pv = saved(p);
      gp = matmul(gs.t(), saved(e)) - pv * gs.sum({0}).unsqueeze(1);
    }
    return {ge, gp};
  }
};

// e: [B, D], p: [C, D], labels: [B] (all checked) -> []
Tensor proxy_nca_node(const Tensor& e, const Tensor& p, const Tensor& labels, const ProxyNCAOptions& options,
                      LossStats* stats) {
  const std::int64_t b = e.size(0), classes = p.size(0), dim = e.size(1);
  Tensor g = empty({b, classes}, {.dtype = e.dtype(), .device = e.device()});
  NCAOut out{std::vector<double>(static_cast<std::size_t>(b)), std::vector<double>(static_cast<std::size_t>(b)),
             std::vector<double>(static_cast<std::size_t>(b))};
  {
    NoGradGuard no_grad;
    const Tensor ec = e.detach().contiguous(), pc = p.detach().contiguous(), yc = labels.contiguous();
    const Tensor s = matmul(ec, pc.t()).contiguous();  // [B, C]: the one GEMM of the forward
    auto run = [&](auto tag) {
      using T = decltype(tag);
      nca_sweep<T>(s.data_ptr<T>(), ec.data_ptr<T>(), pc.data_ptr<T>(), yc.data_ptr<std::int64_t>(), b, classes, dim,
                   options.softmax_scale, options.include_positive_in_denominator, g.data_ptr<T>(), out);
    };
    if (e.dtype() == kFloat64)
      run(double{});
    else
      run(float{});
  }
  double total = 0, pos = 0, neg = 0;
  std::int64_t active = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    const auto k = static_cast<std::size_t>(i);
    total += out.loss[k];
    pos += out.d_pos[k];
    neg += out.d_neg_sum[k];
    active += out.loss[k] > kProxyActiveThreshold ? 1 : 0;
  }
  finish_stats(stats, b, classes, active, pos, neg);
  Tensor result = scalar_tensor(total / static_cast<double>(b), {.dtype = e.dtype()});
  if (auto node = autograd::make_node<ProxyNCABackward>({&e, &p})) {
    node->e = node->save(e);
    node->p = node->save(p);
    node->g = node->save(g);
    autograd::set_history(result, node);
  }
  return result;
}

// ------------------------------------------------------------------------------------------------------------------
// Note [Proxy-Anchor gradient]
// With S = e P^T (the cosine similarities when e and P are normalised), for each proxy c:
//   a_ic = -alpha (S_ic - delta) for the items i of class c (X_c+),  b_ic = alpha (S_ic + delta) for the others (X_c-),
//   Pos_c = log(1 + sum_{X_c+} e^{a_ic}),   Neg_c = log(1 + sum_{X_c-} e^{b_ic}),
//   L = (1/|P+|) sum_c Pos_c + (1/C) sum_c Neg_c
// (a proxy whose class is absent from the batch has Pos_c = log 1 = 0, so summing over every c is the sum over P+).
// Each log(1 + sum) is a log-sum-exp over the terms and the implicit 1 = e^0: with M = max(0, max of the exponents),
//   log(1 + sum e^{a}) = M + log(e^{-M} + sum e^{a - M}),
// which neither overflows (alpha = 32 makes e^{alpha (1 + delta)} ~ 1e15, and larger alphas overflow float32) nor
// loses the 1. Differentiating, with the softmax weights w_ic = e^{a_ic - M} / (e^{-M} + sum e^{a - M}):
//   G_ic = dL/dS_ic = -(alpha / |P+|) w_ic   for i in X_c+,
//   G_ic = dL/dS_ic =  (alpha / C)    w_ic   for i in X_c-   (w from the b's of proxy c).
// Then dL/de = G P and dL/dP = G^T e: two GEMMs. The forward computes S^T = P e^T [C, B], so that each proxy's
// terms are one contiguous row, swept once (parallel over proxies) for Pos_c, Neg_c and the row c of G^T.
// ------------------------------------------------------------------------------------------------------------------
template <typename T>
void anchor_sweep(const T* st, const std::int64_t* y, std::int64_t b, std::int64_t c_count, double alpha, double delta,
                  double pos_scale, double neg_scale, T* gt, double* pos_c, double* neg_c) {
#pragma omp parallel for schedule(static) if (worth_parallel(b * c_count))
  for (std::int64_t c = 0; c < c_count; ++c) {
    const T* row = st + c * b;
    T* grow = gt + c * b;
    // The exponent of item i for this proxy: a_ic (own class) or b_ic (other class).
    auto exponent = [&](std::int64_t i) {
      const double s = static_cast<double>(row[i]);
      return y[i] == c ? -alpha * (s - delta) : alpha * (s + delta);
    };
    double pmax = 0, nmax = 0;  // the implicit term e^0 takes part in the max
    for (std::int64_t i = 0; i < b; ++i) {
      const double x = exponent(i);
      if (y[i] == c)
        pmax = std::max(pmax, x);
      else
        nmax = std::max(nmax, x);
    }
    double psum = std::exp(-pmax), nsum = std::exp(-nmax);
    for (std::int64_t i = 0; i < b; ++i) {
      const bool own = y[i] == c;
      const double w = std::exp(exponent(i) - (own ? pmax : nmax));
      grow[i] = static_cast<T>(w);  // unnormalised for now
      (own ? psum : nsum) += w;
    }
    pos_c[c] = pmax + std::log(psum);
    neg_c[c] = nmax + std::log(nsum);
    const double pg = -pos_scale / psum, ng = neg_scale / nsum;
    for (std::int64_t i = 0; i < b; ++i) grow[i] = static_cast<T>(static_cast<double>(grow[i]) * (y[i] == c ? pg : ng));
  }
}

// Stats of Proxy-Anchor, from S^T [C, B]: per sample its own-proxy similarity, the sum of the others, and whether one
// of its exponentials reaches kProxyActiveThreshold.
template <typename T>
void anchor_stats(const T* st, const std::int64_t* y, std::int64_t b, std::int64_t c_count, double alpha, double delta,
                  LossStats* stats) {
  std::vector<double> neg_max(static_cast<std::size_t>(b), -std::numeric_limits<double>::infinity());
  double pos = 0, neg = 0;
  for (std::int64_t c = 0; c < c_count; ++c) {
    const T* row = st + c * b;
    for (std::int64_t i = 0; i < b; ++i) {
      const double s = static_cast<double>(row[i]);
      if (y[i] == c) {
        pos += s;
      } else {
        neg += s;
        neg_max[static_cast<std::size_t>(i)] = std::max(neg_max[static_cast<std::size_t>(i)], s);
      }
    }
  }
  const double log_threshold = std::log(kProxyActiveThreshold);
  std::int64_t active = 0;
  for (std::int64_t i = 0; i < b; ++i) {
    const double own = -alpha * (static_cast<double>(st[y[i] * b + i]) - delta);
    const double other = alpha * (neg_max[static_cast<std::size_t>(i)] + delta);  // -inf when C = 1
    active += std::max(own, other) >= log_threshold ? 1 : 0;
  }
  finish_stats(stats, b, c_count, active, pos, neg);
}

// grad: [] -> dL/de [B, D], dL/dP [C, D]. Note [Proxy-Anchor gradient].
struct ProxyAnchorBackward final : Node {
  std::size_t e = 0;   // saved: the prepared embeddings, for dL/dP = G^T e
  std::size_t p = 0;   // saved: the prepared proxies, for dL/de = G P
  std::size_t gt = 0;  // saved: G^T = (dL/dS)^T [C, B] of the forward (for an incoming gradient of 1)
  std::string name() const override { return "ProxyAnchorBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const Tensor g_t = saved(gt) * grad;  // [C, B]
    Tensor ge, gp;
    if (needs_input_grad(0)) ge = matmul(g_t.t(), saved(p));
    if (needs_input_grad(1)) gp = matmul(g_t, saved(e));
    return {ge, gp};
  }
};

// e: [B, D], p: [C, D], labels: [B] (all checked) -> []
Tensor proxy_anchor_node(const Tensor& e, const Tensor& p, const Tensor& labels, const ProxyAnchorOptions& options,
                         LossStats* stats) {
  const std::int64_t b = e.size(0), classes = p.size(0);
  Tensor gt = empty({classes, b}, {.dtype = e.dtype(), .device = e.device()});
  std::vector<double> pos_c(static_cast<std::size_t>(classes)), neg_c(static_cast<std::size_t>(classes));
  const Tensor yc = labels.contiguous();
  const std::int64_t* y = yc.data_ptr<std::int64_t>();
  // |P+|: the classes present in the batch (>= 1: labels are in range and B >= 2).
  std::vector<char> present(static_cast<std::size_t>(classes), 0);
  for (std::int64_t i = 0; i < b; ++i) present[static_cast<std::size_t>(y[i])] = 1;
  const auto num_present = static_cast<double>(std::count(present.begin(), present.end(), 1));
  {
    NoGradGuard no_grad;
    const Tensor st = matmul(p.detach(), e.detach().t()).contiguous();  // [C, B]: the one GEMM of the forward
    auto run = [&](auto tag) {
      using T = decltype(tag);
      anchor_sweep<T>(st.data_ptr<T>(), y, b, classes, options.alpha, options.margin, options.alpha / num_present,
                      options.alpha / static_cast<double>(classes), gt.data_ptr<T>(), pos_c.data(), neg_c.data());
      if (stats) anchor_stats<T>(st.data_ptr<T>(), y, b, classes, options.alpha, options.margin, stats);
    };
    if (e.dtype() == kFloat64)
      run(double{});
    else
      run(float{});
  }
  double pos = 0, neg = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    pos += pos_c[static_cast<std::size_t>(c)];
    neg += neg_c[static_cast<std::size_t>(c)];
  }
  Tensor result = scalar_tensor(pos / num_present + neg / static_cast<double>(classes), {.dtype = e.dtype()});
  if (auto node = autograd::make_node<ProxyAnchorBackward>({&e, &p})) {
    node->e = node->save(e);
    node->p = node->save(p);
    node->gt = node->save(gt);
    autograd::set_history(result, node);
  }
  return result;
}

}  // namespace

// ---- functional forms -----------------------------------------------------------------------------------------------

// e: [B, D], proxies: [C, D], labels: [B] int64 in [0, C) -> []
Tensor proxy_nca_loss(const Tensor& e, const Tensor& proxies, const Tensor& labels, const ProxyNCAOptions& options,
                      LossStats* stats, const char* op) {
  check_proxy_inputs(op, e, proxies, labels);
  check_nca_options(op, options, proxies.size(0));
  return proxy_nca_node(e, proxies, labels, options, stats);
}

// e: [B, D], proxies: [C, D], labels: [B] int64 in [0, C) -> []
Tensor proxy_anchor_loss(const Tensor& e, const Tensor& proxies, const Tensor& labels,
                         const ProxyAnchorOptions& options, LossStats* stats, const char* op) {
  check_proxy_inputs(op, e, proxies, labels);
  check_anchor_options(op, options);
  return proxy_anchor_node(e, proxies, labels, options, stats);
}

// ---- ProxyNCALoss ---------------------------------------------------------------------------------------------------

ProxyNCALoss::ProxyNCALoss(std::int64_t num_classes_, std::int64_t dim_, ProxyNCAOptions options_)
    : num_classes(num_classes_), dim(dim_), options(options_) {
  check_sizes("ProxyNCALoss", num_classes, dim);
  check_nca_options("ProxyNCALoss", options, num_classes);
  proxies = register_parameter("proxies", empty({num_classes, dim}));
  reset_parameters();
}

void ProxyNCALoss::reset_parameters(Generator* gen) { nn::init::normal_(proxies, 0.0, 1.0, gen); }

// embeddings: [B, dim], labels: [B] -> []
Tensor ProxyNCALoss::forward(const Tensor& embeddings, const Tensor& labels) {
  const char* op = "ProxyNCALoss";
  check_proxy_inputs(op, embeddings, proxies, labels);
  const Tensor e = prepare_embeddings(embeddings, {.distance = Distance::SquaredEuclidean, .normalize = true});
  const Tensor p = l2_normalize(proxies, 1);
  return proxy_nca_node(e, p, labels, options, &stats_);
}

std::string ProxyNCALoss::extra_repr() const {
  return fmt::format("num_classes={}, dim={}, softmax_scale={}, include_positive_in_denominator={}", num_classes, dim,
                     options.softmax_scale, options.include_positive_in_denominator);
}

// ---- ProxyAnchorLoss ------------------------------------------------------------------------------------------------

ProxyAnchorLoss::ProxyAnchorLoss(std::int64_t num_classes_, std::int64_t dim_, ProxyAnchorOptions options_)
    : num_classes(num_classes_), dim(dim_), options(options_) {
  check_sizes("ProxyAnchorLoss", num_classes, dim);
  check_anchor_options("ProxyAnchorLoss", options);
  proxies = register_parameter("proxies", empty({num_classes, dim}));
  reset_parameters();
}

void ProxyAnchorLoss::reset_parameters(Generator* gen) {
  nn::init::kaiming_normal_(proxies, 0.0, nn::init::FanMode::FanOut, nn::init::Nonlinearity::LeakyReLU, gen);
}

// embeddings: [B, dim], labels: [B] -> []
Tensor ProxyAnchorLoss::forward(const Tensor& embeddings, const Tensor& labels) {
  const char* op = "ProxyAnchorLoss";
  check_proxy_inputs(op, embeddings, proxies, labels);
  const Tensor e = prepare_embeddings(embeddings, {.distance = Distance::Cosine, .normalize = true});
  const Tensor p = l2_normalize(proxies, 1);
  return proxy_anchor_node(e, p, labels, options, &stats_);
}

std::string ProxyAnchorLoss::extra_repr() const {
  return fmt::format("num_classes={}, dim={}, margin={}, alpha={}", num_classes, dim, options.margin, options.alpha);
}

}  // namespace trident
