// SyntheticFaces: procedurally drawn grey-scale face images, a stand-in for a face data set (ORL / AT&T) that needs no
// download, for the face-verification example and for tests.
//
// Every identity is a set of face parameters (head shape and size, skin tone, hair darkness, hair line and volume,
// eye position/spacing/size/darkness, brows, nose length and width, mouth position/width/curvature/lips, ears,
// sometimes glasses or a moustache), drawn from (seed, identity). Every image of an identity adds nuisances drawn
// from (seed, identity, image): a shift, a scale, a small in-plane rotation, a small turn of the head (yaw/pitch: the
// features move inside the outline), an expression (smile/frown, open mouth, eye openness, raised brows), a lighting
// gradient and level, the background and clothing tone, and pixel noise. The nuisances are of the same size as the
// differences between identities, so telling identities apart has to be learnt; raw pixel distance does it poorly.
// Images are rendered with anti-aliased ellipses and strokes (a small rasteriser working on signed distances).
//
// Determinism: the same options give the same pixels (on one platform and standard library: the rendering uses
// std::sin/cos/exp). Identity k looks the same in every data set of the same seed whatever the options' first
// identity, count or image size, so disjoint train/test identities come from one seed:
//   data::SyntheticFaces train({.identities = 30, .images_per_identity = 10, .seed = 7});
//   data::SyntheticFaces test({.identities = 10, .images_per_identity = 10, .seed = 7, .first_identity = 30});
// Examples are ordered identity by identity (example i is identity i / images_per_identity); labels are
// 0..identities-1 within the data set, class_names() are "face<k>" with k the global identity number.
#pragma once

#include <cstdint>

#include "trident/data/image_folder.h"

namespace trident::data {

struct SyntheticFacesOptions {
  std::int64_t identities = 40;
  std::int64_t images_per_identity = 10;
  std::int64_t height = 64;  // e.g. 64 x 64, or ORL's 112 x 92
  std::int64_t width = 64;
  std::uint64_t seed = 0;
  std::int64_t first_identity = 0;  // the data set holds identities first_identity .. first_identity + identities - 1
  double nuisance = 1.0;            // scales every per-image variation (0: all images of an identity equal, no noise)
  double noise = 0.03;              // standard deviation of the Gaussian pixel noise (before nuisance scaling)
};

// The parameters of one identity, in face units (1 = 0.56 x min(height, width / 0.82) pixels: the head is about 2/3
// of the image width; x to the right, y down, origin at the face centre); intensities in [0, 1].
struct FaceIdentity {
  double face_ry, face_aspect, jaw_taper;            // head ellipse half-height, width / height, narrowing of the chin
  double skin;                                       // skin intensity
  double hair, hair_line, hair_volume, hair_length;  // darkness (intensity), forehead hair line y, volume, length
  double eye_y, eye_dx, eye_rx, eye_ry, iris;        // eye centre y, half distance, radii, iris intensity
  double brow_dy, brow_thick, brow_tilt, brow_dark;  // brow height above the eye, thickness, tilt, intensity
  double nose_y, nose_w;                             // bottom of the nose, its half width
  double mouth_y, mouth_w, mouth_curve, lip;         // mouth centre y, half width, curvature (+: smile), lip height
  double ear_y, ear_size;
  bool glasses, moustache;
};

// The per-image variation.
struct FaceNuisance {
  double dx, dy, scale, angle;         // shift (face units), scale factor, rotation (radians)
  double yaw, pitch;                   // feature displacement inside the head outline (face units)
  double smile, mouth_open, eye_open;  // expression: added curvature, mouth opening, eye openness factor
  double brow_raise;
  double light, light_dir, light_gradient;  // overall level, direction (radians), strength across the image
  double background, clothes;               // intensities
};

FaceIdentity sample_face_identity(std::uint64_t seed, std::int64_t identity);
// `amount` scales every variation (0: the canonical pose and neutral expression, even light).
FaceNuisance sample_face_nuisance(std::uint64_t seed, std::int64_t identity, std::int64_t image, double amount = 1.0);
// Draws one face: float32 [1, height, width] in [0, 1], without noise.
Tensor render_face(const FaceIdentity& id, const FaceNuisance& nuisance, std::int64_t height, std::int64_t width);

class SyntheticFaces : public ImageDataset {
 public:
  explicit SyntheticFaces(SyntheticFacesOptions options = {});
  const SyntheticFacesOptions& options() const { return options_; }

 private:
  SyntheticFacesOptions options_;
};

}  // namespace trident::data
