// Side-by-side timing of trident's elementwise ops against PyTorch (compare.py prints the same lines for torch).
//
// Not a unit test (timings depend on the machine and its load). Built as build/bench/elementwise_vs_torch; by hand:
//   B=build
//   g++ -std=c++20 -O2 -march=native -fopenmp -I$B/include bench/elementwise_vs_torch/main.cpp -L$B -ltrident -lfmt
//       -Wl,-rpath,$PWD/$B -o /tmp/ew_bench
//   /tmp/ew_bench [op [reps]]; /usr/bin/python3 bench/elementwise_vs_torch/compare.py [op [reps]]
// Each line is the minimum over many repetitions, in microseconds, on 2 threads. On a shared machine, alternate the
// two programs a few times and compare minima.
//   add, mul:         16M contiguous float32 + 16M float32 -> a new 16M tensor (allocation included, as in torch.add)
//   add_out, mul_out: the kernel alone, into a preallocated output (torch.add(a, b, out=c))
//   relu ... softplus: 1M contiguous float32 -> a new 1M tensor (log of values in [0.01, 4), the others of [-4, 4))
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "trident/backends/kernels.h"
#include "trident/trident.h"

using namespace trident;

namespace {

double min_time_us(const std::function<void()>& f, int reps) {
  f();
  f();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return best;
}

// Deterministic values in [lo, hi) without depending on the random-number family.
Tensor filled(std::int64_t n, float lo, float hi) {
  Tensor t = empty({n});
  float* p = t.data_ptr<float>();
  std::uint32_t s = 12345u + static_cast<std::uint32_t>(n);
  for (std::int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = lo + (hi - lo) * static_cast<float>(s >> 8) / 16777216.0f;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(2);
  const std::string which = argc > 1 ? argv[1] : "all";
  const int reps_override = argc > 2 ? std::atoi(argv[2]) : 0;  // for perf stat: CPU time of k more repetitions
  const std::int64_t n = 16 * 1024 * 1024;
  const Tensor a = filled(n, 0.f, 1.f), b = filled(n, 1.f, 2.f), c = empty({n});
  const Tensor x = filled(1 << 20, -4.f, 4.f), xp = filled(1 << 20, 0.01f, 4.f);
  struct Case {
    const char* name;
    std::function<void()> f;
    int reps;
  };
  const Case cases[] = {
      {"add", [&] { Tensor y = add(a, b); }, 30},
      {"mul", [&] { Tensor y = mul(a, b); }, 30},
      {"add_out", [&] { kernels::binary(kCPU, kernels::BinaryOp::Add, a, b, c); }, 30},
      {"mul_out", [&] { kernels::binary(kCPU, kernels::BinaryOp::Mul, a, b, c); }, 30},
      {"relu", [&] { Tensor y = relu(x); }, 200},
      {"sigmoid", [&] { Tensor y = sigmoid(x); }, 200},
      {"exp", [&] { Tensor y = exp(x); }, 200},
      {"tanh", [&] { Tensor y = tanh(x); }, 200},
      {"log", [&] { Tensor y = log(xp); }, 200},
      {"softplus", [&] { Tensor y = softplus(x); }, 200},
  };
  for (const auto& k : cases) {
    if (which == "all" || which == k.name)
      std::printf("%-10s %10.1f us\n", k.name, min_time_us(k.f, reps_override > 0 ? reps_override : k.reps));
  }
  return 0;
}
