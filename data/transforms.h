// Transforms: per-batch preprocessing and augmentation of images.
//
// A transform maps a float batch of images [B, H, W] or [B, C, H, W] to a new batch of the same shape; the input is
// never modified. Random transforms draw their parameters from the RandomEngine they are given, image by image in
// order, so a batch's augmentation depends only on that engine's seed (a DataLoader derives it from its seed, the
// epoch and the batch number: Note [Reproducible data randomness]). All the same channel of an image get the same
// parameters. Transforms are data preparation, not part of a model: they record no autograd history. CPU only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "trident/core/tensor.h"
#include "trident/data/random_engine.h"

namespace trident::data {

class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor apply(const Tensor& batch, RandomEngine& engine) const = 0;
  Tensor operator()(const Tensor& batch, RandomEngine& engine) const { return apply(batch, engine); }
  // With an engine made from `seed` alone: handy outside a DataLoader.
  Tensor operator()(const Tensor& batch, std::uint64_t seed = 0) const;
};

using TransformPtr = std::shared_ptr<const Transform>;

// (x - mean[c]) / std[c] per channel c. One value applies to every channel; otherwise the batch must be
// [B, C, H, W] with C values. For MNIST: Normalize({0.1307}, {0.3081}).
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  std::vector<double> mean_, std_;
};

// Moves each image by a whole number of pixels dx, dy, each drawn uniformly from [-max_pixels, max_pixels]; pixels
// shifted in from outside are 0.
class RandomShift : public Transform {
 public:
  explicit RandomShift(std::int64_t max_pixels);
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  std::int64_t max_pixels_;
};

// The parameters of one affine image transform, about the image centre ((W-1)/2, (H-1)/2):
//   rotate counter-clockwise (as seen on screen) by angle_degrees, scale by `scale`, then move by (translate_x,
//   translate_y) pixels (x to the right, y down).
struct AffineParams {
  double angle_degrees = 0;
  double translate_x = 0;
  double translate_y = 0;
  double scale = 1;
};

// For each image: angle uniform in [-degrees, degrees], translation uniform in [-translate.first * W,
// translate.first * W] horizontally and [-translate.second * H, translate.second * H] vertically (fractions of the
// size, as in torchvision), scale uniform in [scale.first, scale.second]. Bilinear sampling, zero fill outside.
// With degrees 0, translate {0, 0} and scale {1, 1} it is the identity, exactly.
class RandomAffine : public Transform {
 public:
  explicit RandomAffine(double degrees, std::pair<double, double> translate = {0, 0},
                        std::pair<double, double> scale = {1, 1});
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  double degrees_;
  std::pair<double, double> translate_, scale_;
};

// Mirrors each image left-right with probability p (faces, most natural images; not digits or text).
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  double p_;
};

// Random erasing (Zhong et al. 2020, "Random Erasing Data Augmentation"): with probability p, fills one rectangle of
// each image with a single value, so the network learns not to rely on any one region (an occlusion: glasses, a hand,
// a shadow). Per image, always drawn in this order: u (erase when u < p), the area as a fraction of the image, uniform
// in [area.first, area.second], the aspect ratio h / w, log-uniform in [aspect.first, aspect.second], the rectangle's
// position, uniform over the places it fits, and the fill value, uniform in [fill.first, fill.second] (the same for
// all channels). Sides are rounded to whole pixels and clipped to the image.
struct RandomErasingOptions {
  double p = 0.5;
  std::pair<double, double> area = {0.02, 0.2};
  std::pair<double, double> aspect = {0.3, 3.3};
  std::pair<double, double> fill = {0, 1};  // images in [0, 1]: any grey level
};

class RandomErasing : public Transform {
 public:
  explicit RandomErasing(RandomErasingOptions options = {});
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  RandomErasingOptions options_;
};

// Applies transforms one after the other, all drawing from the same engine.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  std::vector<TransformPtr> transforms_;
};

// Any function of the batch (deterministic): Lambda([](const Tensor& x) { return x.flatten(1); }).
class Lambda : public Transform {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn);
  Tensor apply(const Tensor& batch, RandomEngine& engine) const override;

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

// The deterministic operations behind the random transforms, for a whole batch with one set of parameters.
// images: float [B, H, W] or [B, C, H, W] -> same shape.
Tensor shift_images(const Tensor& images, std::int64_t dx, std::int64_t dy);
Tensor affine_images(const Tensor& images, const AffineParams& params);
Tensor flip_images(const Tensor& images);  // every image mirrored left-right

}  // namespace trident::data
