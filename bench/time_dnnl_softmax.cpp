// oneDNN 2.6 softmax_v2 / log-softmax forward and backward on [4096, 1000] float32 along dim 1, timed like
// time_reduce_softmax.cpp, to decide whether trident's CPU softmax should call oneDNN (it does not: its own loops
// measured faster, see backends/cpu/softmax.cpp).
//
//   g++ -std=c++20 -O2 -fopenmp bench/time_dnnl_softmax.cpp -ldnnl && OMP_NUM_THREADS=2 ./a.out
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <dnnl.hpp>
#include <random>
#include <vector>

int main() {
  const int rows = 4096, cols = 1000;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc md({rows, cols}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  std::vector<float> x(rows * cols), y(rows * cols), g(rows * cols), gx(rows * cols);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  for (auto& v : g) v = normal(rng);
  dnnl::memory mx(md, engine, x.data()), my(md, engine, y.data()), mg(md, engine, g.data()), mgx(md, engine, gx.data());
  for (auto alg : {dnnl::algorithm::softmax_accurate, dnnl::algorithm::softmax_log}) {
    const char* name = alg == dnnl::algorithm::softmax_log ? "log_softmax" : "softmax";
    const dnnl::softmax_v2_forward::primitive_desc fwd_pd(
        dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_training, alg, md, md, 1), engine);
    const dnnl::softmax_v2_backward::primitive_desc bwd_pd(dnnl::softmax_v2_backward::desc(alg, md, md, md, 1), engine,
                                                           fwd_pd);
    const dnnl::softmax_v2_forward fwd(fwd_pd);
    const dnnl::softmax_v2_backward bwd(bwd_pd);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<double> ts;
      for (int i = 0; i < 43; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        if (pass == 0) {
          fwd.execute(stream, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DST, my}});
        } else {
          bwd.execute(stream, {{DNNL_ARG_DST, my}, {DNNL_ARG_DIFF_DST, mg}, {DNNL_ARG_DIFF_SRC, mgx}});
        }
        stream.wait();
        if (i >= 3)
          ts.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(ts.begin(), ts.end());
      std::printf("oneDNN %-11s %s (%s)  min %8.3f ms   median %8.3f ms\n", name, pass ? "backward" : "forward ",
                  fwd_pd.impl_info_str(), ts[0], ts[ts.size() / 2]);
    }
  }
  return 0;
}
