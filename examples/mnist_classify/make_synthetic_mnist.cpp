// make_synthetic_mnist: writes a tiny MNIST-format data set into a directory, for the example's smoke test.
//
// Three classes of 28x28 images, each a noisy shape at a random offset: 0 a horizontal bar, 1 a vertical bar, 2 a
// hollow square. 300 training and 90 test images, in the four IDX files that data::MNIST reads -- so the smoke test
// runs mnist_classify end to end (files, loader, model, optimizer, evaluation) in seconds, without the real data.
//
// Usage: make_synthetic_mnist DIR
#include <trident/trident.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace trident;

namespace {

void write_split(const std::string& dir, const std::string& prefix, std::int64_t count, std::uint32_t seed) {
  constexpr std::int64_t kSide = 28;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> offset(-6, 6), noise(0, 60);
  std::vector<std::int64_t> pixels(static_cast<std::size_t>(count * kSide * kSide));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) {
    const int label = static_cast<int>(n % 3);
    const int dx = offset(rng), dy = offset(rng);
    labels[static_cast<std::size_t>(n)] = label;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        const int u = x - 14 - dx, v = y - 14 - dy;  // coordinates relative to the shape's centre
        bool on = false;
        if (label == 0) on = v >= -2 && v <= 2 && u >= -8 && u <= 8;
        if (label == 1) on = u >= -2 && u <= 2 && v >= -8 && v <= 8;
        if (label == 2) on = std::max(std::abs(u), std::abs(v)) >= 5 && std::max(std::abs(u), std::abs(v)) <= 6;
        const int value = (on ? 200 : 0) + noise(rng);
        pixels[static_cast<std::size_t>((n * kSide + y) * kSide + x)] = std::min(value, 255);
      }
    }
  }
  data::write_idx(dir + "/" + prefix + "-images-idx3-ubyte", tensor(pixels, {count, kSide, kSide}));
  data::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", tensor(labels, {count}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_synthetic_mnist DIR\n");
    return 2;
  }
  try {
    std::filesystem::create_directories(argv[1]);
    write_split(argv[1], "train", 300, 1);
    write_split(argv[1], "t10k", 90, 2);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_synthetic_mnist: %s\n", e.what());
    return 1;
  }
  std::printf("wrote 300 train and 90 test images of 3 classes to %s\n", argv[1]);
  return 0;
}
