// losses/proxy: ProxyNCALoss and ProxyAnchorLoss. The oracle of each is the same loss composed from primitive
// differentiable ops (l2_normalize, pairwise_distance / matmul, log_softmax, gather, exp, log, sum) in float64: the
// fused node's value and gradients (embeddings and proxies) must agree to 1e-9 relative on random batches, one class,
// B = 2, labels spanning all classes or few, duplicated embeddings. Plus float64 gradchecks of each fused node, the
// statistics, an optimizer that trains the proxies, and clear errors for bad inputs.
#include <set>

#include "gradcheck.h"
#include "metric_testing.h"
#include "trident/losses/proxy.h"

using namespace trident;
using trident::testing::all_close;
using trident::testing::gradcheck;
using trident::testing::labels_of;
using trident::testing::random_labels;
using trident::testing::random_tensor;

namespace {

using I64 = std::vector<std::int64_t>;

double classes_present(const I64& y) { return static_cast<double>(std::set<std::int64_t>(y.begin(), y.end()).size()); }

// ---- oracles: the losses of METRIC_LEARNING.md composed from primitive ops
// -------------------------------------------

Tensor nca_oracle(const Tensor& x, const Tensor& proxies, const I64& y, const ProxyNCAOptions& o) {
  const std::int64_t classes = proxies.size(0);
  const Tensor d = pairwise_distance(l2_normalize(x, 1), l2_normalize(proxies, 1), Distance::SquaredEuclidean);
  const Tensor z = d * -o.softmax_scale;
  const Tensor labels = labels_of(y);
  if (o.include_positive_in_denominator) return -mean(gather(log_softmax(z, 1), 1, labels.unsqueeze(1)));
  // The paper: -z_{i y_i} + log sum_{c != y_i} e^{z_ic}.
  const Tensor own = one_hot(labels, classes, kFloat64);
  const Tensor z_pos = sum(z * own, {1});
  const Tensor lse_neg = log(sum(exp(z) * (1.0 - own), {1}));
  return mean(lse_neg - z_pos);
}

Tensor anchor_oracle(const Tensor& x, const Tensor& proxies, const I64& y, const ProxyAnchorOptions& o) {
  const std::int64_t classes = proxies.size(0);
  const Tensor s = matmul(l2_normalize(x, 1), l2_normalize(proxies, 1).t());  // [B, C] cosine similarities
  const Tensor own = one_hot(labels_of(y), classes, kFloat64);
  const Tensor pos_sum = sum(exp((s - o.margin) * -o.alpha) * own, {0});
  const Tensor neg_sum = sum(exp((s + o.margin) * o.alpha) * (1.0 - own), {0});
  return sum(log(pos_sum + 1.0)) / classes_present(y) + sum(log(neg_sum + 1.0)) / static_cast<double>(classes);
}

// Value and both gradients of `loss` (a module on float64) against the oracle, on the same x and proxies.
template <typename Loss, typename Oracle>
void expect_matches_oracle(Loss& loss, const Tensor& x0, const I64& y, Oracle oracle, const std::string& what) {
  SCOPED_TRACE(what);
  loss.zero_grad(true);
  Tensor x = x0.detach().clone().set_requires_grad();
  Tensor mine = loss(x, labels_of(y));
  mine.backward();

  Tensor x_ref = x0.detach().clone().set_requires_grad();
  Tensor p_ref = loss.proxies.detach().clone().set_requires_grad();
  Tensor ref = oracle(x_ref, p_ref, y);
  ref.backward();

  EXPECT_EQ(mine.dim(), 0);
  EXPECT_TRUE(all_close(mine, ref, 1e-12, 1e-9))
      << mine.template item<double>() << " vs " << ref.template item<double>();
  EXPECT_TRUE(all_close(x.grad(), x_ref.grad(), 1e-12, 1e-9)) << "embedding gradient";
  ASSERT_TRUE(loss.proxies.grad().defined());
  EXPECT_TRUE(all_close(loss.proxies.grad(), p_ref.grad(), 1e-12, 1e-9)) << "proxy gradient";
}

struct Case {
  std::string name;
  std::int64_t b, classes, dim;
  I64 labels;
  bool duplicate_rows = false;  // rows 0 and 1 identical
};

std::vector<Case> oracle_cases() {
  std::vector<Case> cases;
  cases.push_back({"random", 16, 5, 8, random_labels(16, 5, 1)});
  cases.push_back({"random_wide", 24, 10, 32, random_labels(24, 10, 2)});
  cases.push_back({"one_class", 6, 4, 5, I64(6, 2)});
  cases.push_back({"b2_same", 2, 3, 4, {1, 1}});
  cases.push_back({"b2_distinct", 2, 3, 4, {0, 2}});
  cases.push_back({"all_classes", 8, 8, 6, {7, 6, 5, 4, 3, 2, 1, 0}});
  cases.push_back({"few_of_many", 10, 20, 6, {3, 3, 17, 3, 17, 17, 3, 17, 3, 3}});
  cases.push_back({"duplicates", 8, 4, 5, {0, 0, 1, 1, 2, 3, 2, 3}, true});
  return cases;
}

Tensor case_embeddings(const Case& c, std::uint32_t seed) {
  Tensor x = random_tensor({c.b, c.dim}, seed);
  if (c.duplicate_rows) {
    NoGradGuard no_grad;
    x = x.clone();
    std::vector<double> v = x.to_vector<double>();
    for (std::int64_t k = 0; k < c.dim; ++k) v[static_cast<std::size_t>(c.dim + k)] = v[static_cast<std::size_t>(k)];
    x = tensor(v, {c.b, c.dim});
  }
  return x;
}

}  // namespace

// ---- ProxyNCA -------------------------------------------------------------------------------------------------------

TEST(ProxyNCALoss, MatchesPrimitiveComposition) {
  const ProxyNCAOptions variants[] = {{},
                                      {.softmax_scale = 8.0},
                                      {.include_positive_in_denominator = false},
                                      {.softmax_scale = 3.0, .include_positive_in_denominator = false}};
  std::uint32_t seed = 100;
  for (const Case& c : oracle_cases()) {
    for (const auto& o : variants) {
      manual_seed(seed);
      ProxyNCALoss loss(c.classes, c.dim, o);
      loss.to(kFloat64);
      auto oracle = [&](const Tensor& x, const Tensor& p, const I64& y) { return nca_oracle(x, p, y, o); };
      expect_matches_oracle(
          loss, case_embeddings(c, seed++), c.labels, oracle,
          fmt::format("{} scale={} include_positive={}", c.name, o.softmax_scale, o.include_positive_in_denominator));
    }
  }
}

TEST(ProxyNCALoss, ProxyEqualToEmbeddingGivesFiniteGradient) {
  // An embedding that coincides with its proxy (d = 0) and one with another proxy.
  manual_seed(3);
  ProxyNCALoss loss(3, 4);
  loss.to(kFloat64);
  const Tensor p = loss.proxies.detach();
  Tensor x = cat({p.slice(0, 0, 1), p.slice(0, 2, 3), random_tensor({2, 4}, 4)}, 0).clone().set_requires_grad();
  Tensor l = loss(x, labels_of({0, 1, 2, 2}));
  l.backward();
  EXPECT_TRUE(std::isfinite(l.item<double>()));
  EXPECT_TRUE(std::isfinite(sum(x.grad()).item<double>()));
  EXPECT_TRUE(std::isfinite(sum(loss.proxies.grad()).item<double>()));
}

TEST(ProxyNCALoss, FusedNodeGradcheck) {
  // The node on arbitrary (not normalised) matrices: d = |e - P|^2 exactly, with the norm terms of the Note.
  const I64 y = {0, 2, 2, 1, 0};
  for (bool include : {true, false}) {
    const ProxyNCAOptions o{.softmax_scale = 0.7, .include_positive_in_denominator = include};
    auto f = [&](const std::vector<Tensor>& in) { return proxy_nca_loss(in[0], in[1], labels_of(y), o); };
    EXPECT_TRUE(gradcheck(f, {random_tensor({5, 3}, 21), random_tensor({4, 3}, 22)})) << include;
  }
}

TEST(ProxyNCALoss, ModuleGradcheck) {
  // Through the normalisations: the whole loss as a function of raw embeddings and raw proxies.
  const I64 y = {1, 0, 1, 2};
  for (bool include : {true, false}) {
    const ProxyNCAOptions o{.softmax_scale = 4.0, .include_positive_in_denominator = include};
    auto f = [&](const std::vector<Tensor>& in) {
      return proxy_nca_loss(l2_normalize(in[0], 1), l2_normalize(in[1], 1), labels_of(y), o);
    };
    EXPECT_TRUE(gradcheck(f, {random_tensor({4, 5}, 31), random_tensor({3, 5}, 32)})) << include;
  }
}

TEST(ProxyNCALoss, NonContiguousInputs) {
  const Tensor xt = random_tensor({6, 5}, 41);  // x = xt^T: [5, 6], a transposed view
  const Tensor p = random_tensor({3, 6}, 42);
  const I64 y = {0, 1, 2, 1, 0};
  const Tensor a = proxy_nca_loss(xt.t(), p, labels_of(y));
  const Tensor b = proxy_nca_loss(xt.t().contiguous(), p, labels_of(y));
  EXPECT_TRUE(all_close(a, b, 1e-14, 1e-14));
}

TEST(ProxyNCALoss, Stats) {
  manual_seed(5);
  ProxyNCALoss loss(4, 6, {.softmax_scale = 10.0});
  loss.to(kFloat64);
  const I64 y = {0, 1, 1, 3, 3, 3};
  const Tensor x = random_tensor({6, 6}, 51);
  (void)loss(x, labels_of(y));
  const LossStats s = loss.stats();
  const Tensor d =
      pairwise_distance(l2_normalize(x, 1), l2_normalize(loss.proxies.detach(), 1), Distance::SquaredEuclidean);
  const Tensor own = one_hot(labels_of(y), 4, kFloat64);
  const Tensor per_sample = -gather(log_softmax(d * -10.0, 1), 1, labels_of(y).unsqueeze(1)).squeeze(1);
  EXPECT_EQ(s.tuples, 6);
  EXPECT_EQ(s.active, sum(per_sample.gt(kProxyActiveThreshold).to(kInt64)).item<std::int64_t>());
  EXPECT_DOUBLE_EQ(s.active_fraction, static_cast<double>(s.active) / 6.0);
  EXPECT_NEAR(s.mean_positive, sum(d * own).item<double>() / 6.0, 1e-12);
  EXPECT_NEAR(s.mean_negative, sum(d * (1.0 - own)).item<double>() / 18.0, 1e-12);

  // One class: no negative proxies to measure.
  ProxyNCALoss single(1, 3);
  (void)single(random_tensor({3, 3}, 52).to(kFloat32), labels_of({0, 0, 0}));
  EXPECT_TRUE(std::isnan(single.stats().mean_negative));
  EXPECT_EQ(single.stats().active, 0);  // softmax over one proxy: l_i = 0
}

TEST(ProxyNCALoss, Float32AgreesWithFloat64) {
  manual_seed(6);
  ProxyNCALoss loss(5, 8, {.softmax_scale = 4.0});
  const I64 y = random_labels(12, 5, 6);
  const Tensor x = random_tensor({12, 8}, 61);
  const double v32 = loss(x.to(kFloat32), labels_of(y)).item<double>();
  loss.to(kFloat64);
  const double v64 = loss(x, labels_of(y)).item<double>();
  EXPECT_NEAR(v32, v64, 1e-5 * std::abs(v64));
}

// ---- Proxy-Anchor ---------------------------------------------------------------------------------------------------

TEST(ProxyAnchorLoss, MatchesPrimitiveComposition) {
  const ProxyAnchorOptions variants[] = {{}, {.margin = 0.3, .alpha = 4.0}, {.margin = -0.2, .alpha = 64.0}};
  std::uint32_t seed = 200;
  for (const Case& c : oracle_cases()) {
    for (const auto& o : variants) {
      manual_seed(seed);
      ProxyAnchorLoss loss(c.classes, c.dim, o);
      loss.to(kFloat64);
      auto oracle = [&](const Tensor& x, const Tensor& p, const I64& y) { return anchor_oracle(x, p, y, o); };
      expect_matches_oracle(loss, case_embeddings(c, seed++), c.labels, oracle,
                            fmt::format("{} margin={} alpha={}", c.name, o.margin, o.alpha));
    }
  }
}

TEST(ProxyAnchorLoss, LargeAlphaStaysFinite) {
  // alpha = 1000: e^{alpha (s + delta)} overflows float64 without the max subtraction; the loss is then ~ alpha *
  // (largest exponent) and its gradient finite.
  manual_seed(7);
  ProxyAnchorLoss loss(3, 4, {.margin = 0.1, .alpha = 1000.0});
  Tensor x = random_tensor({6, 4}, 71).to(kFloat32).set_requires_grad();
  Tensor l = loss(x, labels_of({0, 0, 1, 1, 2, 2}));
  l.backward();
  EXPECT_TRUE(std::isfinite(l.item<double>()));
  EXPECT_GT(l.item<double>(), 1.0);
  EXPECT_TRUE(std::isfinite(sum(x.grad()).item<double>()));
  EXPECT_TRUE(std::isfinite(sum(loss.proxies.grad()).item<double>()));
}

TEST(ProxyAnchorLoss, FusedNodeGradcheck) {
  const I64 y = {0, 2, 2, 1, 0, 2};
  for (const ProxyAnchorOptions o :
       {ProxyAnchorOptions{.margin = 0.1, .alpha = 4.0}, ProxyAnchorOptions{.margin = 0.1, .alpha = 32.0}}) {
    auto f = [&](const std::vector<Tensor>& in) { return proxy_anchor_loss(in[0], in[1], labels_of(y), o); };
    // Unit rows, as the module gives the node (the perturbations of the gradcheck leave the sphere: the node is
    // differentiated as the function of two arbitrary matrices that it is).
    const Tensor e = l2_normalize(random_tensor({6, 3}, 81), 1).contiguous();
    const Tensor p = l2_normalize(random_tensor({4, 3}, 82), 1).contiguous();
    EXPECT_TRUE(gradcheck(f, {e, p})) << o.alpha;
  }
}

TEST(ProxyAnchorLoss, ModuleGradcheck) {
  const I64 y = {1, 0, 1, 3, 3};
  const ProxyAnchorOptions o{.margin = 0.1, .alpha = 8.0};
  auto f = [&](const std::vector<Tensor>& in) {
    return proxy_anchor_loss(l2_normalize(in[0], 1), l2_normalize(in[1], 1), labels_of(y), o);
  };
  EXPECT_TRUE(gradcheck(f, {random_tensor({5, 4}, 91), random_tensor({4, 4}, 92)}));
}

TEST(ProxyAnchorLoss, Stats) {
  manual_seed(8);
  const ProxyAnchorOptions o{.margin = 0.1, .alpha = 32.0};
  ProxyAnchorLoss loss(5, 4, o);
  loss.to(kFloat64);
  const I64 y = {0, 0, 4, 4, 2, 1};
  const Tensor x = random_tensor({6, 4}, 101);
  (void)loss(x, labels_of(y));
  const LossStats s = loss.stats();
  const Tensor sim = matmul(l2_normalize(x, 1), l2_normalize(loss.proxies.detach(), 1).t());
  const Tensor own = one_hot(labels_of(y), 5, kFloat64);
  const auto sv = sim.to_vector<double>();
  std::int64_t active = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    bool a = false;
    for (std::int64_t c = 0; c < 5; ++c) {
      const double sic = sv[i * 5 + static_cast<std::size_t>(c)];
      const double term = c == y[i] ? std::exp(-o.alpha * (sic - o.margin)) : std::exp(o.alpha * (sic + o.margin));
      a = a || term >= kProxyActiveThreshold;
    }
    active += a ? 1 : 0;
  }
  EXPECT_EQ(s.tuples, 6);
  EXPECT_EQ(s.active, active);
  EXPECT_NEAR(s.mean_positive, sum(sim * own).item<double>() / 6.0, 1e-12);
  EXPECT_NEAR(s.mean_negative, sum(sim * (1.0 - own)).item<double>() / 24.0, 1e-12);

  // Embeddings on their own proxies, far from every other: nothing active.
  ProxyAnchorLoss easy(2, 2);
  {
    NoGradGuard no_grad;
    easy.proxies.copy_(tensor({1.0f, 0.0f, -1.0f, 0.0f}, {2, 2}));
  }
  (void)easy(tensor({2.0f, 0.0f, -3.0f, 0.0f}, {2, 2}), labels_of({0, 1}));
  EXPECT_EQ(easy.stats().active, 0);
  EXPECT_DOUBLE_EQ(easy.stats().mean_positive, 1.0);
  EXPECT_DOUBLE_EQ(easy.stats().mean_negative, -1.0);
}

// ---- both: parameters, optimizers, errors ---------------------------------------------------------------------------

TEST(ProxyLosses, ProxiesAreTheModulesParameter) {
  ProxyNCALoss nca(7, 3);
  ProxyAnchorLoss anchor(7, 3);
  for (nn::Module* m : std::initializer_list<nn::Module*>{&nca, &anchor}) {
    const auto named = m->named_parameters();
    ASSERT_EQ(named.size(), 1u);
    EXPECT_EQ(named[0].first, "proxies");
    EXPECT_EQ(named[0].second.sizes(), (Shape{7, 3}));
    EXPECT_TRUE(named[0].second.requires_grad());
  }
  EXPECT_TRUE(nca.parameters()[0].is_same(nca.proxies));
  EXPECT_EQ(nca.to_string(),
            "ProxyNCALoss(num_classes=7, dim=3, softmax_scale=1, include_positive_in_denominator=true)");
  EXPECT_EQ(anchor.to_string(), "ProxyAnchorLoss(num_classes=7, dim=3, margin=0.1, alpha=32)");
}

TEST(ProxyLosses, Initialisation) {
  // ProxyNCA: N(0, 1) (pytorch-metric-learning); Proxy-Anchor: Kaiming normal, fan_out = C: std sqrt(2 / C).
  manual_seed(9);
  ProxyNCALoss nca(50, 400);
  ProxyAnchorLoss anchor(50, 400);
  const double n = 50.0 * 400.0;
  auto stddev = [&](const Tensor& p) { return std::sqrt(sum(p.detach().to(kFloat64).pow(2.0)).item<double>() / n); };
  EXPECT_NEAR(stddev(nca.proxies), 1.0, 0.03);
  EXPECT_NEAR(stddev(anchor.proxies), std::sqrt(2.0 / 50.0), 0.03 * std::sqrt(2.0 / 50.0));
}

TEST(ProxyLosses, AdamTrainsTheProxies) {
  // Fixed embeddings: only the proxies learn, in their own parameter group with 100x the learning rate (the
  // official Proxy-Anchor recipe); a dummy network parameter holds the base group.
  const I64 y = random_labels(24, 6, 11);
  const Tensor x = random_tensor({24, 16}, 12).to(kFloat32);
  Tensor dummy = zeros({1}).set_requires_grad();
  const double lr = 1e-3;

  manual_seed(13);
  auto anchor = std::make_shared<ProxyAnchorLoss>(6, 16);
  auto nca = std::make_shared<ProxyNCALoss>(6, 16, ProxyNCAOptions{.softmax_scale = 8.0});
  for (nn::Module* m : std::initializer_list<nn::Module*>{anchor.get(), nca.get()}) {
    optim::Adam opt({dummy}, {.lr = lr});
    opt.add_param_group(m->parameters(), {{"lr", 100 * lr}});
    auto loss_value = [&]() { return m == anchor.get() ? (*anchor)(x, labels_of(y)) : (*nca)(x, labels_of(y)); };
    const double before = loss_value().item<double>();
    double after = before;
    for (int step = 0; step < 10; ++step) {
      opt.zero_grad();
      Tensor l = loss_value();
      l.backward();
      opt.step();
      after = l.item<double>();
    }
    after = loss_value().item<double>();
    EXPECT_LT(after, 0.8 * before) << m->name() << ": " << before << " -> " << after;
  }
}

TEST(ProxyLosses, ResultDoesNotDependOnTheThreadCount) {
  // 512 samples x (64 proxies + 32 dims): above the parallel threshold of both sweeps.
  const Tensor y = labels_of(random_labels(512, 64, 41));
  const Tensor x = random_tensor({512, 32}, 42).to(kFloat32);  // the proxies are float32
  ProxyNCALoss nca(64, 32);
  trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& e) { return nca(e, y); }, x);
  ProxyAnchorLoss anchor(64, 32);
  trident::testing::expect_same_bits_on_1_and_2_threads([&](const Tensor& e) { return anchor(e, y); }, x);
}

TEST(ProxyLosses, BadInputsAreClearErrors) {
  ProxyNCALoss nca(5, 3);
  ProxyAnchorLoss anchor(5, 3);
  const Tensor x = random_tensor({4, 3}, 1).to(kFloat32);
  const Tensor y = labels_of({0, 1, 4, 2});

  EXPECT_THROW_MSG(nca(x, labels_of({0, 1, 5, 2})), "ProxyNCALoss: label 5 is out of range [0, 5)");
  EXPECT_THROW_MSG(anchor(x, labels_of({0, -1, 3, 2})), "ProxyAnchorLoss: label -1 is out of range [0, 5)");
  EXPECT_THROW_MSG(nca(x, y.to(kFloat32)), "ProxyNCALoss: labels must be int64, got float32");
  EXPECT_THROW_MSG(anchor(x, y.slice(0, 0, 3)), "ProxyAnchorLoss: expected labels of shape [4] for embeddings [4, 3]");
  EXPECT_THROW_MSG(nca(random_tensor({4, 2}, 2).to(kFloat32), y),
                   "ProxyNCALoss: embeddings have dimension 2 but the proxies 3");
  EXPECT_THROW_MSG(anchor(x.to(kFloat64), y),
                   "ProxyAnchorLoss: embeddings are float64 but the proxies are float32 (convert the loss with "
                   "loss->to(float64))");
  EXPECT_THROW_MSG(nca(x.slice(0, 0, 1), y.slice(0, 0, 1)), "ProxyNCALoss: need a batch of at least 2 embeddings");
  EXPECT_THROW_MSG(nca(x.view({12}), y), "ProxyNCALoss: embeddings must be 2-d");

  EXPECT_THROW_MSG(ProxyNCALoss(1, 3, {.include_positive_in_denominator = false}),
                   "ProxyNCALoss: include_positive_in_denominator = false needs at least 2 classes");
  EXPECT_THROW_MSG(ProxyNCALoss(0, 3), "ProxyNCALoss: num_classes and dim must be >= 1, got 0 and 3");
  EXPECT_THROW_MSG(ProxyNCALoss(3, 3, {.softmax_scale = 0.0}), "ProxyNCALoss: softmax_scale must be > 0, got 0");
  EXPECT_THROW_MSG(ProxyAnchorLoss(3, 3, {.alpha = -1.0}), "ProxyAnchorLoss: alpha must be > 0, got -1");

  // The functional forms name themselves.
  const Tensor p = random_tensor({5, 3}, 3);
  EXPECT_THROW_MSG(proxy_anchor_loss(x.to(kFloat64), p, labels_of({0, 1, 9, 2})),
                   "proxy_anchor_loss: label 9 is out of range [0, 5)");
  EXPECT_THROW_MSG(proxy_nca_loss(x.to(kFloat64), p.t(), y),
                   "proxy_nca_loss: embeddings have dimension 3 but the proxies 5");

  // NaN proxies (e.g. after a diverged step) are reported, not turned into a NaN loss.
  {
    NoGradGuard no_grad;
    anchor.proxies.copy_(full({5, 3}, std::nan("")));
  }
  EXPECT_THROW_MSG(anchor(x, y), "ProxyAnchorLoss: proxies contain NaN or infinity");
}
