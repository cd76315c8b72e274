// loss_probe: look inside a metric-learning loss. Give it one batch -- embeddings and labels as NumPy .npy files, or
// --demo for a small batch it makes itself -- and a loss configuration; it prints what the loss sees and does:
//
//   1. the batch:    B embeddings of D numbers, their classes.
//   2. the value:    the loss of the batch, at full precision (so it can be compared digit by digit with another
//                    library: bench/loss_probe_check.py does that against PyTorch).
//   3. stats():      how many tuples (triplets, pairs, ...) the loss used, how many of them still had a non-zero loss,
//                    and the mean distance of positive and of negative pairs -- each explained in one line.
//   4. the gradient: dL/dx for every embedding x_i, its norm, and the embeddings the loss pushes hardest (the rows
//                    with the largest gradient norm). A gradient descent step moves x_i along -dL/dx_i. Written to
//                    --out as a [B, D] .npy of the computation's dtype.
//   5. mining:       for the triplet loss, how many triplets each mining strategy would pick from this batch
//                    (all / hard / semihard / easy / batch_hard / batch_semihard); with --mine-only, the miner's tuples
//                    themselves, with their distances, instead of the loss.
//
// Things to try (docs/metric-learning.md explains the losses):
//   loss_probe --demo                                    a triplet loss on 3 classes x 4 points in 2-D, where the
//                                                        last point is an exact copy of the first one (another class):
//                                                        a negative at distance 0, the hardest there is, and the
//                                                        gradient stays finite
//   loss_probe --demo --mining batch_hard --margin 0.5   one triplet per anchor: which rows get a gradient now?
//   loss_probe --demo --mine-only --mining semihard      the semi-hard triplets, with d(a,p) and d(a,n)
//   loss_probe --demo --loss contrastive --distance cosine --pos-margin 1 --neg-margin 0
//   loss_probe --embeddings E.npy --labels L.npy --loss proxy-anchor --proxies P.npy --out grad.npy
//
// Usage: loss_probe (--embeddings E.npy --labels L.npy | --demo)
//          [--loss triplet|contrastive|quadruplet|proxy-nca|proxy-anchor|multi-similarity]
//          [--mining M] [--margin M] [--distance euclidean|squared_euclidean|cosine|dot] [--no-normalize]
//          [--soft] [--swap] [--reduction mean|sum|avg_nonzero] [--pos-margin M] [--neg-margin M] [--squared]
//          [--margin2 M] [--softmax-scale KAPPA] [--proxies P.npy] [--dtype float32|float64] [--out grad.npy]
//          [--top N] [--mine-only] [--show N] [--threads T]
//   --embeddings E.npy  [B, D] float32 or float64 (np.save(path, x.astype(np.float32)))
//   --labels L.npy      [B] int64. Other dtypes are refused with a hint rather than converted: NumPy's default
//                       integer is int64 on Linux and macOS, and a float or int32 file usually means the labels came
//                       from somewhere unexpected. Fix with np.save(path, labels.astype(np.int64)).
//   --mining M          triplet: all (default) | hard | semihard | easy | batch_hard | batch_semihard;
//                       contrastive: all (default) | hard; quadruplet: batch_hard (its only one);
//                       multi-similarity: multi_similarity (its miner, default) | all
//   --margin M          triplet margin, contrastive negative margin, quadruplet margin1, proxy-anchor delta
//   --softmax-scale K   proxy-nca: kappa, the scale of the squared distances inside the softmax (default 1)
//   --no-normalize      use the embeddings as given (default: L2-normalise them first; cosine always does)
//   --proxies P.npy     proxy losses: [C, D] proxies instead of the random initialisation; C sets the number of
//                       classes (labels must be in [0, C)); without it C = max label + 1
//   --dtype T           compute in T (default: the embeddings file's dtype); --out is written in T
//   --out grad.npy      write dL/d(embeddings) [B, D] (atomically: a reader never sees half a file)
//   --top N             list the N rows with the largest gradient norm (default 5)
//   --mine-only         triplet, contrastive, quadruplet: print the mined tuples (counts and the first --show N,
//                       default 10) instead of evaluating the loss
// Exit status: 0 on success, 1 for a bad file or a configuration the loss refuses, 2 for a bad command line.
#include <trident/trident.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "../common/flags.h"
#include "../common/loss_menu.h"

using namespace trident;

namespace {

struct Args {
  std::optional<std::string> embeddings, labels, proxies, out, dtype;
  bool demo = false;
  embed::LossConfig loss;
  std::int64_t top = 5;
  bool mine_only = false;
  std::int64_t show = 10;
  int threads = 0;  // 0: the library's default (OMP_NUM_THREADS)
};

Args parse_args(int argc, char** argv) {
  Args a;
  examples::Flags flags("loss_probe", "look inside a metric-learning loss");
  // The menu's parsers throw trident::Error for unknown names; Flags turns that into a usage error.
  flags.add("--embeddings", a.embeddings, "E.npy")
      .add("--labels", a.labels, "L.npy")
      .add("--demo", a.demo)
      .add("--loss", a.loss.loss, "triplet|contrastive|quadruplet|proxy-nca|proxy-anchor|multi-similarity")
      .add("--mining", a.loss.mining, "M")
      .add("--margin", a.loss.margin, "M")
      .add_custom("--distance", "euclidean|squared_euclidean|cosine|dot",
                  [&](const std::string& v) { a.loss.distance = embed::parse_distance(v); })
      .add_switch("--no-normalize", a.loss.normalize, std::optional<bool>(false))
      .add("--soft", a.loss.soft)
      .add("--swap", a.loss.swap)
      .add_custom("--reduction", "mean|sum|avg_nonzero",
                  [&](const std::string& v) { a.loss.reduction = embed::parse_reduction(v); })
      .add("--pos-margin", a.loss.pos_margin, "M")
      .add("--neg-margin", a.loss.neg_margin, "M")
      .add("--squared", a.loss.squared)
      .add("--margin2", a.loss.margin2, "M")
      .add("--softmax-scale", a.loss.softmax_scale, "KAPPA")
      .add("--proxies", a.proxies, "P.npy")
      .add("--dtype", a.dtype, "float32|float64")
      .add("--out", a.out, "grad.npy")
      .add("--top", a.top, "N")
      .add("--mine-only", a.mine_only)
      .add("--show", a.show, "N")
      .add("--threads", a.threads, "T");
  flags.parse(argc, argv);
  if (a.top < 0 || a.show < 0 || a.threads < 0) flags.fail("--top, --show and --threads must be >= 0");
  if (a.demo && (a.embeddings || a.labels)) {
    flags.fail("--demo makes its own batch: give it, or --embeddings and --labels");
  }
  if (!a.demo && !(a.embeddings && a.labels)) flags.fail("give --embeddings E.npy and --labels L.npy, or --demo");
  if (a.dtype && *a.dtype != "float32" && *a.dtype != "float64") {
    flags.fail("--dtype: expected float32 or float64, got '" + *a.dtype + "'");
  }
  if (a.mine_only && a.out) flags.fail("--mine-only evaluates no loss, so there is no gradient to write with --out");
  return a;
}

// ---- the batch ------------------------------------------------------------------------------------------------------

struct Batch {
  Tensor embeddings;  // [B, D] float32/float64
  Tensor labels;      // [B] int64
  std::string source;
};

// 3 classes x 4 points in 2-D around three directions 120 degrees apart; the last point (class 2) is an exact copy
// of the first (class 0).
Batch demo_batch() {
  const std::vector<double> xy = {
      1.00,  0.05,  0.95,  -0.10, 0.90,  0.20,  0.70,  0.40,  // class 0
      -0.45, 0.90,  -0.60, 0.80,  -0.50, 0.75,  -0.20, 0.95,  // class 1
      -0.55, -0.85, -0.40, -0.90, -0.65, -0.70, 1.00,  0.05,  // class 2; the last one is a copy of item 0
  };
  return {tensor(xy, {12, 2}), tensor(std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}),
          "--demo: 3 classes x 4 points in 2-D; item 11 (class 2) is an exact copy of item 0 (class 0)"};
}

Tensor load(const std::string& flag, const std::string& path) {
  try {
    return load_npy(path);
  } catch (const Error& e) {
    detail::throw_error(fmt::format("{}: {}", flag, e.what()));  // load_npy names the file
  }
}

Batch load_batch(const Args& a) {
  Batch b;
  b.embeddings = load("--embeddings", *a.embeddings);
  TRIDENT_CHECK(b.embeddings.dim() == 2, "--embeddings {}: expected [B, D] (one row per item), got shape {}",
                *a.embeddings, shape_str(b.embeddings.shape()));
  TRIDENT_CHECK(b.embeddings.dtype() == kFloat32 || b.embeddings.dtype() == kFloat64,
                "--embeddings {}: expected float32 or float64, got {} (np.save(path, x.astype(np.float32)))",
                *a.embeddings, b.embeddings.dtype());
  try {
    b.labels = load_npy(*a.labels);
  } catch (const Error& e) {
    detail::throw_error(
        fmt::format("--labels: {}\n  labels must be int64: np.save(path, labels.astype(np.int64))", e.what()));
  }
  TRIDENT_CHECK(b.labels.dtype() == kInt64,
                "--labels {}: labels must be int64, got {}: np.save(path, labels.astype(np.int64))", *a.labels,
                b.labels.dtype());
  TRIDENT_CHECK(b.labels.dim() == 1, "--labels {}: expected [B] (one label per item), got shape {}", *a.labels,
                shape_str(b.labels.shape()));
  TRIDENT_CHECK(b.labels.size(0) == b.embeddings.size(0), "--labels {}: {} labels for {} embeddings (from {})",
                *a.labels, b.labels.size(0), b.embeddings.size(0), *a.embeddings);
  b.source = *a.embeddings + ", " + *a.labels;
  return b;
}

// ---- printing -------------------------------------------------------------------------------------------------------

bool is_proxy(const std::string& loss) { return loss == "proxy-nca" || loss == "proxy-anchor"; }

// The loss's own distance, for labelling stats() and tuples.
DistanceOptions loss_distance(const embed::LossConfig& c) {
  if (c.loss == "triplet") return embed::triplet_options(c).distance;
  if (c.loss == "contrastive") return embed::contrastive_options(c).distance;
  if (c.loss == "quadruplet") return embed::quadruplet_options(c).distance;
  if (c.loss == "proxy-anchor") return {.distance = Distance::Cosine};
  if (c.loss == "proxy-nca") return {.distance = Distance::SquaredEuclidean};
  MultiSimilarityOptions o;
  DistanceOptions d = o.distance;
  if (c.distance) d.distance = *c.distance;
  if (c.normalize) d.normalize = *c.normalize;
  return d;
}

std::string fmt_value(double v) { return std::isnan(v) ? "nan (no such pair)" : fmt::format("{:.6g}", v); }

void print_stats(const LossStats& s, const embed::LossConfig& c) {
  const bool sim = is_similarity(loss_distance(c).distance);
  const char* d = sim ? "similarity" : "distance";
  const std::string& loss = c.loss;
  std::string tuples, active;
  if (loss == "triplet") {
    tuples = "triplets (a, p, n) the loss used, after mining";
    active = c.soft ? "of those, with a non-zero loss (soft margin: all but underflows)"
                    : "of those, with d(a,p) - "
                      "d(a,n) + margin > 0";
  } else if (loss == "contrastive") {
    tuples = "ordered pairs (i, j), i != j, the loss used (positive + negative)";
    active = "of those, with a non-zero hinge (positives too far, negatives too close)";
  } else if (loss == "quadruplet") {
    tuples = "quadruplets (a, p, n, l, k) mined, one per anchor with a positive, a negative and two other classes";
    active = "of those, with at least one of the two hinges > 0";
  } else if (loss == "multi-similarity") {
    tuples = "pairs kept by the miner (positive + negative), out of B (B - 1)";
    active = "of those, whose exponential term is non-zero in floating point";
  } else {
    tuples = "samples: a proxy loss compares each embedding with the C proxies";
    active = loss == "proxy-nca" ? "of those, with a loss above 1e-3 nats"
                                 : "of those, with an exponential term of at least 1e-3";
  }
  std::printf("stats():\n");
  std::printf("  tuples           %-12lld %s\n", static_cast<long long>(s.tuples), tuples.c_str());
  std::printf("  active           %-12lld %s\n", static_cast<long long>(s.active), active.c_str());
  std::printf("  active_fraction  %-12s active / tuples: high early in training, falls as the embedding learns\n",
              fmt_value(s.active_fraction).c_str());
  if (is_proxy(loss)) {
    std::printf("  mean_positive    %-12s mean %s of each embedding to its own class's proxy\n",
                fmt_value(s.mean_positive).c_str(), d);
    std::printf("  mean_negative    %-12s mean %s of each embedding to the other classes' proxies\n",
                fmt_value(s.mean_negative).c_str(), d);
  } else {
    std::printf("  mean_positive    %-12s mean %s over positive pairs (same label, i != j) of the batch\n",
                fmt_value(s.mean_positive).c_str(), d);
    std::printf("  mean_negative    %-12s mean %s over negative pairs (different labels) of the batch\n",
                fmt_value(s.mean_negative).c_str(), d);
  }
  std::printf("  (%s: %s; training should move mean_positive and mean_negative apart)\n", d,
              sim ? "larger is closer" : "smaller is closer");
}

// Valid triplets (y_p = y_a, p != a, y_n != y_a) of a batch, from its labels alone.
std::int64_t count_valid_triplets(const std::vector<std::int64_t>& y) {
  std::map<std::int64_t, std::int64_t> sizes;
  for (std::int64_t v : y) ++sizes[v];
  const auto b = static_cast<std::int64_t>(y.size());
  std::int64_t total = 0;
  for (const auto& [label, n] : sizes) total += n * (n - 1) * (b - n);
  return total;
}

// Above this many valid triplets the counts of hard / semihard / easy are skipped: the miner lists its triplets
// (24 bytes each).
constexpr std::int64_t kMaxListedTriplets = 2'000'000;

void print_triplet_counts(const Tensor& e, const Tensor& y, const TripletMarginOptions& o) {
  const std::int64_t valid = count_valid_triplets(y.to_vector<std::int64_t>());
  std::printf("triplets per mining strategy (margin %g, %s):\n", o.margin, to_string(o.distance).c_str());
  const char* what[] = {"every valid (a, p, n): y_p = y_a, p != a, y_n != y_a",
                        "delta <= 0: the negative is at least as close as the positive",
                        "0 < delta <= margin: right order, inside the margin",
                        "delta > margin: already satisfied (zero hinge)",
                        "per anchor: its farthest positive and nearest negative",
                        "per (a, p): the nearest negative farther than p, else the farthest"};
  int i = 0;
  for (TripletMining m : {TripletMining::All, TripletMining::Hard, TripletMining::SemiHard, TripletMining::Easy,
                          TripletMining::BatchHard, TripletMining::BatchSemiHard}) {
    const bool listed =
        m == TripletMining::BatchHard || m == TripletMining::BatchSemiHard || valid <= kMaxListedTriplets;
    std::string count;
    if (m == TripletMining::All) {
      count = std::to_string(valid);
    } else if (listed) {
      count = std::to_string(mine_triplets(e, y, m, o.margin, o.distance).size());
    } else {
      count = "(skipped)";
    }
    std::printf("  %-15s %-10s %s%s\n", mining_name(m), count.c_str(), what[i++],
                m == o.mining ? "   <- this loss" : "");
  }
  std::printf("  (delta = d(a,n) - d(a,p), or s(a,p) - s(a,n) for a similarity)\n");
  if (valid > kMaxListedTriplets) {
    std::printf("  hard / semihard / easy skipped: %lld valid triplets are too many to list\n",
                static_cast<long long>(valid));
  }
}

// ---- --mine-only ----------------------------------------------------------------------------------------------------

void print_mined(const Batch& b, const embed::LossConfig& c, std::int64_t show) {
  const Tensor& e = b.embeddings;
  const Tensor& y = b.labels;
  const DistanceOptions dist = loss_distance(c);
  const char* dn = is_similarity(dist.distance) ? "s" : "d";
  Tensor mat;
  {
    NoGradGuard no_grad;
    mat = distance_matrix(prepare_embeddings(e, dist), dist.distance).to(kFloat64).contiguous();
  }
  const std::int64_t n = mat.size(0);
  const double* m = mat.data_ptr<double>();
  const std::vector<std::int64_t> lab = y.to_vector<std::int64_t>();
  auto at = [&](std::int64_t i, std::int64_t j) { return m[i * n + j]; };
  auto idx = [](const Tensor& t) { return t.defined() ? t.to_vector<std::int64_t>() : std::vector<std::int64_t>{}; };

  if (c.loss == "triplet") {
    const TripletMarginOptions o = embed::triplet_options(c);
    const TripletIndices t = mine_triplets(e, y, o.mining, o.margin, o.distance);
    const auto a = idx(t.anchor), p = idx(t.positive), ng = idx(t.negative);
    std::printf("mine_triplets(%s, margin %g, %s): %lld triplets of %lld valid\n", mining_name(o.mining), o.margin,
                to_string(o.distance).c_str(), static_cast<long long>(t.size()),
                static_cast<long long>(count_valid_triplets(lab)));
    std::printf("  %6s %6s %6s   %10s %10s %10s\n", "a", "p", "n", fmt::format("{}(a,p)", dn).c_str(),
                fmt::format("{}(a,n)", dn).c_str(), "delta");
    for (std::int64_t i = 0; i < std::min<std::int64_t>(show, t.size()); ++i) {
      const double ap = at(a[i], p[i]), an = at(a[i], ng[i]);
      const double delta = is_similarity(dist.distance) ? ap - an : an - ap;
      std::printf("  %6lld %6lld %6lld   %10.6g %10.6g %10.6g\n", static_cast<long long>(a[i]),
                  static_cast<long long>(p[i]), static_cast<long long>(ng[i]), ap, an, delta);
    }
  } else if (c.loss == "contrastive") {
    const ContrastiveOptions o = embed::contrastive_options(c);
    const PairIndices pairs = mine_pairs(e, y, o.mining, o.pos_margin, o.neg_margin, o.distance);
    const auto a1 = idx(pairs.a1), p = idx(pairs.p), a2 = idx(pairs.a2), ng = idx(pairs.n);
    std::printf("mine_pairs(%s, pos margin %g, neg margin %g, %s): %zu positive and %zu negative ordered pairs\n",
                mining_name(o.mining), o.pos_margin, o.neg_margin, to_string(o.distance).c_str(), a1.size(), a2.size());
    std::printf("  positive pairs:\n");
    for (std::size_t i = 0; i < std::min<std::size_t>(show, a1.size()); ++i) {
      std::printf("    (%lld, %lld)  %s = %.6g\n", static_cast<long long>(a1[i]), static_cast<long long>(p[i]), dn,
                  at(a1[i], p[i]));
    }
    std::printf("  negative pairs:\n");
    for (std::size_t i = 0; i < std::min<std::size_t>(show, a2.size()); ++i) {
      std::printf("    (%lld, %lld)  %s = %.6g\n", static_cast<long long>(a2[i]), static_cast<long long>(ng[i]), dn,
                  at(a2[i], ng[i]));
    }
  } else if (c.loss == "quadruplet") {
    const QuadrupletLossOptions o = embed::quadruplet_options(c);
    const QuadrupletIndices q = mine_quadruplets_batch_hard(e, y, o.distance);
    const auto a = idx(q.anchor), p = idx(q.positive), ng = idx(q.negative), l = idx(q.l), k = idx(q.k);
    std::printf("mine_quadruplets_batch_hard(%s): %lld quadruplets\n", to_string(o.distance).c_str(),
                static_cast<long long>(q.size()));
    std::printf("  %5s %5s %5s %5s %5s   %10s %10s %10s\n", "a", "p", "n", "l", "k", fmt::format("{}(a,p)", dn).c_str(),
                fmt::format("{}(a,n)", dn).c_str(), fmt::format("{}(l,k)", dn).c_str());
    for (std::int64_t i = 0; i < std::min<std::int64_t>(show, q.size()); ++i) {
      std::printf("  %5lld %5lld %5lld %5lld %5lld   %10.6g %10.6g %10.6g\n", static_cast<long long>(a[i]),
                  static_cast<long long>(p[i]), static_cast<long long>(ng[i]), static_cast<long long>(l[i]),
                  static_cast<long long>(k[i]), at(a[i], p[i]), at(a[i], ng[i]), at(l[i], k[i]));
    }
  } else {
    detail::throw_error(
        fmt::format("--mine-only: --loss {} has no standalone miner (triplet, contrastive and "
                    "quadruplet have)",
                    c.loss));
  }
}

// ---- the probe ------------------------------------------------------------------------------------------------------

int run(Args a) {
  if (a.threads > 0) set_num_threads(a.threads);
  Batch b = a.demo ? demo_batch() : load_batch(a);
  if (a.dtype) b.embeddings = b.embeddings.to(*a.dtype == "float64" ? kFloat64 : kFloat32);
  const std::int64_t batch = b.embeddings.size(0), dim = b.embeddings.size(1);
  const std::vector<std::int64_t> lab = b.labels.to_vector<std::int64_t>();
  std::map<std::int64_t, std::int64_t> class_sizes;
  for (std::int64_t v : lab) ++class_sizes[v];

  embed::LossConfig& c = a.loss;
  c.dtype = b.embeddings.dtype();
  c.dim = dim;
  if (is_proxy(c.loss)) {
    TRIDENT_CHECK(class_sizes.begin()->first >= 0, "--loss {}: labels index the proxies, so they must be >= 0; got {}",
                  c.loss, class_sizes.begin()->first);
    c.num_classes = class_sizes.rbegin()->first + 1;
    if (a.proxies) {
      c.proxies = load("--proxies", *a.proxies);
      TRIDENT_CHECK(c.proxies.dim() == 2 && c.proxies.size(0) >= c.num_classes,
                    "--proxies {}: expected [C, {}] with C > the largest label {}, got shape {}", *a.proxies, dim,
                    c.num_classes - 1, shape_str(c.proxies.shape()));
      c.num_classes = c.proxies.size(0);
    }
  } else if (a.proxies) {
    detail::throw_error(
        fmt::format("--proxies applies only to --loss proxy-nca or proxy-anchor, not to --loss {}", c.loss));
  }
  const embed::LossHandle loss = embed::make_loss(c);  // checks the configuration before anything is printed

  std::printf("loss_probe\n");
  std::printf("  batch    %s\n", b.source.c_str());
  std::printf("  B = %lld embeddings, D = %lld, %s\n", static_cast<long long>(batch), static_cast<long long>(dim),
              std::string(dtype_name(b.embeddings.dtype())).c_str());
  std::string classes;
  int listed = 0;
  for (const auto& [label, n] : class_sizes) {
    if (listed++ == 8) {
      classes += ", ...";
      break;
    }
    classes += fmt::format("{}{} (x{})", listed > 1 ? ", " : "", label, n);
  }
  std::printf("  %zu classes: %s\n", class_sizes.size(), classes.c_str());
  std::printf("  loss     %s\n", loss.description.c_str());
  if (batch <= 16) {
    std::printf("  the batch (label: embedding):\n");
    const Tensor e64 = b.embeddings.to(kFloat64).contiguous();
    for (std::int64_t i = 0; i < batch; ++i) {
      std::string row;
      for (std::int64_t j = 0; j < std::min<std::int64_t>(dim, 8); ++j) {
        row += fmt::format("{:9.4f}", e64.at<double>({i, j}));
      }
      std::printf("    %3lld  y=%-4lld %s%s\n", static_cast<long long>(i), static_cast<long long>(lab[i]), row.c_str(),
                  dim > 8 ? " ..." : "");
    }
  }
  std::printf("\n");

  if (a.mine_only) {
    print_mined(b, c, a.show);
    return 0;
  }

  Tensor x = b.embeddings.detach();
  x.set_requires_grad(true);
  const Tensor value = loss.forward(x, b.labels);
  value.backward();
  Tensor grad = x.grad();
  if (!grad.defined()) grad = zeros(x.shape(), {.dtype = x.dtype()});

  std::printf("loss = %.17g\n\n", value.item<double>());
  print_stats(loss.stats(), c);
  std::printf("\n");

  // The gradient: its norm, and the rows the loss pushes hardest.
  const Tensor g = grad.to(kFloat64).contiguous();
  const std::vector<double> gv = g.to_vector<double>();
  std::vector<double> row_norm(static_cast<std::size_t>(batch));
  double total = 0;
  for (std::int64_t i = 0; i < batch; ++i) {
    double s = 0;
    for (std::int64_t j = 0; j < dim; ++j) s += gv[i * dim + j] * gv[i * dim + j];
    row_norm[i] = std::sqrt(s);
    total += s;
  }
  const auto zero_rows = std::count(row_norm.begin(), row_norm.end(), 0.0);
  std::printf(
      "gradient dL/d(embeddings) [%lld, %lld]: norm %.6g; %lld of %lld rows exactly 0 (no active tuple "
      "touches them)\n",
      static_cast<long long>(batch), static_cast<long long>(dim), std::sqrt(total), static_cast<long long>(zero_rows),
      static_cast<long long>(batch));
  std::vector<std::int64_t> order(static_cast<std::size_t>(batch));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t i, std::int64_t j) { return row_norm[i] > row_norm[j]; });
  const std::int64_t top = std::min<std::int64_t>(a.top, batch);
  if (top > 0) {
    std::printf("  pushed hardest (a step moves each row along -gradient):\n");
    for (std::int64_t r = 0; r < top; ++r) {
      const std::int64_t i = order[r];
      std::string row;
      for (std::int64_t j = 0; j < std::min<std::int64_t>(dim, 6); ++j) row += fmt::format("{:10.4f}", gv[i * dim + j]);
      std::printf("    row %-5lld y=%-4lld |grad| %-10.6g %s%s\n", static_cast<long long>(i),
                  static_cast<long long>(lab[i]), row_norm[i], row.c_str(), dim > 6 ? " ..." : "");
    }
  }
  for (const Tensor& p : loss.parameters) {
    if (p.grad().defined()) {
      std::printf("  the proxies [%lld, %lld] get a gradient too: norm %.6g\n", static_cast<long long>(p.size(0)),
                  static_cast<long long>(p.size(1)), p.grad().to(kFloat64).pow(2).sum().sqrt().item<double>());
    }
  }

  if (c.loss == "triplet") {
    std::printf("\n");
    print_triplet_counts(b.embeddings, b.labels, embed::triplet_options(c));
  }
  if (a.out) {
    save_npy(*a.out, grad);
    std::printf("\nwrote %s: the gradient [%lld, %lld] %s\n", a.out->c_str(), static_cast<long long>(batch),
                static_cast<long long>(dim), std::string(dtype_name(grad.dtype())).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  try {
    return run(std::move(args));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loss_probe: %s\n", e.what());
    return 1;
  }
}
