// Test helper of loss_probe's smoke tests (examples/loss_probe/CMakeLists.txt); not an example.
//
//   loss_probe_testdata write DIR
//     line_e.npy / line_y.npy   4 points on a line, x = 0, 1 (class 0) and 2, 4 (class 1), float64 [4, 1]: the batch
//                               whose batch_hard triplet loss (margin 1, euclidean, no normalisation) is known by hand
//     rand_e.npy / rand_y.npy   24 x 8 float32 N(0, 1), 4 classes x 6
//     proxies.npy               [4, 8] float32 proxies for rand_*
//     labels_int32.npy          rand_y as int32 ('<i4', written by hand: trident's save_npy has no int32)
//     labels_short.npy          23 int64 labels (one too few for rand_e)
//     embeddings_3d.npy         [2, 3, 4] float32
//     not_npy.npy               a text file
//   loss_probe_testdata check FILE DTYPE B D [v_1 ... v_{B*D}]
//     FILE must hold a [B, D] tensor of DTYPE (float32 | float64); with values, each element must equal v_i to
//     1e-12 relative (+ 1e-12 absolute). Prints "check: ok" and exits 0, else names what differs and exits 1.
#include <trident/trident.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace trident;

namespace {

void write_int32_npy(const std::string& path, const std::vector<std::int32_t>& v) {
  std::string header = fmt::format("{{'descr': '<i4', 'fortran_order': False, 'shape': ({},), }}", v.size());
  const std::size_t unpadded = 10 + header.size() + 1;  // magic 6, version 2, length 2, header, '\n'
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(len_bytes, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(std::int32_t)));
  TRIDENT_CHECK(f.good(), "loss_probe_testdata: cannot write {}", path);
}

int write(const std::string& dir) {
  std::filesystem::create_directories(dir);
  save_npy(dir + "/line_e.npy", tensor(std::vector<double>{0, 1, 2, 4}, {4, 1}));
  save_npy(dir + "/line_y.npy", tensor(std::vector<std::int64_t>{0, 0, 1, 1}));
  Generator gen(7);
  save_npy(dir + "/rand_e.npy", randn({24, 8}, {}, &gen));
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < 24; ++i) y.push_back(i % 4);
  save_npy(dir + "/rand_y.npy", tensor(y));
  save_npy(dir + "/proxies.npy", randn({4, 8}, {}, &gen));
  write_int32_npy(dir + "/labels_int32.npy", std::vector<std::int32_t>(y.begin(), y.end()));
  save_npy(dir + "/labels_short.npy", tensor(std::vector<std::int64_t>(y.begin(), y.end() - 1)));
  save_npy(dir + "/embeddings_3d.npy", randn({2, 3, 4}, {}, &gen));
  std::ofstream(dir + "/not_npy.npy") << "these are not the embeddings you are looking for\n";
  std::printf("wrote the test batches to %s\n", dir.c_str());
  return 0;
}

int check(int argc, char** argv) {
  const Tensor t = load_npy(argv[2]);
  const std::string dtype = argv[3];
  const std::int64_t b = std::stoll(argv[4]), d = std::stoll(argv[5]);
  if (std::string(dtype_name(t.dtype())) != dtype || t.dim() != 2 || t.size(0) != b || t.size(1) != d) {
    std::printf("check: %s holds %s %s, expected %s [%lld, %lld]\n", argv[2],
                std::string(dtype_name(t.dtype())).c_str(), shape_str(t.shape()).c_str(), dtype.c_str(),
                static_cast<long long>(b), static_cast<long long>(d));
    return 1;
  }
  if (argc > 6) {
    const std::vector<double> got = t.to_vector<double>();
    if (static_cast<std::int64_t>(argc - 6) != b * d) {
      std::printf("check: %d expected values for %lld elements\n", argc - 6, static_cast<long long>(b * d));
      return 1;
    }
    for (std::int64_t i = 0; i < b * d; ++i) {
      const double want = std::stod(argv[6 + i]);
      if (!(std::abs(got[i] - want) <= 1e-12 + 1e-12 * std::abs(want))) {
        std::printf("check: element %lld is %.17g, expected %.17g\n", static_cast<long long>(i), got[i], want);
        return 1;
      }
    }
  }
  std::printf("check: ok (%s %s)\n", dtype.c_str(), shape_str(t.shape()).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "write") return write(argv[2]);
    if (argc >= 6 && std::string(argv[1]) == "check") return check(argc, argv);
  } catch (const std::exception& e) {
    std::printf("loss_probe_testdata: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: loss_probe_testdata write DIR | check FILE DTYPE B D [values...]\n");
  return 2;
}
