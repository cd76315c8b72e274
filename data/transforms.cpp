#include "trident/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "trident/core/autograd/grad_mode.h"

namespace trident::data {

namespace {

// A batch seen as [batch, channels, height, width] (channels = 1 for a [B, H, W] batch).
struct ImageGeometry {
  std::int64_t batch = 0, channels = 1, height = 0, width = 0;
  std::int64_t plane() const { return height * width; }
};

ImageGeometry image_geometry(const Tensor& x, const char* who) {
  TRIDENT_CHECK(x.defined(), "{}: undefined tensor", who);
  TRIDENT_CHECK(x.device().is_cpu(), "{}: transforms run on CPU tensors, got a tensor on {}", who, x.device());
  TRIDENT_CHECK(is_floating(x.dtype()), "{}: expected a float32 or float64 batch, got {}", who, x.dtype());
  TRIDENT_CHECK(x.dim() == 3 || x.dim() == 4, "{}: expected a batch [B, H, W] or [B, C, H, W], got {}", who,
                shape_str(x.sizes()));
  ImageGeometry g;
  g.batch = x.size(0);
  if (x.dim() == 4) g.channels = x.size(1);
  g.height = x.size(-2);
  g.width = x.size(-1);
  return g;
}

// A contiguous input to read from (a view is copied) and an output of the same shape, neither tracked by autograd.
std::pair<Tensor, Tensor> source_and_output(const Tensor& x) {
  NoGradGuard no_grad;
  Tensor src = x.detach().contiguous();
  return {src, empty(x.sizes(), {.dtype = x.dtype()})};
}

// One plane moved by (dx, dy): out[y][x] = in[y - dy][x - dx], 0 where that falls outside.
template <typename T>
void shift_plane(const T* in, T* out, std::int64_t height, std::int64_t width, std::int64_t dx, std::int64_t dy) {
  for (std::int64_t y = 0; y < height; ++y) {
    const std::int64_t sy = y - dy;
    T* row = out + y * width;
    if (sy < 0 || sy >= height) {
      for (std::int64_t x = 0; x < width; ++x) row[x] = T(0);
      continue;
    }
    const T* src_row = in + sy * width;
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t sx = x - dx;
      row[x] = (sx >= 0 && sx < width) ? src_row[sx] : T(0);
    }
  }
}

// Note [Affine sampling]
// Each output pixel p' (pixel centres at integer coordinates, x right, y down) takes the value of the input at the
// point p that the forward map
//   p' = c + t + s * R(theta) (p - c),   R(theta) = [[cos, sin], [-sin, cos]]  (counter-clockwise on screen, y down)
// sends to it, i.e. the inverse map
//   p = c + R(-theta) (p' - c - t) / s.
// p is generally not on the pixel grid: the value is interpolated bilinearly from the four surrounding pixels, those
// outside the image counting as 0 (zero fill). Weights that are exactly 0 are skipped, so with the identity
// parameters every p lands on its own pixel with weight 1 and the result equals the input bit for bit.
struct AffineSampler {
  double cos_t, sin_t, inv_scale, cx, cy, tx, ty;

  explicit AffineSampler(const AffineParams& a, std::int64_t height, std::int64_t width) {
    const double theta = a.angle_degrees * std::numbers::pi / 180.0;
    cos_t = std::cos(theta);
    sin_t = std::sin(theta);
    inv_scale = 1.0 / a.scale;
    cx = (static_cast<double>(width) - 1) / 2;
    cy = (static_cast<double>(height) - 1) / 2;
    tx = a.translate_x;
    ty = a.translate_y;
  }

  template <typename T>
  void apply(const T* in, T* out, std::int64_t height, std::int64_t width, std::int64_t channels) const {
    const std::int64_t plane = height * width;
    for (std::int64_t y = 0; y < height; ++y) {
      for (std::int64_t x = 0; x < width; ++x) {
        const double u = (static_cast<double>(x) - cx - tx) * inv_scale;
        const double v = (static_cast<double>(y) - cy - ty) * inv_scale;
        const double sx = cx + cos_t * u - sin_t * v;
        const double sy = cy + sin_t * u + cos_t * v;
        if (!(sx > -1 && sx < static_cast<double>(width) && sy > -1 && sy < static_cast<double>(height))) {
          // No neighbour inside the image (or a non-finite position from an extreme scale): zero fill.
          for (std::int64_t c = 0; c < channels; ++c) out[c * plane + y * width + x] = T(0);
          continue;
        }
        const double fx0 = std::floor(sx), fy0 = std::floor(sy);
        const double wx1 = sx - fx0, wy1 = sy - fy0;
        const double wx[2] = {1 - wx1, wx1}, wy[2] = {1 - wy1, wy1};
        const auto x0 = static_cast<std::int64_t>(fx0), y0 = static_cast<std::int64_t>(fy0);
        for (std::int64_t c = 0; c < channels; ++c) {
          const T* src = in + c * plane;
          double acc = 0;
          for (int j = 0; j < 2; ++j) {
            const std::int64_t yy = y0 + j;
            if (wy[j] == 0 || yy < 0 || yy >= height) continue;
            for (int i = 0; i < 2; ++i) {
              const std::int64_t xx = x0 + i;
              if (wx[i] == 0 || xx < 0 || xx >= width) continue;
              acc += wy[j] * wx[i] * static_cast<double>(src[yy * width + xx]);
            }
          }
          out[c * plane + y * width + x] = static_cast<T>(acc);
        }
      }
    }
  }
};

void check_affine_params(const AffineParams& a, const char* who) {
  TRIDENT_CHECK(std::isfinite(a.angle_degrees) && std::isfinite(a.translate_x) && std::isfinite(a.translate_y),
                "{}: angle and translation must be finite, got angle {}, translate ({}, {})", who, a.angle_degrees,
                a.translate_x, a.translate_y);
  TRIDENT_CHECK(std::isfinite(a.scale) && a.scale > 0, "{}: scale must be > 0, got {}", who, a.scale);
}

}  // namespace

Tensor Transform::operator()(const Tensor& batch, std::uint64_t seed) const {
  RandomEngine engine(seed, {kAugmentStream});
  return apply(batch, engine);
}

// ---- Normalize
// -------------------------------------------------------------------------------------------------------

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  TRIDENT_CHECK(!mean_.empty() && mean_.size() == std_.size(),
                "Normalize: mean and std need the same number (>= 1) of values, got {} and {}", mean_.size(),
                std_.size());
  for (std::size_t c = 0; c < std_.size(); ++c) {
    TRIDENT_CHECK(std::isfinite(mean_[c]) && std::isfinite(std_[c]) && std_[c] > 0,
                  "Normalize: channel {}: need a finite mean and std > 0, got mean {} and std {}", c, mean_[c],
                  std_[c]);
  }
}

// batch: [B, H, W] or [B, C, H, W] -> same
Tensor Normalize::apply(const Tensor& batch, RandomEngine&) const {
  const ImageGeometry g = image_geometry(batch, "Normalize");
  const auto n_values = static_cast<std::int64_t>(mean_.size());
  TRIDENT_CHECK(n_values == 1 || n_values == g.channels,
                "Normalize: {} mean/std values for a batch {} with {} channel(s); give 1 or {}", n_values,
                shape_str(batch.sizes()), g.channels, g.channels);
  auto [src, out] = source_and_output(batch);
  dispatch_floating(batch.dtype(), "Normalize", [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (std::int64_t b = 0; b < g.batch; ++b) {
      for (std::int64_t c = 0; c < g.channels; ++c) {
        const auto k = static_cast<std::size_t>(n_values == 1 ? 0 : c);
        const T mean = static_cast<T>(mean_[k]), std = static_cast<T>(std_[k]);
        const std::int64_t base = (b * g.channels + c) * g.plane();
        for (std::int64_t i = 0; i < g.plane(); ++i) o[base + i] = (in[base + i] - mean) / std;
      }
    }
  });
  return out;
}

// ---- shifts
// ----------------------------------------------------------------------------------------------------------

namespace {
// Shifts image b of the batch by shifts[b] = (dx, dy).
Tensor shift_each(const Tensor& batch, const ImageGeometry& g,
                  const std::vector<std::pair<std::int64_t, std::int64_t>>& shifts, const char* who) {
  auto [src, out] = source_and_output(batch);
  dispatch_floating(batch.dtype(), who, [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const auto [dx, dy] = shifts[static_cast<std::size_t>(b)];
      for (std::int64_t c = 0; c < g.channels; ++c) {
        const std::int64_t base = (b * g.channels + c) * g.plane();
        shift_plane(in + base, o + base, g.height, g.width, dx, dy);
      }
    }
  });
  return out;
}
}  // namespace

Tensor shift_images(const Tensor& images, std::int64_t dx, std::int64_t dy) {
  const ImageGeometry g = image_geometry(images, "shift_images");
  return shift_each(images, g, std::vector<std::pair<std::int64_t, std::int64_t>>(g.batch, {dx, dy}), "shift_images");
}

RandomShift::RandomShift(std::int64_t max_pixels) : max_pixels_(max_pixels) {
  TRIDENT_CHECK(max_pixels >= 0, "RandomShift: max_pixels must be >= 0, got {}", max_pixels);
}

// batch: [B, H, W] or [B, C, H, W] -> same
Tensor RandomShift::apply(const Tensor& batch, RandomEngine& engine) const {
  const ImageGeometry g = image_geometry(batch, "RandomShift");
  std::vector<std::pair<std::int64_t, std::int64_t>> shifts(static_cast<std::size_t>(g.batch));
  for (auto& [dx, dy] : shifts) {
    dx = engine.uniform_int(-max_pixels_, max_pixels_);
    dy = engine.uniform_int(-max_pixels_, max_pixels_);
  }
  return shift_each(batch, g, shifts, "RandomShift");
}

// ---- affine
// ----------------------------------------------------------------------------------------------------------

namespace {
Tensor affine_each(const Tensor& batch, const ImageGeometry& g, const std::vector<AffineParams>& params,
                   const char* who) {
  auto [src, out] = source_and_output(batch);
  dispatch_floating(batch.dtype(), who, [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const AffineSampler sampler(params[static_cast<std::size_t>(b)], g.height, g.width);
      const std::int64_t base = b * g.channels * g.plane();
      sampler.apply(in + base, o + base, g.height, g.width, g.channels);
    }
  });
  return out;
}
}  // namespace

Tensor affine_images(const Tensor& images, const AffineParams& params) {
  const ImageGeometry g = image_geometry(images, "affine_images");
  check_affine_params(params, "affine_images");
  return affine_each(images, g, std::vector<AffineParams>(g.batch, params), "affine_images");
}

RandomAffine::RandomAffine(double degrees, std::pair<double, double> translate, std::pair<double, double> scale)
    : degrees_(degrees), translate_(translate), scale_(scale) {
  TRIDENT_CHECK(std::isfinite(degrees) && degrees >= 0 && degrees <= 180,
                "RandomAffine: degrees must be in [0, 180], got {}", degrees);
  TRIDENT_CHECK(translate.first >= 0 && translate.first <= 1 && translate.second >= 0 && translate.second <= 1,
                "RandomAffine: translate fractions must be in [0, 1], got ({}, {})", translate.first, translate.second);
  TRIDENT_CHECK(
      std::isfinite(scale.first) && std::isfinite(scale.second) && scale.first > 0 && scale.first <= scale.second,
      "RandomAffine: scale range must satisfy 0 < min <= max, got ({}, {})", scale.first, scale.second);
}

// batch: [B, H, W] or [B, C, H, W] -> same
Tensor RandomAffine::apply(const Tensor& batch, RandomEngine& engine) const {
  const ImageGeometry g = image_geometry(batch, "RandomAffine");
  const double max_dx = translate_.first * static_cast<double>(g.width);
  const double max_dy = translate_.second * static_cast<double>(g.height);
  std::vector<AffineParams> params(static_cast<std::size_t>(g.batch));
  for (AffineParams& p : params) {
    // Always four draws per image, in this order, so the stream does not depend on which ranges are empty.
    p.angle_degrees = engine.uniform(-degrees_, degrees_);
    p.translate_x = engine.uniform(-max_dx, max_dx);
    p.translate_y = engine.uniform(-max_dy, max_dy);
    p.scale = engine.uniform(scale_.first, scale_.second);
  }
  return affine_each(batch, g, params, "RandomAffine");
}

// ---- flips
// ----------------------------------------------------------------------------------------------------------

namespace {
// Mirrors image b of the batch left-right where flip[b], copies it otherwise.
Tensor flip_each(const Tensor& batch, const ImageGeometry& g, const std::vector<bool>& flip, const char* who) {
  auto [src, out] = source_and_output(batch);
  dispatch_floating(batch.dtype(), who, [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const std::int64_t rows = g.channels * g.height;
    for (std::int64_t b = 0; b < g.batch; ++b) {
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* from = in + (b * rows + r) * g.width;
        T* to = o + (b * rows + r) * g.width;
        if (flip[static_cast<std::size_t>(b)]) {
          std::reverse_copy(from, from + g.width, to);
        } else {
          std::copy(from, from + g.width, to);
        }
      }
    }
  });
  return out;
}
}  // namespace

Tensor flip_images(const Tensor& images) {
  const ImageGeometry g = image_geometry(images, "flip_images");
  return flip_each(images, g, std::vector<bool>(static_cast<std::size_t>(g.batch), true), "flip_images");
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  TRIDENT_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got {}", p);
}

// batch: [B, H, W] or [B, C, H, W] -> same
Tensor RandomHorizontalFlip::apply(const Tensor& batch, RandomEngine& engine) const {
  const ImageGeometry g = image_geometry(batch, "RandomHorizontalFlip");
  std::vector<bool> flip(static_cast<std::size_t>(g.batch));
  for (std::size_t b = 0; b < flip.size(); ++b) flip[b] = engine.uniform() < p_;
  return flip_each(batch, g, flip, "RandomHorizontalFlip");
}

// ---- erasing
// ---------------------------------------------------------------------------------------------------------

RandomErasing::RandomErasing(RandomErasingOptions options) : options_(options) {
  const auto& o = options_;
  TRIDENT_CHECK(o.p >= 0 && o.p <= 1, "RandomErasing: p must be in [0, 1], got {}", o.p);
  TRIDENT_CHECK(o.area.first > 0 && o.area.first <= o.area.second && o.area.second <= 1,
                "RandomErasing: area fractions must satisfy 0 < min <= max <= 1, got ({}, {})", o.area.first,
                o.area.second);
  TRIDENT_CHECK(std::isfinite(o.aspect.second) && o.aspect.first > 0 && o.aspect.first <= o.aspect.second,
                "RandomErasing: aspect ratios must satisfy 0 < min <= max, got ({}, {})", o.aspect.first,
                o.aspect.second);
  TRIDENT_CHECK(std::isfinite(o.fill.first) && std::isfinite(o.fill.second) && o.fill.first <= o.fill.second,
                "RandomErasing: fill range must be finite with min <= max, got ({}, {})", o.fill.first, o.fill.second);
}

// batch: [B, H, W] or [B, C, H, W] -> same
Tensor RandomErasing::apply(const Tensor& batch, RandomEngine& engine) const {
  const ImageGeometry g = image_geometry(batch, "RandomErasing");
  struct Box {
    std::int64_t y0 = 0, x0 = 0, h = 0, w = 0;  // h = 0: not erased
    double value = 0;
  };
  std::vector<Box> boxes(static_cast<std::size_t>(g.batch));
  const auto height = static_cast<double>(g.height), width = static_cast<double>(g.width);
  for (Box& box : boxes) {
    const double u = engine.uniform();
    const double area = engine.uniform(options_.area.first, options_.area.second) * height * width;
    const double aspect = std::exp(engine.uniform(std::log(options_.aspect.first), std::log(options_.aspect.second)));
    const double fy = engine.uniform(), fx = engine.uniform();
    const double value = engine.uniform(options_.fill.first, options_.fill.second);
    if (u >= options_.p) continue;
    box.h = std::clamp<std::int64_t>(std::llround(std::sqrt(area * aspect)), 1, g.height);
    box.w = std::clamp<std::int64_t>(std::llround(std::sqrt(area / aspect)), 1, g.width);
    box.y0 = std::min(g.height - box.h, static_cast<std::int64_t>(fy * static_cast<double>(g.height - box.h + 1)));
    box.x0 = std::min(g.width - box.w, static_cast<std::int64_t>(fx * static_cast<double>(g.width - box.w + 1)));
    box.value = value;
  }
  auto [src, out] = source_and_output(batch);
  dispatch_floating(batch.dtype(), "RandomErasing", [&]<typename T>() {
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    std::copy(in, in + src.numel(), o);
    for (std::int64_t b = 0; b < g.batch; ++b) {
      const Box& box = boxes[static_cast<std::size_t>(b)];
      for (std::int64_t c = 0; c < g.channels; ++c) {
        T* plane = o + (b * g.channels + c) * g.plane();
        for (std::int64_t y = box.y0; y < box.y0 + box.h; ++y) {
          std::fill(plane + y * g.width + box.x0, plane + y * g.width + box.x0 + box.w, static_cast<T>(box.value));
        }
      }
    }
  });
  return out;
}

// ---- composition
// -----------------------------------------------------------------------------------------------------

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    TRIDENT_CHECK(transforms_[i] != nullptr, "Compose: transform {} is null", i);
  }
}

Tensor Compose::apply(const Tensor& batch, RandomEngine& engine) const {
  Tensor x = batch;
  for (const TransformPtr& t : transforms_) x = t->apply(x, engine);
  return x;
}

Lambda::Lambda(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {
  TRIDENT_CHECK(static_cast<bool>(fn_), "Lambda: empty function");
}

Tensor Lambda::apply(const Tensor& batch, RandomEngine&) const {
  NoGradGuard no_grad;
  return fn_(batch);
}

}  // namespace trident::data
