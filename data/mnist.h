// MNIST: 70,000 28x28 grey-scale handwritten digits (60,000 train, 10,000 test), labels 0..9.
//
// The data directory holds the four original IDX files, each raw or gzip-compressed (name + ".gz"):
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// `bash scripts/fetch-mnist.sh [DIR]` downloads and verifies them once; mnist_dir() finds them.
//
// An example is a float32 image [1, 28, 28] (one channel, so that convolutions take it as it is) with pixel values in
// [0, 1] (or 0..255 with PixelScale::Raw), and its int64 label.
#pragma once

#include <optional>
#include <string>

#include "trident/data/dataset.h"
#include "trident/data/idx.h"

namespace trident::data {

class MNIST : public Dataset {
 public:
  // Reads the train (60,000) or test (10,000) split from `dir`. Throws a trident::Error naming the directory when a
  // file is missing (and how to fetch it), corrupt, or the image and label counts differ.
  explicit MNIST(const std::string& dir, bool train = true, PixelScale scale = PixelScale::Unit);

  std::int64_t size() const override { return images_.size(0); }
  Example get(std::int64_t index) const override;
  // One contiguous copy per image into a [B, 1, 28, 28] tensor.
  Batch get_batch(const std::vector<std::int64_t>& indices) const override;
  Tensor labels() const override { return labels_; }

  const Tensor& images() const { return images_; }  // float32 [N, 1, 28, 28]
  const std::string& dir() const { return dir_; }
  bool train() const { return train_; }

 private:
  std::string dir_;
  bool train_;
  Tensor images_;  // float32 [N, 1, rows, cols], contiguous
  Tensor labels_;  // int64 [N], contiguous
};

// The MNIST directory: `flag` (e.g. a --data command-line value) when given, else $TRIDENT_DATA/mnist when
// TRIDENT_DATA is set, else ~/.cache/trident/mnist. The directory is not required to exist.
std::string mnist_dir(std::optional<std::string> flag = std::nullopt);

// Whether `dir` holds the four MNIST files (raw or .gz); nothing is read.
bool mnist_available(const std::string& dir);

}  // namespace trident::data
