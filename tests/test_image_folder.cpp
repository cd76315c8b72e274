// ImageFolder (data/image_folder.h), the image readers/writers beside it, and SyntheticFaces (data/synthetic_faces.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "file_testing.h"
#include "gradcheck.h"
#include "trident/core/threads.h"
#include "trident/data/image_folder.h"
#include "trident/data/synthetic_faces.h"
#include "trident/ops/factory.h"

namespace trident::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDirTest;

// TempDirTest with subfolders: removes the whole tree afterwards.
class ImageFolderTest : public TempDirTest {
 protected:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string make_dir(const std::string& name) {
    fs::create_directories(path(name));
    return path(name);
  }
};

// A float32 [1, h, w] image whose pixels are exact multiples of 1/255 (so 8-bit files round-trip exactly).
Tensor ramp_image(std::int64_t h, std::int64_t w, int offset) {
  std::vector<float> v(static_cast<std::size_t>(h * w));
  for (std::int64_t i = 0; i < h * w; ++i)
    v[static_cast<std::size_t>(i)] = static_cast<float>((i * 7 + offset) % 256) / 255.0f;
  return tensor(v, {1, h, w});
}

std::string p2_text(std::int64_t h, std::int64_t w, int offset, int maxval = 255) {
  std::string s = fmt::format("P2\n# a comment\n{} {}\n{}\n", w, h, maxval);
  for (std::int64_t i = 0; i < h * w; ++i)
    s += fmt::format("{}{}", (i * 7 + offset) % 256, i % w == w - 1 ? "\n" : " ");
  return s;
}

double mean_abs_diff(const Tensor& a, const Tensor& b) {
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  const float* p = ac.data_ptr<float>();
  const float* q = bc.data_ptr<float>();
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += std::abs(static_cast<double>(p[i]) - q[i]);
  return s / static_cast<double>(a.numel());
}

// ---- natural order, single images ---------------------------------------------------------------------------------

TEST(NaturalLess, NumbersCompareByValue) {
  EXPECT_TRUE(natural_less("s2", "s10"));
  EXPECT_FALSE(natural_less("s10", "s2"));
  EXPECT_TRUE(natural_less("s1", "s2"));
  EXPECT_TRUE(natural_less("9.pgm", "10.pgm"));
  EXPECT_TRUE(natural_less("a", "b"));
  EXPECT_TRUE(natural_less("s", "s1"));
  EXPECT_FALSE(natural_less("s1", "s1"));
  EXPECT_TRUE(natural_less("s01", "s1"));  // equal by value: plain order decides
  EXPECT_FALSE(natural_less("s1", "s01"));
  EXPECT_TRUE(natural_less("img2_b", "img10_a"));
  std::vector<std::string> names = {"s10", "s1", "s3", "s2", "s20", "s100"};
  std::sort(names.begin(), names.end(), natural_less);
  EXPECT_EQ(names, (std::vector<std::string>{"s1", "s2", "s3", "s10", "s20", "s100"}));
}

TEST_F(ImageFolderTest, PgmP5P2AndPngRoundTrip) {
  const Tensor img = ramp_image(5, 7, 3);
  write_pgm(path("a.pgm"), img);
  write_png(path("a.png"), img);
  testing::write_bytes(path("b.pgm"), p2_text(5, 7, 3));
  EXPECT_TRUE(testing::all_close(read_image(path("a.pgm")), img, 0, 0));
  EXPECT_TRUE(testing::all_close(read_image(path("a.png")), img, 0, 0));
  EXPECT_TRUE(testing::all_close(read_image(path("b.pgm")), img, 0, 0));
  EXPECT_EQ(testing::read_bytes(path("a.pgm")).substr(0, 11), "P5\n7 5\n255\n");
}

TEST_F(ImageFolderTest, PgmMaxvalAnd16Bit) {
  // P2 with maxval 15, P5 with 16-bit big-endian samples.
  testing::write_bytes(path("a.pgm"), "P2 2 1 15 0 15\n");
  EXPECT_TRUE(testing::all_close(read_image(path("a.pgm")), tensor({0.f, 1.f}, {1, 1, 2}), 0, 0));
  testing::write_bytes(path("b.pgm"), std::string("P5\n2 1\n65535\n\x00\x00\xff\xff", 17));
  EXPECT_TRUE(testing::all_close(read_image(path("b.pgm")), tensor({0.f, 1.f}, {1, 1, 2}), 0, 0));
}

TEST_F(ImageFolderTest, Jpeg) {
  // A smooth image survives JPEG with small errors.
  std::vector<float> v(16 * 16);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) v[static_cast<std::size_t>(y * 16 + x)] = static_cast<float>(x + y) / 30.0f;
  const Tensor img = tensor(v, {1, 16, 16});
  write_jpeg(path("a.jpg"), img, 100);
  const Tensor back = read_image(path("a.jpg"));
  ASSERT_EQ(back.sizes(), img.sizes());
  EXPECT_LT(mean_abs_diff(back, img), 0.01);
}

TEST_F(ImageFolderTest, CorruptImagesNameTheFile) {
  testing::write_bytes(path("bad.png"), "\x89PNG\r\n\x1a\n garbage garbage");
  EXPECT_THROW_MSG(read_image(path("bad.png")), "bad.png: cannot decode image");
  testing::write_bytes(path("text.jpg"), "hello, not an image");
  EXPECT_THROW_MSG(read_image(path("text.jpg")), "text.jpg: cannot decode image");
  testing::write_bytes(path("short.pgm"), "P5\n4 4\n255\nabc");
  EXPECT_THROW_MSG(read_image(path("short.pgm")), "short.pgm: corrupt PGM: truncated");
  testing::write_bytes(path("big.pgm"), "P2 2 1 15 0 16\n");
  EXPECT_THROW_MSG(read_image(path("big.pgm")), "big.pgm: corrupt PGM: pixel 1 is 16, above maxval 15");
  testing::write_bytes(path("few.pgm"), "P2 2 2 255 1 2 3");
  EXPECT_THROW_MSG(read_image(path("few.pgm")), "few.pgm: corrupt PGM: ends before pixel 3");
  testing::write_bytes(path("empty.png"), "");
  EXPECT_THROW_MSG(read_image(path("empty.png")), "empty.png: empty file");
  EXPECT_THROW_MSG(read_image(path("missing.png")), "missing.png: cannot open");
}

TEST(ResizeImage, AreaDownBilinearUpIdentity) {
  // 2x down by area: each output is the mean of a 2x2 block.
  const Tensor img =
      tensor({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, 11.f, 12.f, 13.f, 14.f, 15.f}, {1, 4, 4});
  EXPECT_TRUE(testing::all_close(resize_image(img, 2, 2), tensor({2.5f, 4.5f, 10.5f, 12.5f}, {1, 2, 2}), 1e-6, 0));
  // Non-integer area factor 3 -> 2 along a row: [a, b, c] -> [(a + b/2)/1.5, (b/2 + c)/1.5].
  const Tensor row = tensor({0.f, 3.f, 6.f}, {1, 1, 3});
  EXPECT_TRUE(testing::all_close(resize_image(row, 1, 2), tensor({1.f, 5.f}, {1, 1, 2}), 1e-6, 0));
  // 2x up, bilinear with half-pixel centres: [0, 4] -> [0, 1, 3, 4].
  const Tensor two = tensor({0.f, 4.f}, {1, 1, 2});
  EXPECT_TRUE(testing::all_close(resize_image(two, 1, 4), tensor({0.f, 1.f, 3.f, 4.f}, {1, 1, 4}), 1e-6, 0));
  EXPECT_TRUE(testing::all_close(resize_image(img, 4, 4), img, 0, 0));
  // A constant image stays constant, whatever the factors.
  const Tensor c = full({1, 7, 5}, 0.3);
  EXPECT_TRUE(testing::all_close(resize_image(c, 3, 11), full({1, 3, 11}, 0.3), 1e-6, 0));
  EXPECT_THROW_MSG(resize_image(img, 0, 2), "resize_image: size must be positive");
  EXPECT_THROW_MSG(resize_image(zeros({4, 4}), 2, 2), "resize_image: image must be float32 [C, H, W]");
}

TEST(ImageGrid, Layout) {
  const Tensor imgs = full({3, 1, 2, 2}, 0.5);
  const Tensor g = image_grid(imgs, 2, 1, 1.0f);
  ASSERT_EQ(g.sizes(), (Shape{1, 7, 7}));
  EXPECT_FLOAT_EQ(g.at<float>({0, 0, 0}), 1.0f);
  EXPECT_FLOAT_EQ(g.at<float>({0, 1, 1}), 0.5f);
  EXPECT_FLOAT_EQ(g.at<float>({0, 1, 3}), 1.0f);  // padding between the columns
  EXPECT_FLOAT_EQ(g.at<float>({0, 2, 5}), 0.5f);  // image 1
  EXPECT_FLOAT_EQ(g.at<float>({0, 5, 1}), 0.5f);  // image 2, second row
  EXPECT_FLOAT_EQ(g.at<float>({0, 4, 4}), 1.0f);  // the empty fourth cell
}

// ---- ImageFolder --------------------------------------------------------------------------------------------------

// Identities s1, s2, s10 (so natural order differs from plain order), 2 or 3 images each, mixed formats; a README
// and hidden files that must be skipped.
class FacesFolderTest : public ImageFolderTest {
 protected:
  void SetUp() override {
    ImageFolderTest::SetUp();
    make_dir("root");
    for (const auto& [name, offset] : std::vector<std::pair<std::string, int>>{{"s10", 100}, {"s1", 0}, {"s2", 50}}) {
      const std::string d = make_dir("root/" + name);
      write_pgm(d + "/1.pgm", ramp_image(6, 4, offset));
      testing::write_bytes(d + "/2.pgm", p2_text(6, 4, offset + 1));
      write_png(d + "/10.png", ramp_image(6, 4, offset + 2));
    }
    write_pgm(path("root/s2/3.PGM"), ramp_image(6, 4, 53));
    testing::write_bytes(path("root/README"), "not an identity");
    testing::write_bytes(path("root/s1/notes.txt"), "not an image");
    testing::write_bytes(path("root/s1/.hidden.pgm"), "hidden, skipped");
    make_dir("root/.git");
  }
  std::string root() { return path("root"); }
};

TEST_F(FacesFolderTest, LabelsAndOrder) {
  ImageFolder ds(root());
  EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"s1", "s2", "s10"}));
  EXPECT_EQ(ds.num_classes(), 3);
  ASSERT_EQ(ds.size(), 10);
  EXPECT_EQ(ds.height(), 6);
  EXPECT_EQ(ds.width(), 4);
  EXPECT_EQ(ds.images().sizes(), (Shape{10, 1, 6, 4}));
  EXPECT_EQ(ds.labels().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}));
  // Files in natural order: 1.pgm, 2.pgm, 3.PGM, 10.png.
  EXPECT_EQ(fs::path(ds.paths()[3]).filename(), "1.pgm");
  EXPECT_EQ(fs::path(ds.paths()[5]).filename(), "3.PGM");
  EXPECT_EQ(fs::path(ds.paths()[6]).filename(), "10.png");
  EXPECT_EQ(fs::path(ds.paths()[6]).parent_path().filename(), "s2");
  const Example e = ds.get(8);  // s10/2.pgm
  EXPECT_EQ(e.label, 2);
  EXPECT_TRUE(testing::all_close(e.data, ramp_image(6, 4, 101), 0, 0));
  EXPECT_TRUE(testing::all_close(ds.get(2).data, ramp_image(6, 4, 2), 0, 0));  // s1/10.png
  const Batch b = ds.get_batch({9, 0, 9});
  EXPECT_EQ(b.data.sizes(), (Shape{3, 1, 6, 4}));
  EXPECT_EQ(b.labels.to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 0, 2}));
  EXPECT_TRUE(testing::all_close(b.data.slice(0, 1, 2).squeeze(0), ramp_image(6, 4, 0), 0, 0));
  EXPECT_THROW_MSG(ds.get(10), "ImageFolder: index 10 out of range for 10 examples");
  EXPECT_THROW_MSG(ds.get_batch({1, -1}), "ImageFolder: index -1 out of range");
}

TEST_F(FacesFolderTest, Resize) {
  ImageFolder ds(root(), {.height = 3, .width = 2});
  EXPECT_EQ(ds.images().sizes(), (Shape{10, 1, 3, 2}));
  EXPECT_TRUE(testing::all_close(ds.get(0).data, resize_image(ramp_image(6, 4, 0), 3, 2), 0, 0));
  ImageFolder up(root(), {.height = 12, .width = 9});
  EXPECT_EQ(up.images().sizes(), (Shape{10, 1, 12, 9}));
  EXPECT_THROW_MSG(ImageFolder(root(), {.height = 3}), "height and width must both be 0 (native size) or both > 0");
}

TEST_F(FacesFolderTest, SelectIdentities) {
  ImageFolder named(root(), {.identities = {"s10", "s1"}});
  EXPECT_EQ(named.class_names(), (std::vector<std::string>{"s1", "s10"}));
  EXPECT_EQ(named.labels().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_TRUE(testing::all_close(named.get(3).data, ramp_image(6, 4, 100), 0, 0));

  ImageFolder first(root(), {.last_identity = 2});
  EXPECT_EQ(first.class_names(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(first.size(), 7);
  ImageFolder rest(root(), {.first_identity = 2});
  EXPECT_EQ(rest.class_names(), (std::vector<std::string>{"s10"}));
  EXPECT_EQ(rest.labels().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0}));
  ImageFolder middle(root(), {.first_identity = 1, .last_identity = 2});
  EXPECT_EQ(middle.class_names(), (std::vector<std::string>{"s2"}));
  ImageFolder both(root(), {.identities = {"s2", "s10"}, .first_identity = 1});
  EXPECT_EQ(both.class_names(), (std::vector<std::string>{"s10"}));

  EXPECT_THROW_MSG(ImageFolder(root(), {.identities = {"s3"}}), "no identity subfolder 's3' (there are: s1, s2, s10)");
  EXPECT_THROW_MSG(ImageFolder(root(), {.identities = {"s1", "s1"}}), "identity 's1' is named twice");
  EXPECT_THROW_MSG(ImageFolder(root(), {.first_identity = 3}), "identity range [3, -1) is empty or outside the 3");
  EXPECT_THROW_MSG(ImageFolder(root(), {.last_identity = 4}), "identity range [0, 4) is empty or outside the 3");
}

TEST_F(FacesFolderTest, CorruptImageNamesTheFile) {
  testing::write_bytes(path("root/s2/5.png"), "\x89PNG\r\n\x1a\n broken");
  EXPECT_THROW_MSG(ImageFolder{root()}, "s2/5.png: cannot decode image");
  // Selecting around the broken identity works.
  EXPECT_EQ(ImageFolder(root(), {.identities = {"s1", "s10"}}).size(), 6);
}

TEST_F(FacesFolderTest, InconsistentSizesNeedAResize) {
  write_pgm(path("root/s10/7.pgm"), ramp_image(5, 4, 0));
  EXPECT_THROW_MSG(ImageFolder{root()}, "s10/7.pgm is 5x4 (height x width) but");
  EXPECT_EQ(ImageFolder(root(), {.height = 5, .width = 4}).size(), 11);
}

TEST_F(ImageFolderTest, MissingAndEmptyFolders) {
  EXPECT_THROW_MSG(ImageFolder{path("nope")}, "nope: no such folder");
  testing::write_bytes(path("file"), "x");
  EXPECT_THROW_MSG(ImageFolder{path("file")}, "file: not a folder");
  make_dir("empty");
  EXPECT_THROW_MSG(ImageFolder{path("empty")}, "empty: no identity subfolders");
  make_dir("root/s1");
  testing::write_bytes(path("root/s1/readme.txt"), "x");
  EXPECT_THROW_MSG(ImageFolder{path("root")}, "no images in identity folder 's1'");
}

// ---- SyntheticFaces -----------------------------------------------------------------------------------------------

TEST(SyntheticFaces, ShapeLabelsRange) {
  SyntheticFaces ds({.identities = 4, .images_per_identity = 3, .height = 40, .width = 32, .seed = 3});
  EXPECT_EQ(ds.images().sizes(), (Shape{12, 1, 40, 32}));
  EXPECT_EQ(ds.labels().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(ds.class_names(), (std::vector<std::string>{"face0", "face1", "face2", "face3"}));
  const std::vector<float> v = ds.images().to_vector<float>();
  float lo = 1, hi = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  EXPECT_GE(lo, 0.0f);
  EXPECT_LE(hi, 1.0f);
  EXPECT_GT(hi - lo, 0.5f);  // a picture, not a flat field
  EXPECT_THROW_MSG(SyntheticFaces({.identities = 0}),
                   "SyntheticFaces: identities and images_per_identity must be >= 1");
  EXPECT_THROW_MSG(SyntheticFaces({.height = 4}), "SyntheticFaces: image size must be within 8..4096");
}

TEST(SyntheticFaces, Deterministic) {
  const SyntheticFacesOptions o{.identities = 3, .images_per_identity = 4, .seed = 11};
  SyntheticFaces a(o), b(o);
  EXPECT_TRUE(testing::all_close(a.images(), b.images(), 0, 0));
  // Identity k is the same whichever data set holds it: identities 1..2 of a == identities 0..1 of this one.
  SyntheticFaces tail({.identities = 2, .images_per_identity = 4, .seed = 11, .first_identity = 1});
  EXPECT_TRUE(testing::all_close(tail.images(), a.images().slice(0, 4, 12), 0, 0));
  EXPECT_EQ(tail.class_names(), (std::vector<std::string>{"face1", "face2"}));
  // Another seed, other faces.
  SyntheticFaces c({.identities = 3, .images_per_identity = 4, .seed = 12});
  EXPECT_GT(mean_abs_diff(a.images(), c.images()), 0.02);
  // The thread count does not change the pixels.
  set_num_threads(1);
  SyntheticFaces serial(o);
  set_num_threads(2);
  EXPECT_TRUE(testing::all_close(serial.images(), a.images(), 0, 0));
}

TEST(SyntheticFaces, NoNuisanceMeansIdenticalImages) {
  SyntheticFaces ds({.identities = 2, .images_per_identity = 3, .seed = 5, .nuisance = 0});
  EXPECT_TRUE(testing::all_close(ds.get(0).data, ds.get(2).data, 0, 0));
  EXPECT_GT(mean_abs_diff(ds.get(0).data, ds.get(3).data), 0.01);
}

// Identities must be learnable: images of one identity are closer (in pixels) than images of different identities on
// average. But not trivially: the nuisances are of the same order, so same-identity distances are a large fraction of
// the between-identity ones.
TEST(SyntheticFaces, SameIdentityCloserThanDifferentOnAverage) {
  SyntheticFaces ds({.identities = 12, .images_per_identity = 6, .seed = 1});
  double same = 0, diff = 0;
  int n_same = 0, n_diff = 0;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    for (std::int64_t j = i + 1; j < ds.size(); ++j) {
      const double d = mean_abs_diff(ds.get(i).data, ds.get(j).data);
      if (i / 6 == j / 6) {
        same += d;
        ++n_same;
      } else {
        diff += d;
        ++n_diff;
      }
    }
  }
  same /= n_same;
  diff /= n_diff;
  std::printf("mean |pixel difference|: same identity %.4f, different identities %.4f, ratio %.3f\n", same, diff,
              same / diff);
  EXPECT_LT(same, diff);
  EXPECT_GT(same / diff, 0.5);
}

// Writes a grid of faces as PNG (and reads it back); with TRIDENT_FACES_PNG=<path> set, a copy goes there to look at.
TEST_F(ImageFolderTest, SyntheticFacesGridPng) {
  for (const auto& [h, w] : std::vector<std::pair<std::int64_t, std::int64_t>>{{64, 64}, {112, 92}}) {
    SyntheticFaces ds({.identities = 8, .images_per_identity = 8, .height = h, .width = w, .seed = 2});
    // Row r: the 8 images of identity r.
    const Tensor grid = image_grid(ds.images(), 8, 2, 1.0f);
    const std::string file = path(fmt::format("faces_{}x{}.png", h, w));
    write_png(file, grid);
    const Tensor back = read_image(file);
    ASSERT_EQ(back.sizes(), grid.sizes());
    EXPECT_LE(mean_abs_diff(back, grid), 0.5 / 255 + 1e-6);
    if (const char* out = std::getenv("TRIDENT_FACES_PNG"); out != nullptr && *out != '\0') {
      write_png(fmt::format("{}_{}x{}.png", out, h, w), grid);
    }
  }
}

// ---- the real ORL / AT&T faces ------------------------------------------------------------------------------------

// $TRIDENT_ORL, else att_faces in the project's shared data folder, looked for beside and above the source tree.
std::string find_orl() {
  if (const char* env = std::getenv("TRIDENT_ORL"); env != nullptr && *env != '\0') return env;
  const fs::path src = TRIDENT_SOURCE_DIR;
  for (const fs::path& p :
       {src / "shared/data/att_faces", src / "../shared/data/att_faces", src / "../../shared/data/att_faces"}) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) return fs::weakly_canonical(p).string();
  }
  return {};
}

TEST(ORLFaces, FortyIdentitiesOfTenImages) {
  const std::string dir = find_orl();
  if (dir.empty()) {
    GTEST_SKIP() << "ORL faces not found: set TRIDENT_ORL to the att_faces folder (s1..s40, 10 PGM images each), or "
                    "put it in shared/data/att_faces beside the source tree";
  }
  ImageFolder all(dir);
  ASSERT_EQ(all.num_classes(), 40);
  ASSERT_EQ(all.size(), 400);
  EXPECT_EQ(all.images().sizes(), (Shape{400, 1, 112, 92}));
  EXPECT_EQ(all.class_names().front(), "s1");
  EXPECT_EQ(all.class_names()[1], "s2");
  EXPECT_EQ(all.class_names().back(), "s40");
  const std::vector<std::int64_t> labels = all.labels().to_vector<std::int64_t>();
  for (std::int64_t i = 0; i < 400; ++i) ASSERT_EQ(labels[static_cast<std::size_t>(i)], i / 10);
  const std::vector<float> v = all.images().to_vector<float>();
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 1.0f);

  // The ORL protocol: train on s1..s30, test on the unseen s31..s40.
  ImageFolder train(dir, {.last_identity = 30});
  ImageFolder test(dir, {.height = 56, .width = 46, .first_identity = 30});
  EXPECT_EQ(train.size(), 300);
  EXPECT_EQ(train.class_names().back(), "s30");
  EXPECT_EQ(test.size(), 100);
  EXPECT_EQ(test.class_names().front(), "s31");
  EXPECT_EQ(test.images().sizes(), (Shape{100, 1, 56, 46}));
  EXPECT_TRUE(testing::all_close(test.get(0).data, resize_image(all.get(300).data, 56, 46), 0, 0));
}

}  // namespace
}  // namespace trident::data
