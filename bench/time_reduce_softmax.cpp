// trident side of the reduction/softmax comparison with PyTorch (bench/compare_reduce_softmax.py): the same cases,
// the same output format, min and median over repetitions. A plain program rather than a Google Benchmark so that
// the two sides can be run alternately on a shared machine and compared line by line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "trident/backends/kernels.h"
#include "trident/trident.h"

using namespace trident;

namespace {

Tensor randn(const Shape& shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& e : v) e = normal(rng);
  return tensor(v, shape);
}

void bench(const char* name, const std::function<void()>& f, int reps = 40) {
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> ts;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ts.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ts.begin(), ts.end());
  std::printf("%-28s min %8.3f ms   median %8.3f ms\n", name, ts[0], ts[ts.size() / 2]);
}

}  // namespace

int main() {
  set_num_threads(2);
  const Tensor x = randn({4096, 4096}, 1), s = randn({4096, 1000}, 2), g = randn({4096, 1000}, 3);
  bench("sum [4096,4096] dim 1", [&] { x.sum({1}); });
  bench("sum [4096,4096] dim 0", [&] { x.sum({0}); });
  bench("sum [4096,4096] all", [&] { x.sum(); });
  bench("amax [4096,4096] dim 1", [&] { x.max({1}); });
  bench("argmax [4096,1000] dim 1", [&] { s.argmax(1); });
  bench("softmax [4096,1000] dim 1", [&] { s.softmax(1); });
  bench("log_softmax [4096,1000] dim 1", [&] { s.log_softmax(1); });
  bench("softmax [4096,1000] dim 0", [&] { s.softmax(0); });
  const Tensor y = s.softmax(1);
  Tensor gx = empty(y.sizes());
  bench("softmax backward", [&] { kernels::softmax_backward(kCPU, g, y, gx, 1, false); });
  const Tensor ly = s.log_softmax(1);
  bench("log_softmax backward", [&] { kernels::softmax_backward(kCPU, g, ly, gx, 1, true); });
  return 0;
}
