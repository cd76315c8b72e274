// trident's fused metric losses, forward + backward, on the inputs of bench/torch_metric_losses.py (which writes the
// same computations in plain PyTorch the way pytorch-metric-learning 2.x performs them); bench/compare_metric_losses.sh
// runs both and prints the table.
//
//   BM_MetricLoss/<loss>/<B>   one iteration = the loss's forward and backward on [B, 128] float32 embeddings:
//     batch_hard        TripletMarginLoss({.margin = 0.2, .mining = BatchHard})
//     semihard          TripletMarginLoss({.margin = 0.2, .mining = SemiHard})   (every semihard triplet)
//     all_triplets      TripletMarginLoss({.margin = 0.2, .mining = All})
//     contrastive       ContrastiveLoss({.pos_margin = 0, .neg_margin = 1})      (all ordered pairs)
//     proxy_anchor      ProxyAnchorLoss(B / 8, 128)                            (margin 0.1, alpha 32)
//     proxy_nca         ProxyNCALoss(B / 8, 128)                               (softmax scale 1)
//     multi_similarity  MultiSimilarityLoss()                                  (with its miner, epsilon 0.1)
//   Euclidean distance on L2-normalised embeddings (cosine for proxy-anchor and multi-similarity), AvgNonZero
//   reduction where pytorch-metric-learning uses it, as the defaults. B in {128, ..., 8192}.
//   Inputs: embeddings from a splitmix64 stream mapped to uniform [-1, 1) (seed 1), labels i / 16 (B/16 classes x 16
//   items, PK batches); proxy losses: labels i / 8, C = B / 8 proxies from stream seed 2 -- exactly the values
//   torch_metric_losses.py makes.
//
// Two more modes, handled before Google Benchmark sees the arguments:
//   bench_metric_losses --peak_rss LOSS B
//       one forward + backward in this fresh process, then getrusage's ru_maxrss (the whole process: the program and
//       its libraries included; baseline_rss_mb is the same figure just before the call):
//       trident loss=all_triplets B=8192 peak_rss_mb=... baseline_rss_mb=... seconds=... value=...
//   bench_metric_losses --check DIR
//       for every DIR/<loss>_<B>_emb.npy written by torch_metric_losses.py --save-check: the loss in float64 on those
//       embeddings (and proxies), saved as <loss>_<B>_trident_value.npy / _trident_grad.npy / _trident_proxy_grad.npy
//       for torch_metric_losses.py --compare DIR.
//
// Run with OMP_NUM_THREADS=2 (the reference machine's cores) and --benchmark_filter to pick losses.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trident/core/autograd/grad_mode.h"
#include "trident/core/io/npy.h"
#include "trident/losses/contrastive.h"
#include "trident/losses/multi_similarity.h"
#include "trident/losses/proxy.h"
#include "trident/losses/triplet.h"
#include "trident/trident.h"

namespace {

using trident::Tensor;

constexpr std::int64_t kDim = 128;
constexpr std::int64_t kItemsPerClass = 16;      // PK batches for the pair and triplet losses
constexpr std::int64_t kItemsPerProxyClass = 8;  // the proxy losses: C = B / 8
constexpr double kMargin = 0.2;
const char* const kLosses[] = {"batch_hard",   "semihard",  "all_triplets",    "contrastive",
                               "proxy_anchor", "proxy_nca", "multi_similarity"};
constexpr std::int64_t kSizes[] = {128, 256, 512, 1024, 2048, 4096, 8192};

bool is_proxy(const std::string& loss) { return loss.rfind("proxy", 0) == 0; }

// Value k of stream `seed`: splitmix64(seed * 2^32 + k), its top 24 bits mapped to [-1, 1) (exact in float32); the
// same numbers as torch_metric_losses.py's splitmix_uniform.
std::vector<float> splitmix_uniform(std::uint64_t seed, std::int64_t count) {
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::int64_t k = 0; k < count; ++k) {
    std::uint64_t z = (seed << 32) + static_cast<std::uint64_t>(k) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    out[static_cast<std::size_t>(k)] = static_cast<float>(static_cast<double>(z >> 40) * (2.0 / 16777216.0) - 1.0);
  }
  return out;
}

struct Inputs {
  Tensor embeddings, labels, proxies;  // proxies: only for the proxy losses
};

Inputs make_inputs(const std::string& loss, std::int64_t batch) {
  Inputs in;
  in.embeddings = trident::tensor(splitmix_uniform(1, batch * kDim), {batch, kDim});
  const std::int64_t per_class = is_proxy(loss) ? kItemsPerProxyClass : kItemsPerClass;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = i / per_class;
  in.labels = trident::tensor(labels, {batch});
  if (is_proxy(loss)) {
    const std::int64_t classes = batch / kItemsPerProxyClass;
    in.proxies = trident::tensor(splitmix_uniform(2, classes * kDim), {classes, kDim});
  }
  return in;
}

// The loss as a callable on (embeddings, labels), and the proxies it learns (undefined for the other losses).
struct LossUnderTest {
  std::function<Tensor(const Tensor&, const Tensor&)> call;
  Tensor proxies;
};

template <class Module>
LossUnderTest proxy_loss(const Tensor& proxies) {
  auto module = std::make_shared<Module>(proxies.size(0), proxies.size(1));
  module->to(proxies.dtype());
  {
    trident::NoGradGuard no_grad;
    module->proxies.copy_(proxies);
  }
  return {[module](const Tensor& e, const Tensor& y) { return module->forward(e, y); }, module->proxies};
}

LossUnderTest make_loss(const std::string& loss, const Inputs& in) {
  using trident::TripletMining;
  auto triplet = [](TripletMining mining) -> LossUnderTest {
    auto l = std::make_shared<trident::TripletMarginLoss>(
        trident::TripletMarginOptions{.margin = kMargin, .mining = mining});
    return {[l](const Tensor& e, const Tensor& y) { return (*l)(e, y); }, Tensor()};
  };
  if (loss == "batch_hard") return triplet(TripletMining::BatchHard);
  if (loss == "semihard") return triplet(TripletMining::SemiHard);
  if (loss == "all_triplets") return triplet(TripletMining::All);
  if (loss == "contrastive") {
    auto l =
        std::make_shared<trident::ContrastiveLoss>(trident::ContrastiveOptions{.pos_margin = 0.0, .neg_margin = 1.0});
    return {[l](const Tensor& e, const Tensor& y) { return (*l)(e, y); }, Tensor()};
  }
  if (loss == "multi_similarity") {
    auto l = std::make_shared<trident::MultiSimilarityLoss>();
    return {[l](const Tensor& e, const Tensor& y) { return (*l)(e, y); }, Tensor()};
  }
  if (loss == "proxy_anchor") return proxy_loss<trident::ProxyAnchorLoss>(in.proxies);
  if (loss == "proxy_nca") return proxy_loss<trident::ProxyNCALoss>(in.proxies);
  throw std::runtime_error("unknown loss " + loss);
}

// One timed call: gradients reset to none (as torch's `.grad = None`), forward, backward.
Tensor forward_backward(const LossUnderTest& loss, Tensor& embeddings, const Tensor& labels) {
  embeddings.set_grad(Tensor());
  Tensor proxies = loss.proxies;
  if (proxies.defined()) proxies.set_grad(Tensor());
  Tensor value = loss.call(embeddings, labels);
  value.backward();
  return value;
}

void BM_MetricLoss(benchmark::State& state, const std::string& loss, std::int64_t batch) {
  Inputs in = make_inputs(loss, batch);
  in.embeddings.set_requires_grad(true);
  const LossUnderTest l = make_loss(loss, in);
  Tensor last;
  for (auto _ : state) {
    last = forward_backward(l, in.embeddings, in.labels);
    benchmark::DoNotOptimize(last.raw_data());
  }
  if (last.defined()) state.counters["value"] = last.item<double>();
}

double max_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

int peak_rss(const std::string& loss, std::int64_t batch) {
  Inputs in = make_inputs(loss, batch);
  in.embeddings.set_requires_grad(true);
  const LossUnderTest l = make_loss(loss, in);
  const double baseline = max_rss_mb();
  const auto start = std::chrono::steady_clock::now();
  const double value = forward_backward(l, in.embeddings, in.labels).item<double>();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trident loss=%s B=%lld peak_rss_mb=%.1f baseline_rss_mb=%.1f seconds=%.3f value=%.6g\n", loss.c_str(),
              static_cast<long long>(batch), max_rss_mb(), baseline, seconds, value);
  return 0;
}

// Float64 values and gradients on the inputs torch_metric_losses.py --save-check wrote.
int check(const std::string& dir) {
  namespace fs = std::filesystem;
  int answered = 0;
  std::vector<std::string> stems;  // <loss>_<B> of every <loss>_<B>_emb.npy, sorted
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = "_emb.npy";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      stems.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(stems.begin(), stems.end());
  for (const std::string& name : stems) {
    const std::string loss = name.substr(0, name.rfind('_'));
    const long long batch = std::stoll(name.substr(name.rfind('_') + 1));
    const std::string stem = (fs::path(dir) / name).string();
    try {
      Inputs in;
      in.embeddings = trident::load_npy(stem + "_emb.npy");
      in.labels = trident::load_npy(stem + "_labels.npy");
      if (is_proxy(loss)) in.proxies = trident::load_npy(stem + "_proxies.npy");
      in.embeddings.set_requires_grad(true);
      const LossUnderTest l = make_loss(loss, in);
      const Tensor value = forward_backward(l, in.embeddings, in.labels);
      trident::save_npy(stem + "_trident_value.npy", value.reshape({1}));
      trident::save_npy(stem + "_trident_grad.npy", in.embeddings.grad());
      if (l.proxies.defined()) trident::save_npy(stem + "_trident_proxy_grad.npy", l.proxies.grad());
      std::printf("%s_%lld: trident %.10g\n", loss.c_str(), batch, value.item<double>());
      ++answered;
    } catch (const std::exception& e) {
      std::printf("%s_%lld: %s\n", loss.c_str(), batch, e.what());
    }
  }
  if (answered == 0) std::fprintf(stderr, "bench_metric_losses --check: no <loss>_<B>_emb.npy in %s\n", dir.c_str());
  return answered > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::strcmp(argv[1], "--peak_rss") == 0) return peak_rss(argv[2], std::stoll(argv[3]));
    if (argc == 3 && std::strcmp(argv[1], "--check") == 0) return check(argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_metric_losses: %s\n", e.what());
    return 1;
  }
  for (const char* loss : kLosses) {
    for (std::int64_t batch : kSizes) {
      const std::string name = std::string("BM_MetricLoss/") + loss + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(name.c_str(), BM_MetricLoss, std::string(loss), batch)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
