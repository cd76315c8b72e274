#include "trident/data/synthetic_faces.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "trident/data/random_engine.h"
#include "trident/ops/factory.h"

namespace trident::data {

namespace {

constexpr std::uint64_t kFacesStream = 0x46414345530aULL;  // "FACES"
constexpr std::uint64_t kIdentityWord = 1, kNuisanceWord = 2, kNoiseWord = 3;

struct Vec {
  double x, y;
};

double clamp01(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
double smoothstep(double e0, double e1, double x) {
  const double t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}

// ---- the rasteriser -----------------------------------------------------------------------------------------------
//
// Note [Anti-aliased shapes from signed distances]
// Every shape is a signed distance d(p) in face units (negative inside). A pixel of side `aa` (face units) centred at
// p is covered by the fraction clamp(0.5 - d / aa, 0, 1) of the shape: exact for a straight edge through the pixel,
// a good approximation for edges whose curvature radius exceeds a pixel. `soft` widens the ramp for shading blobs.
// Shapes are painted back to front: pixel = pixel (1 - a) + value a, with a = opacity x coverage.
// Ellipse: the exact distance needs a quartic; the gradient-normalised estimate k0 (k0 - 1) / k1 with
// k0 = |p / r| and k1 = |p / r^2| (Inigo Quilez's) is exact on the boundary, which is all the coverage needs.

class Canvas {
 public:
  Canvas(std::int64_t height, std::int64_t width, const FaceNuisance& n)
      : h_(height), w_(width), px_(static_cast<std::size_t>(height * width), n.background) {
    // Portrait frame: the face unit is 0.56 x the smaller of height and width / 0.82 (a head about 2/3 of the width).
    unit_ = 0.56 * std::min(static_cast<double>(height), static_cast<double>(width) / 0.82) * n.scale;
    aa_ = 1.0 / unit_;
    cos_ = std::cos(n.angle);
    sin_ = std::sin(n.angle);
    cx_ = 0.5 * static_cast<double>(width) + n.dx * unit_;
    cy_ = 0.5 * static_cast<double>(height) + (n.dy + 0.04) * unit_;
  }

  double aa() const { return aa_; }
  std::vector<double>& pixels() { return px_; }

  // Face coordinates of the centre of pixel (x, y).
  Vec to_face(std::int64_t x, std::int64_t y) const {
    const double u = (static_cast<double>(x) + 0.5 - cx_) / unit_, v = (static_cast<double>(y) + 0.5 - cy_) / unit_;
    return {cos_ * u + sin_ * v, -sin_ * u + cos_ * v};
  }

  // Paints the pixels within `radius` (face units) of `centre`: coverage(p) in [0, 1], value(p), opacity.
  template <typename Coverage, typename Value>
  void paint(Vec centre, double radius, double opacity, Coverage coverage, Value value) {
    const double px = cx_ + unit_ * (cos_ * centre.x - sin_ * centre.y);
    const double py = cy_ + unit_ * (sin_ * centre.x + cos_ * centre.y);
    const double r = radius * unit_ + 2;
    const auto x0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(px - r)));
    const auto x1 = std::min<std::int64_t>(w_ - 1, static_cast<std::int64_t>(std::ceil(px + r)));
    const auto y0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(py - r)));
    const auto y1 = std::min<std::int64_t>(h_ - 1, static_cast<std::int64_t>(std::ceil(py + r)));
    for (std::int64_t y = y0; y <= y1; ++y) {
      for (std::int64_t x = x0; x <= x1; ++x) {
        const Vec p = to_face(x, y);
        const double a = opacity * coverage(p);
        if (a <= 0) continue;
        double& dst = px_[static_cast<std::size_t>(y * w_ + x)];
        dst = dst * (1 - a) + value(p) * a;
      }
    }
  }
  template <typename Coverage>
  void paint(Vec centre, double radius, double opacity, Coverage coverage, double value) {
    paint(centre, radius, opacity, coverage, [value](Vec) { return value; });
  }

  double coverage(double d, double soft = 0) const { return clamp01(0.5 - d / (aa_ + soft)); }

 private:
  std::int64_t h_, w_;
  std::vector<double> px_;
  double unit_, aa_, cos_, sin_, cx_, cy_;
};

// Signed distance to an ellipse centred at c with radii (rx, ry), rotated by `angle`.
double ellipse_distance(Vec p, Vec c, double rx, double ry, double angle = 0) {
  const double ca = std::cos(angle), sa = std::sin(angle);
  const double u = ca * (p.x - c.x) + sa * (p.y - c.y), v = -sa * (p.x - c.x) + ca * (p.y - c.y);
  const double k0 = std::hypot(u / rx, v / ry);
  const double k1 = std::hypot(u / (rx * rx), v / (ry * ry));
  if (k1 < 1e-12) return -std::min(rx, ry);
  return k0 * (k0 - 1) / k1;
}

// Distance to a polyline, minus a half thickness interpolated along it (thick[i] at point i).
double stroke_distance(Vec p, const std::vector<Vec>& pts, const std::vector<double>& thick) {
  double best = 1e9;
  for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
    const Vec a = pts[i], b = pts[i + 1];
    const double ex = b.x - a.x, ey = b.y - a.y;
    const double len2 = ex * ex + ey * ey;
    const double t = len2 > 0 ? std::clamp(((p.x - a.x) * ex + (p.y - a.y) * ey) / len2, 0.0, 1.0) : 0.0;
    const double dist = std::hypot(p.x - (a.x + t * ex), p.y - (a.y + t * ey));
    best = std::min(best, dist - (thick[i] + t * (thick[i + 1] - thick[i])));
  }
  return best;
}

// Points of the parabola through (x0, y0 at the ends) bending by `bend` in the middle: y = y0 + bend (1 - s^2),
// s in [-1, 1], rotated by `tilt` around the centre; `n` + 1 points.
std::vector<Vec> arc(Vec centre, double half_width, double bend, double tilt, int n = 8) {
  std::vector<Vec> pts;
  const double ct = std::cos(tilt), st = std::sin(tilt);
  for (int i = 0; i <= n; ++i) {
    const double s = -1 + 2.0 * i / n;
    const double u = s * half_width, v = bend * (1 - s * s);
    pts.push_back({centre.x + ct * u - st * v, centre.y + st * u + ct * v});
  }
  return pts;
}

double box_muller(RandomEngine& rng) {
  const double u1 = 1.0 - rng.uniform();  // (0, 1]
  const double u2 = rng.uniform();
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

}  // namespace

FaceIdentity sample_face_identity(std::uint64_t seed, std::int64_t identity) {
  RandomEngine r(seed, {kFacesStream, kIdentityWord, static_cast<std::uint64_t>(identity)});
  FaceIdentity f{};
  f.face_ry = r.uniform(0.64, 0.76);
  f.face_aspect = r.uniform(0.70, 0.86);
  f.jaw_taper = r.uniform(0.0, 0.28);
  f.skin = r.uniform(0.45, 0.82);
  f.hair = std::min(r.uniform(0.03, 0.5), f.skin - 0.15);  // darker than the skin
  f.hair_line = r.uniform(-0.62, -0.30);
  f.hair_volume = r.uniform(0.0, 0.14);
  f.hair_length = r.uniform(-0.1, 0.55);
  f.eye_y = r.uniform(-0.16, -0.04);
  f.eye_dx = r.uniform(0.19, 0.27);
  f.eye_rx = r.uniform(0.075, 0.105);
  f.eye_ry = f.eye_rx * r.uniform(0.42, 0.62);
  f.iris = r.uniform(0.05, 0.45);
  f.brow_dy = r.uniform(0.09, 0.16);
  f.brow_thick = r.uniform(0.012, 0.03);
  f.brow_tilt = r.uniform(-0.25, 0.25);
  f.brow_dark = std::min(f.skin - 0.15, f.hair + r.uniform(0.0, 0.2));
  f.nose_y = f.eye_y + r.uniform(0.20, 0.34);
  f.nose_w = r.uniform(0.055, 0.10);
  f.mouth_y = f.nose_y + r.uniform(0.13, 0.22);
  f.mouth_w = r.uniform(0.11, 0.20);
  f.mouth_curve = r.uniform(-0.02, 0.045);
  f.lip = r.uniform(0.012, 0.032);
  f.ear_y = f.eye_y + r.uniform(0.02, 0.12);
  f.ear_size = r.uniform(0.09, 0.14);
  f.glasses = r.uniform() < 0.15;
  f.moustache = r.uniform() < 0.15;
  return f;
}

FaceNuisance sample_face_nuisance(std::uint64_t seed, std::int64_t identity, std::int64_t image, double amount) {
  RandomEngine r(
      seed, {kFacesStream, kNuisanceWord, static_cast<std::uint64_t>(identity), static_cast<std::uint64_t>(image)});
  const double a = amount;
  FaceNuisance n{};
  n.dx = a * r.uniform(-0.08, 0.08);
  n.dy = a * r.uniform(-0.07, 0.07);
  n.scale = std::exp(a * r.uniform(-0.08, 0.08));
  n.angle = a * r.uniform(-0.14, 0.14);  // about +-8 degrees
  n.yaw = a * r.uniform(-0.07, 0.07);
  n.pitch = a * r.uniform(-0.04, 0.04);
  n.smile = a * r.uniform(-0.025, 0.04);
  n.mouth_open = r.uniform() < 0.25 * a ? a * r.uniform(0.0, 0.045) : 0.0;
  n.eye_open = 1.0 - a * (r.uniform() < 0.1 ? r.uniform(0.5, 0.9) : r.uniform(0.0, 0.35));
  n.brow_raise = a * r.uniform(-0.015, 0.03);
  n.light = 1.0 + a * r.uniform(-0.18, 0.12);
  n.light_dir = r.uniform(0.0, 2 * std::numbers::pi);
  n.light_gradient = a * r.uniform(0.0, 0.35);
  n.background = 0.25 + a * r.uniform(-0.17, 0.2);
  n.clothes = 0.35 + a * r.uniform(-0.25, 0.35);
  return n;
}

namespace {

// Draws the face into o[height * width]. It runs inside an OpenMP loop, so it throws nothing (its only allocations
// are a few small vectors).
void render_into(const FaceIdentity& f, const FaceNuisance& n, std::int64_t height, std::int64_t width, float* o) {
  Canvas c(height, width, n);
  const double aa = c.aa();
  const double face_rx = f.face_ry * f.face_aspect;
  const Vec head{n.yaw * 0.3, n.pitch * 0.3};
  // The features move with the head's turn more than the outline does.
  const double fx = n.yaw, fy = n.pitch;

  auto head_distance = [&](Vec p) {
    // Egg shape: the half width narrows below the centre by jaw_taper.
    const double v = (p.y - head.y) / f.face_ry;
    const double rx = face_rx * (1 - f.jaw_taper * std::clamp(v, 0.0, 1.0) * std::clamp(v, 0.0, 1.0));
    return ellipse_distance(p, head, rx, f.face_ry);
  };

  // Clothes / shoulders, neck, hair behind the head, ears.
  c.paint(
      {0, 1.45}, 1.6, 1.0,
      [&](Vec p) {
        return c.coverage(ellipse_distance(p, {0, 1.45}, 1.25, 0.75));
      },
      n.clothes);
  c.paint(
      {0, f.face_ry}, 0.7, 1.0,
      [&](Vec p) {
        return c.coverage(ellipse_distance(p, {head.x * 0.5, f.face_ry * 0.9}, face_rx * 0.55, 0.45));
      },
      f.skin * 0.78);
  const Vec hair_c{head.x, head.y - 0.1};
  const double hair_rx = face_rx * 1.08 + f.hair_volume, hair_ry = f.face_ry * 0.98 + f.hair_volume;
  c.paint(
      hair_c, 1.2, 1.0,
      [&](Vec p) {
        return c.coverage(ellipse_distance(p, hair_c, hair_rx, hair_ry)) *
               smoothstep(f.hair_length + 0.05, f.hair_length - 0.05, p.y);
      },
      f.hair);
  for (int side : {-1, 1}) {
    const Vec ear{head.x + side * face_rx * 0.97, f.ear_y + fy};
    c.paint(
        ear, 0.3, 1.0, [&](Vec p) { return c.coverage(ellipse_distance(p, ear, f.ear_size * 0.5, f.ear_size)); },
        f.skin * 0.88);
  }

  // The head, shaded darker towards its outline.
  c.paint(
      head, 1.0, 1.0, [&](Vec p) { return c.coverage(head_distance(p)); },
      [&](Vec p) {
        const double r2 = std::pow((p.x - head.x) / face_rx, 2) + std::pow((p.y - head.y) / f.face_ry, 2);
        return f.skin * (1 - 0.22 * r2 * r2);
      });

  // Hair over the forehead, above a curved hair line.
  c.paint(
      hair_c, 1.2, 1.0,
      [&](Vec p) {
        const double line = f.hair_line + fy + 0.35 * std::pow((p.x - head.x) / face_rx, 2);
        return c.coverage(ellipse_distance(p, hair_c, hair_rx, hair_ry)) * smoothstep(line + aa, line - aa, p.y);
      },
      f.hair);

  // Eyes: socket shadow, white, iris and pupil (inside the opening), upper lid; brows.
  const double open = std::clamp(n.eye_open, 0.05, 1.2);
  for (int side : {-1, 1}) {
    const double persp = 1 + side * n.yaw * 2.5;  // the eye on the turned-away side looks narrower
    const Vec e{fx + side * f.eye_dx * (1 + side * n.yaw), f.eye_y + fy};
    const double rx = f.eye_rx * persp, ry = f.eye_ry * open;
    c.paint(
        e, 0.3, 0.45, [&](Vec p) { return c.coverage(ellipse_distance(p, e, rx * 1.5, f.eye_ry * 1.9), 0.04); },
        f.skin * 0.6);
    c.paint(
        e, 0.2, 1.0, [&](Vec p) { return c.coverage(ellipse_distance(p, e, rx, ry)); }, std::min(0.92, f.skin + 0.2));
    const Vec iris{e.x + n.yaw * 0.3, e.y};
    c.paint(
        e, 0.2, 1.0,
        [&](Vec p) {
          return c.coverage(ellipse_distance(p, iris, f.eye_ry * 0.95, f.eye_ry * 0.95)) *
                 c.coverage(ellipse_distance(p, e, rx, ry));
        },
        f.iris);
    c.paint(
        e, 0.2, 1.0,
        [&](Vec p) {
          return c.coverage(ellipse_distance(p, iris, f.eye_ry * 0.4, f.eye_ry * 0.4)) *
                 c.coverage(ellipse_distance(p, e, rx, ry));
        },
        0.03);
    const std::vector<Vec> lid = arc({e.x, e.y}, rx * 1.05, -ry, 0, 8);
    const std::vector<double> lid_t(lid.size(), 0.01);
    c.paint(
        e, 0.25, 0.85, [&](Vec p) { return c.coverage(stroke_distance(p, lid, lid_t)); }, f.brow_dark * 0.7);

    const Vec brow{e.x + side * 0.01, e.y - f.brow_dy - n.brow_raise};
    const std::vector<Vec> bpts = arc(brow, rx * 1.35, -0.03, side * f.brow_tilt, 8);
    std::vector<double> bt(bpts.size());
    for (std::size_t i = 0; i < bt.size(); ++i) {
      // Thicker at the inner end (near the nose), thinner outside.
      const double s = static_cast<double>(i) / static_cast<double>(bt.size() - 1);
      const double inner = side < 0 ? 1 - s : s;
      bt[i] = f.brow_thick * (0.55 + 0.6 * inner);
    }
    c.paint(
        brow, 0.3, 0.95, [&](Vec p) { return c.coverage(stroke_distance(p, bpts, bt)); }, f.brow_dark);
  }

  // Nose: a shadow along one side of the bridge, the rounded tip line and two nostrils.
  {
    const Vec tip{fx * 1.3, f.nose_y + fy};
    const std::vector<Vec> side_line = {{tip.x + f.nose_w * 0.6, f.eye_y + fy + 0.05},
                                        {tip.x + f.nose_w, tip.y - 0.03}};
    const std::vector<double> side_t = {0.004, 0.012};
    c.paint(
        tip, 0.4, 0.35, [&](Vec p) { return c.coverage(stroke_distance(p, side_line, side_t), 0.02); }, f.skin * 0.6);
    const std::vector<Vec> base = arc({tip.x, tip.y}, f.nose_w, 0.025, 0, 8);
    const std::vector<double> base_t(base.size(), 0.009);
    c.paint(
        tip, 0.25, 0.7, [&](Vec p) { return c.coverage(stroke_distance(p, base, base_t), 0.01); }, f.skin * 0.55);
    for (int side : {-1, 1}) {
      const Vec nostril{tip.x + side * f.nose_w * 0.55, tip.y + 0.005};
      c.paint(
          nostril, 0.1, 0.9,
          [&](Vec p) { return c.coverage(ellipse_distance(p, nostril, f.nose_w * 0.28, 0.014, side * 0.3)); },
          f.skin * 0.35);
    }
  }

  // Mouth: lips, the line between them (curving up at the corners for a smile), the opening.
  {
    const Vec m{fx * 1.1, f.mouth_y + fy};
    const double curve = f.mouth_curve + n.smile;
    const double opening = std::max(0.0, n.mouth_open);
    const std::vector<Vec> line = arc({m.x, m.y - curve}, f.mouth_w, curve, 0, 10);
    std::vector<double> lip_t(line.size()), line_t(line.size());
    for (std::size_t i = 0; i < line.size(); ++i) {
      const double s = -1 + 2.0 * static_cast<double>(i) / static_cast<double>(line.size() - 1);
      lip_t[i] = (f.lip + opening * 0.5) * (1 - 0.75 * s * s) + 0.004;
      line_t[i] = 0.006 + opening * 0.5 * (1 - s * s);
    }
    c.paint(
        m, 0.4, 0.9, [&](Vec p) { return c.coverage(stroke_distance(p, line, lip_t)); }, f.skin * 0.72);
    c.paint(
        m, 0.4, 0.95, [&](Vec p) { return c.coverage(stroke_distance(p, line, line_t)); }, f.skin * 0.25);
    if (f.moustache) {
      const std::vector<Vec> mo = arc({m.x, m.y - curve - f.lip - 0.035}, f.mouth_w * 1.05, -0.02, 0, 8);
      std::vector<double> mo_t(mo.size());
      for (std::size_t i = 0; i < mo.size(); ++i) {
        const double s = -1 + 2.0 * static_cast<double>(i) / static_cast<double>(mo.size() - 1);
        mo_t[i] = 0.022 * (1 - 0.6 * s * s);
      }
      c.paint(
          m, 0.4, 0.9, [&](Vec p) { return c.coverage(stroke_distance(p, mo, mo_t), 0.01); }, f.hair);
    }
  }

  // Glasses: two rings and a bridge.
  if (f.glasses) {
    const double r = f.eye_rx * 1.7;
    const double t = 0.011;
    for (int side : {-1, 1}) {
      const Vec g{fx + side * f.eye_dx * (1 + side * n.yaw), f.eye_y + fy + 0.01};
      c.paint(
          g, r + 0.05, 0.9, [&](Vec p) { return c.coverage(std::abs(ellipse_distance(p, g, r, r * 0.8)) - t); }, 0.08);
    }
    const std::vector<Vec> bridge = {{fx - f.eye_dx + r, f.eye_y + fy}, {fx + f.eye_dx - r, f.eye_y + fy}};
    const std::vector<double> bt = {t, t};
    c.paint(
        {fx, f.eye_y + fy}, f.eye_dx, 0.9, [&](Vec p) { return c.coverage(stroke_distance(p, bridge, bt)); }, 0.08);
  }

  // Lighting: a level and a linear gradient across the image.
  const std::vector<double>& px = c.pixels();
  const double gx = std::cos(n.light_dir) * n.light_gradient, gy = std::sin(n.light_dir) * n.light_gradient;
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      const double u = (static_cast<double>(x) + 0.5) / static_cast<double>(width) - 0.5;
      const double v = (static_cast<double>(y) + 0.5) / static_cast<double>(height) - 0.5;
      const double light = n.light * (1 + gx * u * 2 + gy * v * 2);
      o[y * width + x] = static_cast<float>(clamp01(px[static_cast<std::size_t>(y * width + x)] * light));
    }
  }
}

}  // namespace

Tensor render_face(const FaceIdentity& f, const FaceNuisance& n, std::int64_t height, std::int64_t width) {
  TRIDENT_CHECK(height >= 8 && width >= 8 && height <= 4096 && width <= 4096,
                "render_face: image size must be within 8..4096, got {}x{}", height, width);
  Tensor out = empty({1, height, width}, {.dtype = kFloat32});
  render_into(f, n, height, width, out.data_ptr<float>());
  return out;
}

namespace {

Tensor generate_faces(const SyntheticFacesOptions& o) {
  TRIDENT_CHECK(o.identities >= 1 && o.images_per_identity >= 1,
                "SyntheticFaces: identities and images_per_identity must be >= 1, got {} and {}", o.identities,
                o.images_per_identity);
  TRIDENT_CHECK(o.first_identity >= 0, "SyntheticFaces: first_identity must be >= 0, got {}", o.first_identity);
  TRIDENT_CHECK(o.height >= 8 && o.width >= 8 && o.height <= 4096 && o.width <= 4096,
                "SyntheticFaces: image size must be within 8..4096, got {}x{}", o.height, o.width);
  TRIDENT_CHECK(o.nuisance >= 0 && o.noise >= 0, "SyntheticFaces: nuisance and noise must be >= 0, got {} and {}",
                o.nuisance, o.noise);
  const std::int64_t n = o.identities * o.images_per_identity, hw = o.height * o.width;
  Tensor images = empty({n, 1, o.height, o.width}, {.dtype = kFloat32});
  float* dst = images.data_ptr<float>();
  // Each image depends only on (seed, identity, image), so the thread count does not change the pixels.
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t id = o.first_identity + i / o.images_per_identity, image = i % o.images_per_identity;
    const FaceIdentity f = sample_face_identity(o.seed, id);
    const FaceNuisance nu = sample_face_nuisance(o.seed, id, image, o.nuisance);
    float* d = dst + i * hw;
    render_into(f, nu, o.height, o.width, d);
    const double sigma = o.noise * o.nuisance;
    RandomEngine rng(o.seed,
                     {kFacesStream, kNoiseWord, static_cast<std::uint64_t>(id), static_cast<std::uint64_t>(image)});
    for (std::int64_t k = 0; k < hw; ++k) {
      const double v = sigma > 0 ? d[k] + sigma * box_muller(rng) : d[k];
      d[k] = static_cast<float>(clamp01(v));
    }
  }
  return images;
}

Tensor face_labels(const SyntheticFacesOptions& o) {
  std::vector<std::int64_t> labels(static_cast<std::size_t>(std::max<std::int64_t>(0, o.identities) *
                                                            std::max<std::int64_t>(0, o.images_per_identity)));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i] = static_cast<std::int64_t>(i) / o.images_per_identity;
  }
  return tensor(labels);
}

std::vector<std::string> face_names(const SyntheticFacesOptions& o) {
  std::vector<std::string> names;
  for (std::int64_t k = 0; k < o.identities; ++k) names.push_back(fmt::format("face{}", o.first_identity + k));
  return names;
}

}  // namespace

SyntheticFaces::SyntheticFaces(SyntheticFacesOptions options)
    : ImageDataset("SyntheticFaces", generate_faces(options), face_labels(options), face_names(options)),
      options_(options) {}

}  // namespace trident::data
