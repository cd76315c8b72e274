// Grey-scale image datasets held in memory, and the image files behind them.
//
// ImageFolder reads a folder of identities (or classes), one subfolder per identity, e.g. the ORL / AT&T faces:
//   att_faces/s1/1.pgm ... att_faces/s1/10.pgm   att_faces/s2/...   ...   att_faces/s40/10.pgm
// Every image becomes a float32 [1, H, W] tensor with values in [0, 1] (colour is converted to grey); its label is
// the index of its subfolder in natural order (s1, s2, ..., s10 -- not s1, s10, s2), and class_names() gives the
// names. Files of a subfolder are taken in natural order too, so example order is reproducible.
//
// Formats: PGM (P2 text and P5 binary, any maxval up to 65535) with trident's own reader; PNG, JPEG and BMP through
// stb_image. Other files (README, .DS_Store, ...) are skipped; hidden entries (names starting with '.') too.
//
//   // ORL protocol: 30 identities to train on, the other 10 to test verification on unseen people.
//   data::ImageFolder train(dir, {.last_identity = 30});
//   data::ImageFolder test(dir, {.first_identity = 30});
//   data::ImageFolder small(dir, {.height = 56, .width = 46});  // resized on load
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trident/data/dataset.h"

namespace trident::data {

// ---- datasets -----------------------------------------------------------------------------------------------------

// Examples are float32 [1, H, W] images with values in [0, 1], all of one size, with int64 labels in
// [0, num_classes()). The base of ImageFolder and SyntheticFaces (data/synthetic_faces.h).
class ImageDataset : public Dataset {
 public:
  std::int64_t size() const override { return images_.size(0); }
  Example get(std::int64_t index) const override;  // data: a [1, H, W] view into images()
  // One contiguous copy per image into [B, 1, H, W].
  Batch get_batch(const std::vector<std::int64_t>& indices) const override;
  Tensor labels() const override { return labels_; }

  const Tensor& images() const { return images_; }  // float32 [N, 1, H, W], contiguous
  const std::vector<std::string>& class_names() const { return class_names_; }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names_.size()); }
  std::int64_t height() const { return images_.size(2); }
  std::int64_t width() const { return images_.size(3); }

 protected:
  // images: float32 [N, 1, H, W]; labels: int64 [N] in [0, class_names.size()). `who` names the dataset in errors.
  ImageDataset(std::string who, Tensor images, Tensor labels, std::vector<std::string> class_names);

 private:
  std::string who_;
  Tensor images_;
  Tensor labels_;
  std::vector<std::string> class_names_;
};

struct ImageFolderOptions {
  // Size of every example. 0 and 0: the images' own size (then all images must have the same size). Otherwise both
  // must be > 0 and every image is resized to height x width with resize_image.
  std::int64_t height = 0;
  std::int64_t width = 0;
  // Non-empty: only these subfolders (each must exist), still labelled in natural order of their names.
  std::vector<std::string> identities = {};
  // Then only the identities [first_identity, last_identity) of the (selected) subfolders in natural order;
  // last_identity = -1 means through the last one. Labels restart at 0 within the selection.
  std::int64_t first_identity = 0;
  std::int64_t last_identity = -1;
};

class ImageFolder : public ImageDataset {
 public:
  // Reads every image of the selected subfolders of `root`. Throws a trident::Error when the folder is missing, has
  // no subfolders, a selected subfolder has no image, an image cannot be read or decoded (naming the file and the
  // decoder's reason), or images differ in size while no resize was asked for.
  explicit ImageFolder(const std::string& root, ImageFolderOptions options = {});

  const std::string& root() const { return root_; }
  const std::vector<std::string>& paths() const { return paths_; }  // the file of each example

 private:
  struct Loaded;  // what the constructor reads, before the base is built from it
  ImageFolder(std::string root, Loaded loaded);
  static Loaded load(const std::string& root, const ImageFolderOptions& options);
  std::string root_;
  std::vector<std::string> paths_;
};

// ---- single images ------------------------------------------------------------------------------------------------

// Natural ("version") order: runs of digits compare by their numeric value, so "s2" < "s10" and "img9" < "img10";
// everything else compares byte-wise. Ties (e.g. "s01" vs "s1") are broken by plain string order.
bool natural_less(const std::string& a, const std::string& b);

// One image file as float32 [1, H, W] in [0, 1], grey-scale (colour: stb_image's luma, (77 R + 150 G + 29 B) / 256).
// The format comes from the file's contents: "P2"/"P5" PGM, else PNG/JPEG/BMP via stb_image. Throws a trident::Error
// naming the file and the reason when it cannot be opened or decoded.
Tensor read_image(const std::string& path);

// Whether `path` has an extension read_image is meant for: .pgm .png .jpg .jpeg .bmp (any case).
bool is_image_file(const std::string& path);

// image: float32 [C, H, W] -> [C, height, width]. Separable resampling: along an axis that shrinks, each output
// pixel is the area-weighted average of the input pixels it covers (box filter, no aliasing); along an axis that
// grows, bilinear interpolation with pixel centres at i + 0.5. Same size: a contiguous copy.
Tensor resize_image(const Tensor& image, std::int64_t height, std::int64_t width);

// Tiles images [N, 1, H, W] (float32) into one [1, rows * (H + pad) + pad, columns * (W + pad) + pad] picture, row by
// row, `columns` per row, separated by `pad` pixels of `background`.
Tensor image_grid(const Tensor& images, std::int64_t columns, std::int64_t pad = 2, float background = 1.0f);

// Write a grey image float32 [1, H, W] or [H, W] (values clamped to [0, 1], rounded to 0..255) atomically
// (core/io/atomic_file.h): binary PGM (P5, maxval 255), 8-bit grey PNG, or baseline JPEG (quality 1..100).
void write_pgm(const std::string& path, const Tensor& image);
void write_png(const std::string& path, const Tensor& image);
void write_jpeg(const std::string& path, const Tensor& image, int quality = 95);

}  // namespace trident::data
