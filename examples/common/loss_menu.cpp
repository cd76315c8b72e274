// The examples' loss menu. Contract: loss_menu.h.
#include "loss_menu.h"

#include <memory>

namespace embed {

using namespace trident;

namespace {

std::string fmt_number(double v) { return fmt::format("{:g}", v); }

// A setting the chosen loss does not take is an error, not silently ignored.
void only_for(bool given, const char* flag, const std::string& loss, const char* which) {
  TRIDENT_CHECK(!given, "{} applies only to --loss {}, not to --loss {}", flag, which, loss);
}

DistanceOptions resolve_distance(const LossConfig& c, DistanceOptions defaults) {
  DistanceOptions d = defaults;
  if (c.distance) d.distance = *c.distance;
  if (c.normalize) d.normalize = *c.normalize;
  return d;
}

std::string describe_distance(const DistanceOptions& d) {
  if (d.distance == Distance::Cosine) return "cosine";
  return fmt::format("{}{}", distance_name(d.distance), d.normalize ? " of L2-normalised embeddings" : "");
}

// The proxy losses' module: converted to the embeddings' dtype, proxies copied in when given.
template <typename Loss>
void prepare_proxies(Loss& loss, const LossConfig& c) {
  loss.to(c.dtype);
  if (c.proxies.defined()) {
    TRIDENT_CHECK(c.proxies.dim() == 2 && c.proxies.size(0) == c.num_classes && c.proxies.size(1) == c.dim,
                  "--proxies: expected shape [{}, {}] (one proxy per class, the embedding size), got {}", c.num_classes,
                  c.dim, shape_str(c.proxies.shape()));
    TRIDENT_CHECK(c.proxies.dtype() == kFloat32 || c.proxies.dtype() == kFloat64,
                  "--proxies: expected float32 or float64, got {}", c.proxies.dtype());
    NoGradGuard no_grad;
    loss.proxies.copy_(c.proxies);
  }
}

}  // namespace

TripletMining parse_triplet_mining(const std::string& name) {
  for (TripletMining m : {TripletMining::All, TripletMining::Hard, TripletMining::SemiHard, TripletMining::Easy,
                          TripletMining::BatchHard, TripletMining::BatchSemiHard}) {
    if (name == mining_name(m)) return m;
  }
  TRIDENT_CHECK(false,
                "--mining: unknown '{}' for the triplet loss: expected all, hard, semihard, easy, batch_hard or "
                "batch_semihard",
                name);
  return TripletMining::All;
}

PairMining parse_pair_mining(const std::string& name) {
  for (PairMining m : {PairMining::All, PairMining::Hard}) {
    if (name == mining_name(m)) return m;
  }
  TRIDENT_CHECK(false, "--mining: unknown '{}' for the contrastive loss: expected all or hard", name);
  return PairMining::All;
}

Distance parse_distance(const std::string& name) {
  for (Distance d : {Distance::Euclidean, Distance::SquaredEuclidean, Distance::Cosine, Distance::Dot}) {
    if (name == distance_name(d)) return d;
  }
  TRIDENT_CHECK(false, "--distance: unknown '{}': expected euclidean, squared_euclidean, cosine or dot", name);
  return Distance::Euclidean;
}

MetricReduction parse_reduction(const std::string& name) {
  for (MetricReduction r : {MetricReduction::Mean, MetricReduction::Sum, MetricReduction::AvgNonZero}) {
    if (name == reduction_name(r)) return r;
  }
  TRIDENT_CHECK(false, "--reduction: unknown '{}': expected mean, sum or avg_nonzero", name);
  return MetricReduction::AvgNonZero;
}

TripletMarginOptions triplet_options(const LossConfig& c) {
  TripletMarginOptions o;
  if (c.mining) o.mining = parse_triplet_mining(*c.mining);
  if (c.margin) o.margin = *c.margin;
  o.distance = resolve_distance(c, o.distance);
  o.soft = c.soft;
  o.swap = c.swap;
  if (c.reduction) o.reduction = *c.reduction;
  return o;
}

ContrastiveOptions contrastive_options(const LossConfig& c) {
  ContrastiveOptions o;
  if (c.mining) o.mining = parse_pair_mining(*c.mining);
  TRIDENT_CHECK(!(c.margin && c.neg_margin),
                "--margin and --neg-margin both set the contrastive loss's negative "
                "margin: give one");
  if (c.margin) o.neg_margin = *c.margin;
  if (c.neg_margin) o.neg_margin = *c.neg_margin;
  if (c.pos_margin) o.pos_margin = *c.pos_margin;
  o.distance = resolve_distance(c, o.distance);
  o.squared = c.squared;
  if (c.reduction) o.reduction = *c.reduction;
  return o;
}

QuadrupletLossOptions quadruplet_options(const LossConfig& c) {
  QuadrupletLossOptions o;
  TRIDENT_CHECK(!c.mining || *c.mining == "batch_hard", "--mining: the quadruplet loss mines batch_hard only, got '{}'",
                c.mining.value_or(""));
  if (c.margin) o.margin1 = *c.margin;
  if (c.margin2) o.margin2 = *c.margin2;
  o.distance = resolve_distance(c, o.distance);
  if (c.reduction) o.reduction = *c.reduction;
  return o;
}

LossHandle make_loss(const LossConfig& c) {
  const std::string& name = c.loss;
  const bool triplet = name == "triplet", contrastive = name == "contrastive", quadruplet = name == "quadruplet",
             proxy_nca = name == "proxy-nca", proxy_anchor = name == "proxy-anchor", ms = name == "multi-similarity";
  TRIDENT_CHECK(triplet || contrastive || quadruplet || proxy_nca || proxy_anchor || ms,
                "--loss: unknown '{}': expected triplet, contrastive, quadruplet, proxy-nca, proxy-anchor or "
                "multi-similarity",
                name);
  only_for(c.soft && !triplet, "--soft", name, "triplet");
  only_for(c.swap && !triplet, "--swap", name, "triplet");
  only_for(c.squared && !contrastive, "--squared", name, "contrastive");
  only_for(c.softmax_scale.has_value() && !proxy_nca, "--softmax-scale", name, "proxy-nca");
  only_for((c.pos_margin || c.neg_margin) && !contrastive, "--pos-margin/--neg-margin", name, "contrastive");
  only_for(c.margin2.has_value() && !quadruplet, "--margin2", name, "quadruplet");
  only_for(c.reduction.has_value() && !(triplet || contrastive || quadruplet), "--reduction", name,
           "triplet, contrastive or quadruplet");
  only_for((c.distance || c.normalize) && (proxy_nca || proxy_anchor), "--distance/--no-normalize", name,
           "triplet, contrastive, quadruplet or multi-similarity (the proxy losses fix their own)");
  only_for(c.margin && (proxy_nca || ms), "--margin", name, "triplet, contrastive, quadruplet or proxy-anchor");
  only_for(c.mining && (proxy_nca || proxy_anchor), "--mining", name,
           "triplet, contrastive, quadruplet or multi-similarity");
  only_for(c.proxies.defined() && !(proxy_nca || proxy_anchor), "--proxies", name, "proxy-nca or proxy-anchor");

  LossHandle h;
  if (triplet) {
    const TripletMarginOptions o = triplet_options(c);
    auto loss = std::make_shared<TripletMarginLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("triplet ({}margin {}, {} mining, {}{}, reduction {})", o.soft ? "soft " : "",
                                fmt_number(o.margin), mining_name(o.mining), describe_distance(o.distance),
                                o.swap ? ", swap" : "", reduction_name(o.reduction));
  } else if (contrastive) {
    const ContrastiveOptions o = contrastive_options(c);
    auto loss = std::make_shared<ContrastiveLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("contrastive ({}pos margin {}, neg margin {}, {} pairs, {}, reduction {})",
                                o.squared ? "squared, " : "", fmt_number(o.pos_margin), fmt_number(o.neg_margin),
                                mining_name(o.mining), describe_distance(o.distance), reduction_name(o.reduction));
  } else if (quadruplet) {
    const QuadrupletLossOptions o = quadruplet_options(c);
    auto loss = std::make_shared<QuadrupletLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("quadruplet (margins {} and {}, batch_hard, {}, reduction {})", fmt_number(o.margin1),
                                fmt_number(o.margin2), describe_distance(o.distance), reduction_name(o.reduction));
  } else if (proxy_nca) {
    ProxyNCAOptions o;
    if (c.softmax_scale) o.softmax_scale = *c.softmax_scale;
    auto loss = std::make_shared<ProxyNCALoss>(c.num_classes, c.dim, o);
    prepare_proxies(*loss, c);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return loss->forward(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.parameters = loss->parameters();
    h.description = fmt::format("proxy-nca ({} proxies{}, softmax scale {})", c.num_classes,
                                c.proxies.defined() ? " given" : "", fmt_number(loss->options.softmax_scale));
  } else if (proxy_anchor) {
    ProxyAnchorOptions o;
    if (c.margin) o.margin = *c.margin;
    auto loss = std::make_shared<ProxyAnchorLoss>(c.num_classes, c.dim, o);
    prepare_proxies(*loss, c);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return loss->forward(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.parameters = loss->parameters();
    h.description = fmt::format("proxy-anchor ({} proxies{}, margin {}, alpha {})", c.num_classes,
                                c.proxies.defined() ? " given" : "", fmt_number(o.margin), fmt_number(o.alpha));
  } else {
    MultiSimilarityOptions o;
    if (c.mining) {
      TRIDENT_CHECK(*c.mining == "multi_similarity" || *c.mining == "all",
                    "--mining: unknown '{}' for the multi-similarity loss: expected multi_similarity (its miner) or "
                    "all (no mining)",
                    *c.mining);
      o.mine = *c.mining == "multi_similarity";
    }
    o.distance = resolve_distance(c, o.distance);
    auto loss = std::make_shared<MultiSimilarityLoss>(o);
    h.forward = [loss](const Tensor& e, const Tensor& y) { return (*loss)(e, y); };
    h.stats = [loss] { return loss->stats(); };
    h.description = fmt::format("multi-similarity (alpha {}, beta {}, lambda {}, {}, {})", fmt_number(o.alpha),
                                fmt_number(o.beta), fmt_number(o.base),
                                o.mine ? fmt::format("mined with epsilon {}", fmt_number(o.epsilon)) : "no mining",
                                describe_distance(o.distance));
  }
  return h;
}

}  // namespace embed
