// The data pipeline's readers, datasets and transforms: IDX files (raw and gzip) read back exactly, every bad-file
// error by its message, MNIST on small generated directories and on the real data when it is in the cache,
// TensorDataset and the default get_batch, and the transforms on hand-made images.
#include <cstdlib>
#include <optional>

#include "data_testing.h"

using namespace trident;
using namespace trident::data;
using trident::testing::Bytes;
using trident::testing::close_values;
using trident::testing::gzip_stored;
using trident::testing::idx_bytes;
using trident::testing::read_bytes;
using trident::testing::same_values;
using trident::testing::ScratchDir;
using trident::testing::write_bytes;

namespace {

using I64 = std::vector<std::int64_t>;

Bytes iota_bytes(std::size_t n, std::uint8_t step = 11) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * step);
  return b;
}

Tensor as_float(const Bytes& b, const Shape& shape, float divisor) {
  std::vector<float> v(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) v[i] = static_cast<float>(b[i]) / divisor;
  return tensor(v, shape);
}

// 0, 1, 2, ... as float32 in the given shape (arange is written on another branch).
Tensor iota_float(const Shape& shape) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return tensor(v, shape);
}

Tensor as_int64(const Bytes& b) {
  I64 v(b.begin(), b.end());
  return tensor(v);
}

// An environment variable set for one scope, restored afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

// ---- IDX: reading back what was written --------------------------------------------------------------------------

TEST(Idx, RawFileWrittenByHandReadsBackExactly) {
  ScratchDir dir;
  const Bytes pixels = iota_bytes(3 * 2 * 4);
  write_bytes(dir.file("images"), idx_bytes(0x08, {3, 2, 4}, pixels));
  write_bytes(dir.file("labels"), idx_bytes(0x08, {3}, {7, 0, 255}));

  EXPECT_TRUE(same_values(read_idx_images(dir.file("images")), as_float(pixels, {3, 2, 4}, 255.0f)));
  EXPECT_TRUE(same_values(read_idx_images(dir.file("images"), PixelScale::Raw), as_float(pixels, {3, 2, 4}, 1.0f)));
  EXPECT_TRUE(same_values(read_idx_labels(dir.file("labels")), tensor(I64{7, 0, 255})));

  const IdxArray any = read_idx(dir.file("images"));
  EXPECT_EQ(any.dims, (Shape{3, 2, 4}));
  EXPECT_EQ(any.values, pixels);
}

TEST(Idx, UnitScaleMapsTheByteRangeToZeroOne) {
  ScratchDir dir;
  write_bytes(dir.file("images"), idx_bytes(0x08, {1, 1, 3}, {0, 51, 255}));
  const Tensor x = read_idx_images(dir.file("images"));
  EXPECT_EQ(x.dtype(), kFloat32);
  EXPECT_EQ(x.at<float>({0, 0, 0}), 0.0f);
  EXPECT_EQ(x.at<float>({0, 0, 1}), 0.2f);
  EXPECT_EQ(x.at<float>({0, 0, 2}), 1.0f);
}

TEST(Idx, GzipFromAnIndependentWriterReadsBackExactly) {
  ScratchDir dir;
  // More than one 64 KiB stored block, so the stream has several blocks.
  const Bytes pixels = iota_bytes(100 * 28 * 28, 7);
  Bytes labels(100);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  write_bytes(dir.file("images.gz"), gzip_stored(idx_bytes(0x08, {100, 28, 28}, pixels)));
  write_bytes(dir.file("labels.gz"), gzip_stored(idx_bytes(0x08, {100}, labels)));

  EXPECT_TRUE(
      same_values(read_idx_images(dir.file("images.gz"), PixelScale::Raw), as_float(pixels, {100, 28, 28}, 1.0f)));
  EXPECT_TRUE(same_values(read_idx_labels(dir.file("labels.gz")), as_int64(labels)));
}

TEST(Idx, WriteIdxRoundTripsRawAndGzip) {
  ScratchDir dir;
  const Tensor images = tensor(I64{0, 1, 2, 3, 250, 251, 252, 255, 9, 8, 7, 6}, {2, 2, 3});
  for (bool gzip : {false, true}) {
    const std::string path = dir.file(gzip ? "x.gz" : "x");
    write_idx(path, images, gzip);
    const Bytes bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(bytes[0] == 0x1f && bytes[1] == 0x8b, gzip) << "gzip magic present iff gzip";
    EXPECT_TRUE(same_values(read_idx_images(path, PixelScale::Raw), images.to(kFloat32)));
  }
  // The raw file is exactly the IDX layout.
  EXPECT_EQ(read_bytes(dir.file("x")), idx_bytes(0x08, {2, 2, 3}, Bytes{0, 1, 2, 3, 250, 251, 252, 255, 9, 8, 7, 6}));

  write_idx(dir.file("labels"), tensor(I64{3, 1, 4, 1, 5}), false);
  EXPECT_TRUE(same_values(read_idx_labels(dir.file("labels")), tensor(I64{3, 1, 4, 1, 5})));
}

TEST(Idx, WriteIdxIsAtomicAndLeavesNoTemporaryFiles) {
  ScratchDir dir;
  write_idx(dir.file("x"), tensor(I64{1, 2, 3}), false);
  write_idx(dir.file("x"), tensor(I64{4, 5}), false);  // replaces the old file
  write_idx(dir.file("y.gz"), tensor(I64{6}), true);
  auto names = dir.entries();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"x", "y.gz"}));
  EXPECT_TRUE(same_values(read_idx_labels(dir.file("x")), tensor(I64{4, 5})));

  // A failed write (a value out of range) leaves the previous file untouched and nothing else.
  EXPECT_THROW_MSG(write_idx(dir.file("x"), tensor(I64{1, 256}), false),
                   "write_idx: " + dir.file("x") + ": element 1 is 256, expected an integer in [0, 255]");
  EXPECT_THROW_MSG(write_idx(dir.file("x"), tensor({0.5f}), false), "element 0 is 0.5");
  EXPECT_TRUE(same_values(read_idx_labels(dir.file("x")), tensor(I64{4, 5})));
  EXPECT_EQ(dir.entries().size(), 2u);

  EXPECT_THROW_MSG(write_idx(dir.file("no_such_dir/x"), tensor(I64{1}), false),
                   "write_idx: " + dir.file("no_such_dir/x") + ": cannot create");
  EXPECT_THROW_MSG(write_idx(dir.file("z"), IdxArray{{2, 2}, {1, 2, 3}}, false),
                   "write_idx: " + dir.file("z") + ": sizes [2, 2] need 4 values, got 3");
}

TEST(Idx, EmptyDatasetIsValid) {
  ScratchDir dir;
  write_bytes(dir.file("images"), idx_bytes(0x08, {0, 28, 28}, {}));
  const Tensor x = read_idx_images(dir.file("images"));
  EXPECT_EQ(x.sizes(), (Shape{0, 28, 28}));
}

// ---- IDX: every bad file, by its message -------------------------------------------------------------------------

TEST(IdxErrors, MissingFile) {
  ScratchDir dir;
  EXPECT_THROW_MSG(read_idx_images(dir.file("nope")), "read_idx: " + dir.file("nope") + ": no such file");
  EXPECT_THROW_MSG(read_idx_labels(dir.file("nope.gz")), "read_idx: " + dir.file("nope.gz") + ": no such file");
  EXPECT_THROW_MSG(read_idx(dir.str()), "read_idx: " + dir.str() + ": is a directory");
}

TEST(IdxErrors, BadMagic) {
  ScratchDir dir;
  const std::string path = dir.file("zeros");
  write_bytes(path, Bytes(32, 0));
  EXPECT_THROW_MSG(read_idx_images(path), "read_idx: " + path +
                                              ": bad magic 0x00000000, expected 0x00000803 (ubyte images) or "
                                              "0x00000801 (ubyte labels)");
  // Not an IDX file at all (a PNG signature), and an unknown type code.
  write_bytes(path, {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
  EXPECT_THROW_MSG(read_idx_labels(path), "read_idx: " + path + ": bad magic 0x89504E47, expected 0x00000803");
  write_bytes(path, idx_bytes(0x07, {1}, {0}));
  EXPECT_THROW_MSG(read_idx(path), "bad magic 0x00000701");
  // The same checks through gzip.
  write_bytes(dir.file("zeros.gz"), gzip_stored(Bytes(32, 0)));
  EXPECT_THROW_MSG(read_idx_images(dir.file("zeros.gz")),
                   "read_idx: " + dir.file("zeros.gz") + ": bad magic 0x00000000");
}

TEST(IdxErrors, WrongKindOfFile) {
  ScratchDir dir;
  write_bytes(dir.file("labels"), idx_bytes(0x08, {2}, {1, 2}));
  write_bytes(dir.file("images"), idx_bytes(0x08, {1, 1, 2}, {1, 2}));
  write_bytes(dir.file("matrix"), idx_bytes(0x08, {1, 2}, {1, 2}));
  EXPECT_THROW_MSG(read_idx_images(dir.file("labels")),
                   "read_idx: " + dir.file("labels") +
                       ": magic 0x00000801 (ubyte labels [N]), expected 0x00000803 (ubyte images [N, rows, cols])");
  EXPECT_THROW_MSG(read_idx_labels(dir.file("images")),
                   "read_idx: " + dir.file("images") +
                       ": magic 0x00000803 (ubyte images [N, rows, cols]), expected 0x00000801 (ubyte labels [N])");
  EXPECT_THROW_MSG(read_idx_images(dir.file("matrix")), "magic 0x00000802 (ubyte, 2 dims), expected 0x00000803");
  EXPECT_EQ(read_idx(dir.file("matrix")).dims, (Shape{1, 2}));  // the generic reader takes any rank
}

TEST(IdxErrors, UnsupportedElementType) {
  ScratchDir dir;
  write_bytes(dir.file("floats"), idx_bytes(0x0D, {1, 1, 1}, {0, 0, 0, 0}));
  EXPECT_THROW_MSG(read_idx_images(dir.file("floats")),
                   "read_idx: " + dir.file("floats") +
                       ": unsupported element type float32 (magic 0x00000D03); only ubyte (0x08) is supported");
  write_bytes(dir.file("ints"), idx_bytes(0x0C, {1}, {0, 0, 0, 1}));
  EXPECT_THROW_MSG(read_idx_labels(dir.file("ints")), "unsupported element type int32 (magic 0x00000C01)");
}

TEST(IdxErrors, TruncatedRawFile) {
  ScratchDir dir;
  const std::string path = dir.file("images");
  Bytes full = idx_bytes(0x08, {3, 2, 4}, iota_bytes(24));
  full.pop_back();
  write_bytes(path, full);
  EXPECT_THROW_MSG(read_idx_images(path), "read_idx: " + path +
                                              ": truncated: sizes [3, 2, 4] need 24 bytes of data after the 16-byte "
                                              "header, found 23");
  write_bytes(path, Bytes{0, 0, 8});
  EXPECT_THROW_MSG(read_idx_images(path),
                   "read_idx: " + path + ": truncated: 3 bytes, too short for the 4-byte IDX magic");
  write_bytes(path, Bytes{});
  EXPECT_THROW_MSG(read_idx_images(path), "truncated: 0 bytes");
  write_bytes(path, Bytes{0, 0, 8, 3, 0, 0, 0, 3, 0, 0});
  EXPECT_THROW_MSG(read_idx_images(path),
                   "read_idx: " + path + ": truncated: the 16-byte header of a 3-d IDX file is cut after 10 bytes");
}

TEST(IdxErrors, TruncatedGzipFile) {
  ScratchDir dir;
  const std::string path = dir.file("images.gz");
  const Bytes gz = gzip_stored(idx_bytes(0x08, {3, 2, 4}, iota_bytes(24)));
  // Cut inside the data: the decompressed stream is short.
  write_bytes(path, Bytes(gz.begin(), gz.end() - 8 - 5));
  EXPECT_THROW_MSG(read_idx_images(path), "read_idx: " + path +
                                              ": truncated: sizes [3, 2, 4] need 24 bytes of data after the 16-byte "
                                              "header, found 19 (decompressed)");
  // All the data is there but the gzip trailer (CRC, size) is cut.
  write_bytes(path, Bytes(gz.begin(), gz.end() - 4));
  EXPECT_THROW_MSG(read_idx_images(path),
                   "read_idx: " + path + ": truncated: the gzip stream ends without its trailer");
}

TEST(IdxErrors, CorruptGzipFile) {
  ScratchDir dir;
  const std::string path = dir.file("images.gz");
  Bytes gz = gzip_stored(idx_bytes(0x08, {3, 2, 4}, iota_bytes(24)));
  gz[gz.size() - 8] ^= 0xFF;  // the CRC no longer matches the data
  write_bytes(path, gz);
  EXPECT_THROW_MSG(read_idx_images(path), "read_idx: " + path + ": corrupt gzip data: incorrect data check");
}

TEST(IdxErrors, TrailingBytes) {
  ScratchDir dir;
  const std::string path = dir.file("labels");
  Bytes b = idx_bytes(0x08, {2}, {1, 2});
  b.push_back(9);
  b.push_back(9);
  write_bytes(path, b);
  EXPECT_THROW_MSG(read_idx_labels(path), "read_idx: " + path + ": 2 unexpected bytes after the data of sizes [2]");
}

// ---- MNIST on generated directories ------------------------------------------------------------------------------

namespace {
// A small MNIST-layout directory: `n` images of 4x5 (pixel values b * 20 + i) and labels b % 10.
void write_small_mnist(const ScratchDir& dir, const std::string& split, std::int64_t n, bool gzip,
                       std::int64_t n_labels = -1) {
  if (n_labels < 0) n_labels = n;
  Bytes pixels(static_cast<std::size_t>(n * 20)), labels(static_cast<std::size_t>(n_labels));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i % 256);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  const std::string suffix = gzip ? ".gz" : "";
  write_idx(dir.file(split + "-images-idx3-ubyte" + suffix), IdxArray{{n, 4, 5}, pixels}, gzip);
  write_idx(dir.file(split + "-labels-idx1-ubyte" + suffix), IdxArray{{n_labels}, labels}, gzip);
}
}  // namespace

TEST(Mnist, ReadsRawAndGzipSplits) {
  ScratchDir dir;
  write_small_mnist(dir, "train", 6, /*gzip=*/false);
  write_small_mnist(dir, "t10k", 3, /*gzip=*/true);
  EXPECT_TRUE(mnist_available(dir.str()));

  const MNIST train(dir.str(), true), test(dir.str(), false);
  EXPECT_EQ(train.size(), 6);
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(train.images().sizes(), (Shape{6, 1, 4, 5}));
  EXPECT_TRUE(same_values(train.labels(), tensor(I64{0, 1, 2, 3, 4, 5})));

  const Example e = train.get(2);
  EXPECT_EQ(e.label, 2);
  EXPECT_EQ(e.data.sizes(), (Shape{1, 4, 5}));
  EXPECT_EQ(e.data.at<float>({0, 0, 0}), 40.0f / 255.0f);
  EXPECT_EQ(e.data.at<float>({0, 3, 4}), 59.0f / 255.0f);

  // The fast get_batch gives what stacking get(i) gives (the base class's default).
  const I64 indices = {5, 0, 2, 2};
  const Batch fast = train.get_batch(indices);
  const Batch stacked = train.Dataset::get_batch(indices);
  EXPECT_TRUE(same_values(fast.data, stacked.data));
  EXPECT_TRUE(same_values(fast.labels, stacked.labels));
  EXPECT_TRUE(same_values(fast.labels, tensor(I64{5, 0, 2, 2})));

  const MNIST raw(dir.str(), false, PixelScale::Raw);
  EXPECT_EQ(raw.get(1).data.at<float>({0, 0, 1}), 21.0f);

  EXPECT_THROW_MSG(train.get(6), "MNIST: index 6 out of range for 6 examples");
  EXPECT_THROW_MSG(train.get_batch({0, -1}), "MNIST: index -1 out of range for 6 examples");
}

TEST(Mnist, LabelCountMustMatchImageCount) {
  ScratchDir dir;
  write_small_mnist(dir, "train", 4, false, /*n_labels=*/3);
  EXPECT_THROW_MSG(MNIST(dir.str(), true), "MNIST: " + dir.str() + ": 4 images but 3 labels");
}

TEST(Mnist, LabelsMustBeDigits) {
  ScratchDir dir;
  write_small_mnist(dir, "train", 2, false);
  write_idx(dir.file("train-labels-idx1-ubyte"), IdxArray{{2}, {3, 10}});
  EXPECT_THROW_MSG(MNIST(dir.str(), true),
                   "MNIST: " + dir.file("train-labels-idx1-ubyte") + ": label 10 of example 1 is outside 0..9");
}

TEST(Mnist, MissingFilesSayHowToFetchThem) {
  ScratchDir dir;
  EXPECT_FALSE(mnist_available(dir.str()));
  EXPECT_THROW_MSG(MNIST(dir.str(), true),
                   "MNIST: " + dir.str() +
                       ": train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) not found; run `bash "
                       "scripts/fetch-mnist.sh " +
                       dir.str() + "` to download MNIST");
  write_small_mnist(dir, "train", 2, false);
  std::filesystem::remove(dir.file("train-labels-idx1-ubyte"));
  EXPECT_THROW_MSG(MNIST(dir.str(), true), "train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz) not found");
  EXPECT_THROW_MSG(MNIST(dir.str(), false), "t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz) not found");
  EXPECT_THROW_MSG(MNIST(dir.file("absent"), true),
                   "MNIST: " + dir.file("absent") + ": no such directory; run `bash scripts/fetch-mnist.sh");
}

TEST(Mnist, DirectoryResolution) {
  {
    ScopedEnv data("TRIDENT_DATA", "/data/root");
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(mnist_dir(std::string("/from/flag")), "/from/flag");
    EXPECT_EQ(mnist_dir(), "/data/root/mnist");
    EXPECT_EQ(mnist_dir(std::nullopt), "/data/root/mnist");
  }
  {
    ScopedEnv data("TRIDENT_DATA", nullptr);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(mnist_dir(), "/home/someone/.cache/trident/mnist");
    EXPECT_EQ(mnist_dir(std::string("")), "/home/someone/.cache/trident/mnist");  // an empty flag is no flag
  }
  {
    ScopedEnv data("TRIDENT_DATA", "");
    ScopedEnv home("HOME", nullptr);
    EXPECT_THROW_MSG(mnist_dir(), "mnist_dir: no data directory");
  }
}

// ---- the real MNIST, when it has been fetched ----------------------------------------------------------------------

TEST(MnistReal, SizesAndFirstLabels) {
  const std::string dir = mnist_dir();
  if (!mnist_available(dir)) GTEST_SKIP() << "MNIST not found in " << dir << "; run bash scripts/fetch-mnist.sh";
  const MNIST train(dir, true), test(dir, false);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.images().sizes(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(test.images().sizes(), (Shape{10000, 1, 28, 28}));
  EXPECT_TRUE(same_values(train.labels().slice(0, 0, 5), tensor(I64{5, 0, 4, 1, 9})));
  EXPECT_TRUE(same_values(test.labels().slice(0, 0, 5), tensor(I64{7, 2, 1, 0, 4})));

  // Pixel statistics of the training set, the well-known normalisation constants 0.1307 and 0.3081.
  const std::vector<float> pixels = train.images().to_vector<float>();
  double sum = 0, sum_sq = 0, lo = 1, hi = 0;
  for (float p : pixels) {
    sum += p;
    sum_sq += static_cast<double>(p) * p;
    lo = std::min<double>(lo, p);
    hi = std::max<double>(hi, p);
  }
  const double mean = sum / static_cast<double>(pixels.size());
  const double stddev = std::sqrt(sum_sq / static_cast<double>(pixels.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.1307, 5e-5);
  EXPECT_NEAR(stddev, 0.3081, 5e-5);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);

  // Every class is present; the known train class counts of digits 0 and 1.
  std::vector<std::int64_t> counts(10, 0);
  for (std::int64_t label : train.labels().to_vector<std::int64_t>()) ++counts[static_cast<std::size_t>(label)];
  EXPECT_EQ(counts[0], 5923);
  EXPECT_EQ(counts[1], 6742);
}

// ---- TensorDataset and the default get_batch ---------------------------------------------------------------------

namespace {
// A dataset that only implements get(): example i is a [2, 3] image filled with i, label 9 - i.
class FilledDataset : public Dataset {
 public:
  std::int64_t size() const override { return 10; }
  Example get(std::int64_t index) const override {
    check_example_index("FilledDataset", index, size());
    return Example{full({2, 3}, static_cast<double>(index)), 9 - index};
  }
};
}  // namespace

TEST(TensorDataset, GetAndGetBatch) {
  const Tensor data = iota_float({4, 3});
  const TensorDataset ds(data, tensor(I64{10, 11, 12, 13}));
  EXPECT_EQ(ds.size(), 4);
  const Example e = ds.get(2);
  EXPECT_TRUE(same_values(e.data, tensor({6.f, 7.f, 8.f})));
  EXPECT_EQ(e.label, 12);
  const Batch b = ds.get_batch({3, 1, 3});
  EXPECT_TRUE(same_values(b.data, tensor({9.f, 10.f, 11.f, 3.f, 4.f, 5.f, 9.f, 10.f, 11.f}, {3, 3})));
  EXPECT_TRUE(same_values(b.labels, tensor(I64{13, 11, 13})));
  EXPECT_TRUE(same_values(ds.labels(), tensor(I64{10, 11, 12, 13})));

  EXPECT_THROW_MSG(ds.get(4), "TensorDataset: index 4 out of range for 4 examples");
  EXPECT_THROW_MSG(ds.get_batch({0, 7}), "TensorDataset: index 7 out of range for 4 examples");
  EXPECT_THROW_MSG(TensorDataset(data, tensor(I64{1, 2})),
                   "TensorDataset: labels must be [4] to match data [4, 3], got [2]");
  EXPECT_THROW_MSG(TensorDataset(data, tensor({1.f, 2.f, 3.f, 4.f})),
                   "TensorDataset: labels must be int64, got float32");
}

TEST(Dataset, DefaultGetBatchStacksExamples) {
  const FilledDataset ds;
  const Batch b = ds.get_batch({4, 0});
  EXPECT_EQ(b.data.sizes(), (Shape{2, 2, 3}));
  EXPECT_TRUE(same_values(b.data, tensor({4.f, 4.f, 4.f, 4.f, 4.f, 4.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, {2, 2, 3})));
  EXPECT_TRUE(same_values(b.labels, tensor(I64{5, 9})));
  EXPECT_TRUE(same_values(ds.labels(), tensor(I64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0})));
  EXPECT_THROW_MSG(ds.get_batch({}), "Dataset::get_batch: empty list of indices");
  EXPECT_THROW_MSG(ds.get_batch({10}), "FilledDataset: index 10 out of range for 10 examples");
}

// ---- RandomEngine ------------------------------------------------------------------------------------------------

TEST(RandomEngine, FixedStreamsAndRanges) {
  // mt19937_64's output is fixed by the C++ standard: its 10000th number from the default seed.
  std::mt19937_64 reference;
  reference.discard(9999);
  EXPECT_EQ(reference(), 9981545732273789042ULL);

  RandomEngine a(42, {1, 2}), b(42, {1, 2}), c(42, {2, 1});
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    differs |= x != c.next_u64();
  }
  EXPECT_TRUE(differs) << "stream words in another order give another stream";

  RandomEngine e(7);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const std::int64_t k = e.uniform_int(-3, 3);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 3);
    ++seen[static_cast<std::size_t>(k + 3)];
    const double u = e.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  for (int count : seen) EXPECT_GT(count, 800);  // ~1000 each
  EXPECT_EQ(e.uniform_int(5, 5), 5);
  EXPECT_THROW_MSG(e.uniform_int(std::uint64_t{0}), "RandomEngine::uniform_int: n must be >= 1");
}

// ---- transforms --------------------------------------------------------------------------------------------------

namespace {
// [B, H, W] zeros with a 1 at (b, y, x) for each given point.
Tensor points(std::int64_t batch, std::int64_t h, std::int64_t w, const std::vector<std::array<std::int64_t, 3>>& at) {
  std::vector<float> v(static_cast<std::size_t>(batch * h * w), 0.0f);
  for (const auto& [b, y, x] : at) v[static_cast<std::size_t>((b * h + y) * w + x)] = 1.0f;
  return tensor(v, {batch, h, w});
}
}  // namespace

TEST(Transforms, ShiftByOneMovesAPixelByOne) {
  const Tensor x = points(1, 5, 6, {{0, 2, 3}});
  EXPECT_TRUE(same_values(shift_images(x, 1, 0), points(1, 5, 6, {{0, 2, 4}})));   // right
  EXPECT_TRUE(same_values(shift_images(x, -1, 0), points(1, 5, 6, {{0, 2, 2}})));  // left
  EXPECT_TRUE(same_values(shift_images(x, 0, 1), points(1, 5, 6, {{0, 3, 3}})));   // down
  EXPECT_TRUE(same_values(shift_images(x, 0, -1), points(1, 5, 6, {{0, 1, 3}})));  // up
  EXPECT_TRUE(same_values(shift_images(x, 0, 0), x));
  // Shifted out of the image: zeros; the rows and columns shifted in are zeros.
  EXPECT_TRUE(same_values(shift_images(x, 3, 0), points(1, 5, 6, {})));
  const Tensor ones_image = ones({1, 2, 3});
  EXPECT_TRUE(same_values(shift_images(ones_image, 1, 1), tensor({0.f, 0.f, 0.f, 0.f, 1.f, 1.f}, {1, 2, 3})));
}

TEST(Transforms, RandomShiftPicksAShiftPerImageWithinRange) {
  const std::int64_t batch = 64;
  std::vector<std::array<std::int64_t, 3>> centre;
  for (std::int64_t b = 0; b < batch; ++b) centre.push_back({b, 3, 3});
  const Tensor x = points(batch, 7, 7, centre);
  const RandomShift shift(2);
  const Tensor y = shift(x, 5);
  EXPECT_TRUE(same_values(y, shift(x, 5))) << "same seed, same shifts";
  EXPECT_FALSE(same_values(y, shift(x, 6))) << "another seed, other shifts";

  std::set<std::pair<std::int64_t, std::int64_t>> shifts;
  for (std::int64_t b = 0; b < batch; ++b) {
    // The single 1 of image b moved by some (dx, dy) with |dx|, |dy| <= 2.
    const Tensor image = y.slice(0, b, b + 1);
    EXPECT_EQ(image.sum().item<float>(), 1.0f);
    bool found = false;
    for (std::int64_t dy = -2; dy <= 2 && !found; ++dy) {
      for (std::int64_t dx = -2; dx <= 2 && !found; ++dx) {
        if (image.at<float>({0, 3 + dy, 3 + dx}) == 1.0f) {
          found = true;
          shifts.insert({dx, dy});
        }
      }
    }
    EXPECT_TRUE(found) << "image " << b;
  }
  EXPECT_GT(shifts.size(), 10u) << "64 images should see many of the 25 shifts";
  EXPECT_TRUE(same_values(RandomShift(0)(x, 5), x));
}

TEST(Transforms, RandomShiftMovesAllChannelsOfAnImageAlike) {
  const Tensor x = iota_float({2, 3, 4, 4});
  const Tensor y = RandomShift(1)(x, 11);
  for (std::int64_t b = 0; b < 2; ++b) {
    bool matched = false;
    for (std::int64_t dy = -1; dy <= 1; ++dy) {
      for (std::int64_t dx = -1; dx <= 1; ++dx) {
        matched |= static_cast<bool>(same_values(y.slice(0, b, b + 1), shift_images(x.slice(0, b, b + 1), dx, dy)));
      }
    }
    EXPECT_TRUE(matched) << "image " << b << " is one shift of all its channels";
  }
}

TEST(Transforms, AffineWithIdentityParametersIsTheIdentity) {
  const Tensor x = trident::testing::random_tensor({3, 2, 9, 8}, 1, 0.0, 1.0, kFloat32);
  EXPECT_TRUE(same_values(affine_images(x, AffineParams{}), x));
  EXPECT_TRUE(same_values(RandomAffine(0, {0, 0}, {1, 1})(x, 3), x));
  const Tensor x64 = trident::testing::random_tensor({2, 5, 5}, 2);
  EXPECT_TRUE(same_values(RandomAffine(0)(x64, 4), x64));
}

TEST(Transforms, AffineMovesPixelsWhereExpected) {
  const Tensor x = points(1, 5, 5, {{0, 2, 3}});  // one pixel right of the centre (2, 2)
  // Counter-clockwise on screen by 90 degrees: right of the centre goes above it.
  EXPECT_TRUE(close_values(affine_images(x, {.angle_degrees = 90}), points(1, 5, 5, {{0, 1, 2}}), 1e-6));
  EXPECT_TRUE(close_values(affine_images(x, {.angle_degrees = -90}), points(1, 5, 5, {{0, 3, 2}}), 1e-6));
  EXPECT_TRUE(close_values(affine_images(x, {.angle_degrees = 180}), points(1, 5, 5, {{0, 2, 1}}), 1e-6));
  // Whole-pixel translations are shifts.
  EXPECT_TRUE(same_values(affine_images(x, {.translate_x = 1}), shift_images(x, 1, 0)));
  EXPECT_TRUE(same_values(affine_images(x, {.translate_x = -2, .translate_y = 1}), shift_images(x, -2, 1)));
  // Scaling by 2 about the centre doubles the pixel's distance from it.
  const Tensor scaled = affine_images(x, {.scale = 2});
  EXPECT_EQ(scaled.at<float>({0, 2, 4}), 1.0f);
  EXPECT_EQ(scaled.at<float>({0, 2, 2}), 0.0f);
  // Half a pixel to the right: bilinear splits the pixel between two neighbours.
  const Tensor half = affine_images(x, {.translate_x = 0.5});
  EXPECT_EQ(half.at<float>({0, 2, 3}), 0.5f);
  EXPECT_EQ(half.at<float>({0, 2, 4}), 0.5f);
  EXPECT_EQ(half.sum().item<float>(), 1.0f);
  // Extreme scales stay finite: shrunk to nothing only the centre pixel survives; blown up, the centre fills all.
  const Tensor centre = points(1, 5, 5, {{0, 2, 2}});
  EXPECT_TRUE(same_values(affine_images(centre, {.scale = 1e-300}), centre));
  EXPECT_TRUE(same_values(affine_images(centre, {.scale = 1e300}), ones({1, 5, 5})));
  EXPECT_THROW_MSG(affine_images(x, {.scale = 0}), "affine_images: scale must be > 0, got 0");
}

TEST(Transforms, RandomAffineIsDeterministicGivenTheSeed) {
  const Tensor x = trident::testing::random_tensor({8, 1, 12, 12}, 3, 0.0, 1.0, kFloat32);
  const RandomAffine affine(15, {0.1, 0.1}, {0.9, 1.1});
  const Tensor a = affine(x, 1);
  EXPECT_TRUE(same_values(a, affine(x, 1)));
  EXPECT_FALSE(same_values(a, affine(x, 2)));
  EXPECT_FALSE(same_values(a, x));
  EXPECT_THROW_MSG(RandomAffine(-1), "RandomAffine: degrees must be in [0, 180], got -1");
  EXPECT_THROW_MSG(RandomAffine(0, {1.5, 0}), "RandomAffine: translate fractions must be in [0, 1]");
  EXPECT_THROW_MSG(RandomAffine(0, {0, 0}, {1.2, 1.1}), "RandomAffine: scale range must satisfy 0 < min <= max");
}

TEST(Transforms, FlipMirrorsEveryRowOfEveryChannel) {
  const Tensor x = iota_float({2, 3, 2, 4});
  const Tensor f = flip_images(x);
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 2; ++y)
        for (std::int64_t j = 0; j < 4; ++j) EXPECT_EQ(f.at<float>({b, c, y, j}), x.at<float>({b, c, y, 3 - j}));
  EXPECT_TRUE(same_values(flip_images(f), x));
  EXPECT_TRUE(same_values(RandomHorizontalFlip(1.0)(x, 3), f));
  EXPECT_TRUE(same_values(RandomHorizontalFlip(0.0)(x, 3), x));
  EXPECT_THROW_MSG(RandomHorizontalFlip(1.5), "RandomHorizontalFlip: p must be in [0, 1], got 1.5");
}

TEST(Transforms, RandomHorizontalFlipFlipsSomeImagesWhole) {
  const Tensor x = iota_float({64, 1, 3, 5});
  const Tensor y = RandomHorizontalFlip()(x, 8);
  EXPECT_TRUE(same_values(y, RandomHorizontalFlip()(x, 8))) << "same seed, same flips";
  const Tensor f = flip_images(x);
  int flipped = 0;
  for (std::int64_t b = 0; b < 64; ++b) {
    const bool is_flipped = same_values(y.slice(0, b, b + 1), f.slice(0, b, b + 1));
    EXPECT_TRUE(is_flipped || same_values(y.slice(0, b, b + 1), x.slice(0, b, b + 1))) << "image " << b;
    flipped += is_flipped;
  }
  EXPECT_GT(flipped, 16);  // about half of 64
  EXPECT_LT(flipped, 48);
}

TEST(Transforms, RandomErasingFillsOneRectangleWithinTheAreaRange) {
  const std::int64_t batch = 200, h = 20, w = 16;
  const Tensor x = full({batch, 2, h, w}, -1.0f);  // fill values are in [0, 1]: erased pixels are the non-negative
  const RandomErasingOptions o{.p = 0.5, .area = {0.05, 0.25}, .aspect = {0.5, 2.0}, .fill = {0.25, 0.75}};
  const Tensor y = RandomErasing(o)(x, 4);
  EXPECT_TRUE(same_values(y, RandomErasing(o)(x, 4))) << "same seed, same rectangles";
  int erased = 0;
  for (std::int64_t b = 0; b < batch; ++b) {
    // The erased pixels of channel 0: their bounding box must be full, hold one value, and match channel 1.
    std::int64_t y0 = h, y1 = -1, x0 = w, x1 = -1, count = 0;
    for (std::int64_t i = 0; i < h; ++i)
      for (std::int64_t j = 0; j < w; ++j)
        if (y.at<float>({b, 0, i, j}) >= 0) {
          y0 = std::min(y0, i), y1 = std::max(y1, i), x0 = std::min(x0, j), x1 = std::max(x1, j), ++count;
        }
    if (count == 0) continue;
    ++erased;
    const std::int64_t rh = y1 - y0 + 1, rw = x1 - x0 + 1;
    EXPECT_EQ(count, rh * rw) << "image " << b << ": one solid rectangle";
    const float v = y.at<float>({b, 0, y0, x0});
    EXPECT_GE(v, 0.25f);
    EXPECT_LE(v, 0.75f);
    EXPECT_TRUE(same_values(y.slice(0, b, b + 1).slice(1, 0, 1), y.slice(0, b, b + 1).slice(1, 1, 2)))
        << "image " << b << ": every channel erased alike";
    EXPECT_TRUE(same_values(y.slice(0, b, b + 1).slice(1, 0, 1).slice(2, y0, y1 + 1).slice(3, x0, x1 + 1),
                            full({1, 1, rh, rw}, v)));
    // The drawn area is in [0.05, 0.25] of 320 pixels, before rounding each side to whole pixels.
    EXPECT_GE(static_cast<double>(count), 0.05 * h * w * 0.5) << "image " << b;
    EXPECT_LE(static_cast<double>(count), 0.25 * h * w * 1.5) << "image " << b;
  }
  EXPECT_GT(erased, 70);  // about half of 200
  EXPECT_LT(erased, 130);
  EXPECT_TRUE(same_values(RandomErasing({.p = 0})(x, 4), x));
  EXPECT_THROW_MSG(RandomErasing({.p = -0.1}), "RandomErasing: p must be in [0, 1], got -0.1");
  EXPECT_THROW_MSG(RandomErasing({.area = {0.3, 0.2}}),
                   "RandomErasing: area fractions must satisfy 0 < min <= max <= 1");
  EXPECT_THROW_MSG(RandomErasing({.aspect = {0, 1}}), "RandomErasing: aspect ratios must satisfy 0 < min <= max");
  EXPECT_THROW_MSG(RandomErasing({.fill = {1, 0}}), "RandomErasing: fill range must be finite with min <= max");
  EXPECT_THROW_MSG(RandomErasing()(tensor({1.f, 2.f}, {1, 2})),
                   "RandomErasing: expected a batch [B, H, W] or [B, C, H, W], got [1, 2]");
}

TEST(Transforms, NormalizeValues) {
  const Tensor x = tensor({0.f, 0.5f, 1.f, 0.25f}, {1, 2, 2});
  EXPECT_TRUE(same_values(Normalize({0.5}, {0.25})(x), tensor({-2.f, 0.f, 2.f, -1.f}, {1, 2, 2})));
  // Per channel: channel 0 with (0, 1), channel 1 with (1, 2).
  const Tensor y = tensor({1.f, 2.f, 3.f, 5.f, 1.f, 2.f, 3.f, 5.f}, {2, 2, 1, 2});
  EXPECT_TRUE(
      same_values(Normalize({0, 1}, {1, 2})(y), tensor({1.f, 2.f, 1.f, 2.f, 1.f, 2.f, 1.f, 2.f}, {2, 2, 1, 2})));
  EXPECT_TRUE(same_values(Normalize({1}, {2})(y.to(kFloat64)), (y.to(kFloat64) - 1.0) / 2.0));
  EXPECT_THROW_MSG(Normalize({0, 1}, {1, 2})(x),
                   "Normalize: 2 mean/std values for a batch [1, 2, 2] with 1 channel(s); give 1 or 1");
  EXPECT_THROW_MSG(Normalize({0}, {0}), "Normalize: channel 0: need a finite mean and std > 0, got mean 0 and std 0");
  EXPECT_THROW_MSG(Normalize({0}, {1, 2}),
                   "Normalize: mean and std need the same number (>= 1) of values, got 1 and 2");
  EXPECT_THROW_MSG(Normalize({0}, {1})(tensor(I64{1, 2, 3, 4}, {1, 2, 2})),
                   "Normalize: expected a float32 or float64 batch, got int64");
  EXPECT_THROW_MSG(Normalize({0}, {1})(tensor({1.f, 2.f}, {1, 2})),
                   "Normalize: expected a batch [B, H, W] or [B, C, H, W], got [1, 2]");
}

TEST(Transforms, TransformsDoNotModifyTheirInput) {
  const Tensor x = trident::testing::random_tensor({2, 1, 6, 6}, 5, 0.0, 1.0, kFloat32);
  const Tensor copy = x.clone();
  RandomShift(2)(x, 1);
  RandomAffine(30, {0.2, 0.2}, {0.8, 1.2})(x, 1);
  RandomHorizontalFlip(1.0)(x, 1);
  RandomErasing({.p = 1.0})(x, 1);
  Normalize({0.5}, {0.5})(x);
  EXPECT_TRUE(same_values(x, copy));
  // A non-contiguous input (a transposed view) is read correctly.
  const Tensor xt = x.transpose(2, 3);
  EXPECT_TRUE(same_values(shift_images(xt, 1, 0), shift_images(xt.contiguous(), 1, 0)));
}

TEST(Transforms, ComposeAppliesInOrderWithOneEngine) {
  const Tensor x = trident::testing::random_tensor({4, 1, 6, 6}, 6, 0.0, 1.0, kFloat32);
  const auto shift = std::make_shared<RandomShift>(1);
  const auto normalize = std::make_shared<Normalize>(std::vector<double>{0.5}, std::vector<double>{0.25});
  const Compose both({shift, normalize});
  RandomEngine e1(9), e2(9);
  const Tensor composed = both(x, e1);
  const Tensor manual = (*normalize)((*shift)(x, e2), e2);
  EXPECT_TRUE(same_values(composed, manual));
  const Lambda flatten([](const Tensor& t) { return t.flatten(1); });
  EXPECT_EQ(flatten(x).sizes(), (Shape{4, 36}));
  EXPECT_THROW_MSG(Compose({nullptr}), "Compose: transform 0 is null");
}
