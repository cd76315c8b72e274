#include "trident/data/mnist.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace trident::data {

namespace {

namespace fs = std::filesystem;

std::string fetch_hint(const std::string& dir) {
  return fmt::format("run `bash scripts/fetch-mnist.sh {}` to download MNIST", dir);
}

// dir/name, or dir/name.gz when only the compressed file is there; empty when neither exists.
std::string find_mnist_file(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const fs::path raw = fs::path(dir) / name;
  if (fs::is_regular_file(raw, ec)) return raw.string();
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz.string();
  return {};
}

std::string split_prefix(bool train) { return train ? "train" : "t10k"; }

}  // namespace

MNIST::MNIST(const std::string& dir, bool train, PixelScale scale) : dir_(dir), train_(train) {
  std::error_code ec;
  TRIDENT_CHECK(fs::is_directory(dir, ec), "MNIST: {}: no such directory; {}", dir, fetch_hint(dir));
  const std::string images_name = split_prefix(train) + "-images-idx3-ubyte";
  const std::string labels_name = split_prefix(train) + "-labels-idx1-ubyte";
  const std::string images_path = find_mnist_file(dir, images_name);
  const std::string labels_path = find_mnist_file(dir, labels_name);
  TRIDENT_CHECK(!images_path.empty(), "MNIST: {}: {} (or {}.gz) not found; {}", dir, images_name, images_name,
                fetch_hint(dir));
  TRIDENT_CHECK(!labels_path.empty(), "MNIST: {}: {} (or {}.gz) not found; {}", dir, labels_name, labels_name,
                fetch_hint(dir));

  const Tensor images = read_idx_images(images_path, scale);  // [N, rows, cols]
  labels_ = read_idx_labels(labels_path);                     // [N]
  TRIDENT_CHECK(images.size(0) == labels_.size(0), "MNIST: {}: {} images but {} labels", dir, images.size(0),
                labels_.size(0));
  const std::int64_t* label = labels_.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < labels_.size(0); ++i) {
    TRIDENT_CHECK(label[i] >= 0 && label[i] <= 9, "MNIST: {}: label {} of example {} is outside 0..9", labels_path,
                  label[i], i);
  }
  images_ = images.view({images.size(0), 1, images.size(1), images.size(2)});
}

Example MNIST::get(std::int64_t index) const {
  check_example_index("MNIST", index, size());
  return Example{images_.slice(0, index, index + 1).squeeze(0), labels_.data_ptr<std::int64_t>()[index]};
}

Batch MNIST::get_batch(const std::vector<std::int64_t>& indices) const {
  TRIDENT_CHECK(!indices.empty(), "MNIST::get_batch: empty list of indices");
  const auto batch = static_cast<std::int64_t>(indices.size());
  const std::int64_t image_numel = images_.numel() / std::max<std::int64_t>(size(), 1);
  Tensor data = empty({batch, 1, images_.size(2), images_.size(3)}, {.dtype = kFloat32});
  Tensor labels = empty({batch}, {.dtype = kInt64});
  const float* src = images_.data_ptr<float>();
  const std::int64_t* src_labels = labels_.data_ptr<std::int64_t>();
  float* dst = data.data_ptr<float>();
  std::int64_t* dst_labels = labels.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t i = indices[static_cast<std::size_t>(b)];
    check_example_index("MNIST", i, size());
    std::memcpy(dst + b * image_numel, src + i * image_numel, static_cast<std::size_t>(image_numel) * sizeof(float));
    dst_labels[b] = src_labels[i];
  }
  return Batch{std::move(data), std::move(labels)};
}

std::string mnist_dir(std::optional<std::string> flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* root = std::getenv("TRIDENT_DATA"); root != nullptr && *root != '\0') {
    return (fs::path(root) / "mnist").string();
  }
  const char* home = std::getenv("HOME");
  TRIDENT_CHECK(home != nullptr && *home != '\0',
                "mnist_dir: no data directory: pass --data DIR, or set $TRIDENT_DATA or $HOME");
  return (fs::path(home) / ".cache" / "trident" / "mnist").string();
}

bool mnist_available(const std::string& dir) {
  for (const char* name :
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    if (find_mnist_file(dir, name).empty()) return false;
  }
  return true;
}

}  // namespace trident::data
