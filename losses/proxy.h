// Proxy-based metric losses: ProxyNCALoss (Movshovitz-Attias et al. 2017) and ProxyAnchorLoss (Kim et al. 2020).
// Semantics: ../shared/guide/METRIC_LEARNING.md; conventions of every metric loss: losses/metric_common.h.
//
// Each loss owns C learnable proxies, one per class, as the registered parameter "proxies" [C, dim]: the loss is an
// nn::Module, so loss->parameters() hands them to an optimizer. Proxies usually learn much faster than the network
// (the official Proxy-Anchor code uses 100x the network's learning rate), which a separate parameter group gives:
//
//   auto loss = std::make_shared<ProxyAnchorLoss>(num_classes, 128);            // {.margin = 0.1, .alpha = 32}
//   optim::AdamW opt(model->parameters(), {.lr = lr});
//   opt.add_param_group(loss->parameters(), {{"lr", 100 * lr}});
//   ...
//   Tensor l = (*loss)(embeddings, labels);   // embeddings [B, dim], labels int64 [B] in [0, C)  ->  []
//   l.backward(); opt.step();
//   LossStats s = loss->stats();              // of the last call
//
// The proxies are float32 like every new parameter; loss->to(kFloat64) converts them for float64 embeddings (the
// embeddings and proxies must have the same dtype).
//
// Fused: each loss is l2_normalize on the embeddings and on the proxies (ordinary differentiable ops, chained by
// autograd) followed by ONE autograd node of the two normalised matrices e [B, D] and P [C, D]. Its forward is one
// GEMM S = e P^T plus one pass over S that gives the loss and G = dL/dS; its backward is two GEMMs,
// dL/de = G P and dL/dP = G^T e (plus a rank-one correction for the squared euclidean distance of ProxyNCA).
// Why normalise outside the node: l2_normalize already has a tested backward (with its eps guard for zero
// vectors), and its Jacobian costs O((B + C) D) next to the O(B C D) GEMMs, so fusing it would only duplicate code;
// the node itself stays an exact function of two arbitrary matrices, which is what its gradcheck checks.
// The functional forms proxy_nca_loss / proxy_anchor_loss below are that node alone (on already prepared tensors).
#pragma once

#include <cstdint>
#include <string>

#include "trident/core/random.h"
#include "trident/losses/metric_common.h"
#include "trident/nn/module.h"

namespace trident {

// The "non-negligible" of LossStats::active for the proxy losses: ProxyNCA counts a sample whose l_i exceeds it (in
// nats); Proxy-Anchor one with an exponential term of at least it.
inline constexpr double kProxyActiveThreshold = 1e-3;

struct ProxyNCAOptions {
  double softmax_scale = 1.0;                   // kappa in l_i = -log softmax_c(-kappa d(x_i, P_c))[y_i]
  bool include_positive_in_denominator = true;  // false: the original paper's loss, softmax over c != y_i only
};

struct ProxyAnchorOptions {
  double margin = 0.1;  // delta
  double alpha = 32.0;  // the scale of the similarities in the exponentials
};

// ProxyNCA, as pytorch-metric-learning: embeddings x_i and proxies P_c L2-normalised, d_ic = ||x_i - P_c||^2,
//   l_i = -log( e^{-kappa d_{i y_i}} / sum_{c in Den_i} e^{-kappa d_ic} ),  L = mean_i l_i,
// with Den_i every class (include_positive_in_denominator, pytorch-metric-learning) or every class but y_i (the
// paper; then l_i may be negative and num_classes must be >= 2). Computed stably (log-sum-exp with max subtraction).
// Proxies initialised from N(0, 1), as pytorch-metric-learning (its default weight_init_func, torch.nn.init.normal_).
// Difference: pytorch-metric-learning drops samples whose softmax probability underflows to exactly 0 from the mean
// (a side effect of taking log(exp(..))); trident's log-sum-exp never underflows, so every sample counts.
// stats(): tuples = B samples; active = samples with l_i > kProxyActiveThreshold (1e-3); mean_positive = mean d(x_i,
// P_{y_i}); mean_negative = mean d(x_i, P_c) over c != y_i (NaN when C = 1).
class ProxyNCALoss : public nn::Module {
 public:
  ProxyNCALoss(std::int64_t num_classes, std::int64_t dim, ProxyNCAOptions options = {});

  using nn::Module::forward;
  // embeddings: [B, dim] float32/float64 (the proxies' dtype), labels: [B] int64 in [0, num_classes) -> []
  Tensor forward(const Tensor& embeddings, const Tensor& labels);
  Tensor operator()(const Tensor& embeddings, const Tensor& labels) { return forward(embeddings, labels); }
  LossStats stats() const { return stats_; }

  void reset_parameters(Generator* gen = nullptr);  // proxies ~ N(0, 1)
  std::string extra_repr() const override;

  const std::int64_t num_classes, dim;
  const ProxyNCAOptions options;
  Tensor proxies;  // [num_classes, dim], the parameter "proxies"

 private:
  LossStats stats_;
};

// Proxy-Anchor, exactly the formula of METRIC_LEARNING.md: s = cosine similarity (embeddings and proxies
// L2-normalised), P+ the proxies whose class occurs in the batch, X_p+ / X_p- the batch items of / not of class p:
//   L = 1/|P+| sum_{p in P+} log(1 + sum_{x in X_p+} e^{-alpha (s(x,p) - delta)})
//     + 1/C    sum_{p}       log(1 + sum_{x in X_p-} e^{ alpha (s(x,p) + delta)}),
// each log(1 + sum) evaluated as a log-sum-exp whose max includes the implicit term 1 = e^0.
// Proxies initialised Kaiming-normal with mode fan_out (N(0, 2 / C) for [C, dim]), as the official code.
// stats(): tuples = B samples; active = samples with at least one exponential term of the loss >= kProxyActiveThreshold
// (1e-3) (its own proxy e^{-alpha (s(x, y) - delta)} or another proxy's e^{alpha (s(x, p) + delta)}): such a term alone
// raises its proxy's log(1 + sum) by ~1e-3 or more; mean_positive = mean s(x_i, P_{y_i}); mean_negative = mean s(x_i,
// P_c) over c != y_i (NaN when C = 1).
class ProxyAnchorLoss : public nn::Module {
 public:
  ProxyAnchorLoss(std::int64_t num_classes, std::int64_t dim, ProxyAnchorOptions options = {});

  using nn::Module::forward;
  // embeddings: [B, dim] float32/float64 (the proxies' dtype), labels: [B] int64 in [0, num_classes) -> []
  Tensor forward(const Tensor& embeddings, const Tensor& labels);
  Tensor operator()(const Tensor& embeddings, const Tensor& labels) { return forward(embeddings, labels); }
  LossStats stats() const { return stats_; }

  void reset_parameters(Generator* gen = nullptr);  // kaiming_normal_(proxies, 0, fan_out)
  std::string extra_repr() const override;

  const std::int64_t num_classes, dim;
  const ProxyAnchorOptions options;
  Tensor proxies;  // [num_classes, dim], the parameter "proxies"

 private:
  LossStats stats_;
};

// The fused nodes on prepared tensors (what the modules call after normalising; differentiable in both e and
// proxies). e: [B, D], proxies: [C, D] (same floating dtype, CPU), labels: [B] int64 in [0, C) -> [].
// proxy_nca_loss uses d_ic = ||e_i - P_c||^2 of e and proxies as given (the module normalises both first);
// proxy_anchor_loss uses s_ic = e_i . P_c (the cosine similarity when both are normalised). `op` names the caller in
// error messages; stats, when not null, receives the call's LossStats.
Tensor proxy_nca_loss(const Tensor& e, const Tensor& proxies, const Tensor& labels, const ProxyNCAOptions& options = {},
                      LossStats* stats = nullptr, const char* op = "proxy_nca_loss");
Tensor proxy_anchor_loss(const Tensor& e, const Tensor& proxies, const Tensor& labels,
                         const ProxyAnchorOptions& options = {}, LossStats* stats = nullptr,
                         const char* op = "proxy_anchor_loss");

}  // namespace trident
