#include "trident/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "trident/core/io/atomic_file.h"
#include "trident/ops/factory.h"

// stb_image and stb_image_write (Debian's libstb-dev), compiled here and nowhere else. STB_*_STATIC keeps every stb
// function internal to this file, so libtrident exports no stbi_* symbol that could clash with a program that links
// its own copy (or libstb). Files are read and written by trident itself (STBI_NO_STDIO), which gives the errno
// messages and the atomic writes.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace trident::data {

namespace {

namespace fs = std::filesystem;

// ---- reading files ------------------------------------------------------------------------------------------------

std::string read_file_bytes(const std::string& path, const char* who) {
  std::ifstream f(path, std::ios::binary);
  TRIDENT_CHECK(f.good(), "{}: {}: cannot open: {}", who, path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  TRIDENT_CHECK(!f.bad(), "{}: {}: read error: {}", who, path, std::strerror(errno));
  return bytes;
}

// A minimal PGM reader (netpbm "P2" text and "P5" binary): the magic, then width, height and maxval as decimal
// numbers separated by white space and '#' comments, then the pixels, row by row -- as text numbers (P2) or, after
// exactly one white-space byte, as bytes (maxval < 256) or big-endian 16-bit words (P5).
class PgmParser {
 public:
  PgmParser(const std::string& bytes, const std::string& path) : b_(bytes), path_(path) {}

  Tensor parse() {
    const bool text = b_[1] == '2';
    pos_ = 2;
    const std::int64_t width = header_number("width");
    const std::int64_t height = header_number("height");
    const std::int64_t maxval = header_number("maxval");
    check(width > 0 && height > 0, fmt::format("bad size {}x{}", width, height));
    check(maxval >= 1 && maxval <= 65535, fmt::format("maxval {} is outside 1..65535", maxval));
    check(width <= (std::int64_t{1} << 20) && height <= (std::int64_t{1} << 20) && width * height <= (1LL << 30),
          fmt::format("image of {}x{} pixels is too large", width, height));
    const std::int64_t n = width * height;
    Tensor image = empty({1, height, width}, {.dtype = kFloat32});
    float* out = image.data_ptr<float>();
    // v / maxval rounded once to float32 (so 8-bit v gives exactly v / 255.0f, as the PNG/JPEG path does).
    const auto fmax = static_cast<float>(maxval);
    if (text) {
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t v = number(fmt::format("pixel {} of {}", i, n));
        check(v <= maxval, fmt::format("pixel {} is {}, above maxval {}", i, v, maxval));
        out[i] = static_cast<float>(v) / fmax;
      }
    } else {
      check(pos_ < b_.size() && is_space(b_[pos_]), "no white space after maxval");
      ++pos_;  // the one white-space byte before the raster
      const std::int64_t bytes_per = maxval < 256 ? 1 : 2;
      const std::int64_t need = n * bytes_per;
      const auto have = static_cast<std::int64_t>(b_.size() - pos_);
      check(have >= need,
            fmt::format("truncated: {}x{} pixels need {} bytes of data, the file has {}", width, height, need, have));
      const auto* p = reinterpret_cast<const unsigned char*>(b_.data() + pos_);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t v = bytes_per == 1 ? p[i] : (std::int64_t{p[2 * i]} << 8) | p[2 * i + 1];
        check(v <= maxval, fmt::format("pixel {} is {}, above maxval {}", i, v, maxval));
        out[i] = static_cast<float>(v) / fmax;
      }
    }
    return image;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

  void check(bool ok, const std::string& what) const {
    TRIDENT_CHECK(ok, "read_image: {}: corrupt PGM: {}", path_, what);
  }

  void skip_space_and_comments() {
    while (pos_ < b_.size()) {
      if (is_space(b_[pos_])) {
        ++pos_;
      } else if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n' && b_[pos_] != '\r') ++pos_;
      } else {
        break;
      }
    }
  }

  std::int64_t number(const std::string& what) {
    skip_space_and_comments();
    check(pos_ < b_.size(), fmt::format("ends before {}", what));
    check(std::isdigit(static_cast<unsigned char>(b_[pos_])) != 0,
          fmt::format("expected a number for {}, got '{}'", what, b_[pos_]));
    std::int64_t v = 0;
    while (pos_ < b_.size() && std::isdigit(static_cast<unsigned char>(b_[pos_])) != 0) {
      v = v * 10 + (b_[pos_] - '0');
      check(v <= (std::int64_t{1} << 40), fmt::format("{} is too large", what));
      ++pos_;
    }
    return v;
  }

  std::int64_t header_number(const char* what) {
    const std::int64_t v = number(what);
    // In the header, a number ends at white space or a comment (also right before a P5 raster).
    check(pos_ < b_.size() && (is_space(b_[pos_]) || b_[pos_] == '#'), fmt::format("bad {}", what));
    return v;
  }

  const std::string& b_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

Tensor decode_with_stb(const std::string& bytes, const std::string& path) {
  TRIDENT_CHECK(bytes.size() <= static_cast<std::size_t>(INT32_MAX), "read_image: {}: file too large ({} bytes)", path,
                bytes.size());
  int width = 0, height = 0, channels = 0;
  unsigned char* pixels =
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &width,
                            &height, &channels, /*desired_channels=*/1);
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    detail::throw_error(fmt::format("read_image: {}: cannot decode image: {} (PGM, PNG, JPEG and BMP are supported)",
                                    path, reason != nullptr ? reason : "unknown error"));
  }
  const std::int64_t n = std::int64_t{width} * height;
  Tensor image = empty({1, height, width}, {.dtype = kFloat32});
  float* out = image.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(pixels[i]) / 255.0f;
  stbi_image_free(pixels);
  return image;
}

// ---- writing files ------------------------------------------------------------------------------------------------

// float32 [1, H, W] or [H, W] -> H * W bytes, row by row.
std::vector<unsigned char> to_bytes(const Tensor& image, const char* who, std::int64_t& height, std::int64_t& width) {
  TRIDENT_CHECK(image.defined(), "{}: undefined image", who);
  TRIDENT_CHECK(image.dtype() == kFloat32, "{}: image must be float32, got {}", who, image.dtype());
  TRIDENT_CHECK(image.device().is_cpu(), "{}: image must be on the CPU, got {}", who, image.device().str());
  TRIDENT_CHECK(image.dim() == 2 || (image.dim() == 3 && image.size(0) == 1),
                "{}: image must be [1, H, W] or [H, W], got {}", who, shape_str(image.sizes()));
  height = image.size(-2);
  width = image.size(-1);
  TRIDENT_CHECK(height > 0 && width > 0, "{}: empty image {}", who, shape_str(image.sizes()));
  const Tensor c = image.contiguous();
  const float* p = c.data_ptr<float>();
  std::vector<unsigned char> bytes(static_cast<std::size_t>(height * width));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const float v = p[i];
    const float clamped = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN -> 0
    bytes[i] = static_cast<unsigned char>(std::lround(clamped * 255.0f));
  }
  return bytes;
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

// ---- resampling ---------------------------------------------------------------------------------------------------

struct Tap {
  std::int64_t index;
  double weight;
};

// For each of `out` output positions along an axis of `in` input pixels, the input pixels and their weights.
std::vector<std::vector<Tap>> axis_taps(std::int64_t in, std::int64_t out) {
  std::vector<std::vector<Tap>> taps(static_cast<std::size_t>(out));
  const double s = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    auto& t = taps[static_cast<std::size_t>(o)];
    if (in == out) {
      t.push_back({o, 1.0});
    } else if (in > out) {
      // Area: output pixel o covers [o s, (o + 1) s) of the input; each input pixel weighs by its overlap.
      const double lo = static_cast<double>(o) * s, hi = static_cast<double>(o + 1) * s;
      const auto first = static_cast<std::int64_t>(std::floor(lo));
      const auto last = std::min(in, static_cast<std::int64_t>(std::ceil(hi)));
      for (std::int64_t i = first; i < last; ++i) {
        const double overlap = std::min(hi, static_cast<double>(i + 1)) - std::max(lo, static_cast<double>(i));
        if (overlap > 0) t.push_back({i, overlap / s});
      }
    } else {
      // Bilinear: the output centre (o + 0.5) maps to input coordinate (o + 0.5) s; input centres are at i + 0.5.
      const double x = std::clamp((static_cast<double>(o) + 0.5) * s - 0.5, 0.0, static_cast<double>(in - 1));
      const auto i0 = static_cast<std::int64_t>(std::floor(x));
      const std::int64_t i1 = std::min(i0 + 1, in - 1);
      const double f = x - static_cast<double>(i0);
      t.push_back({i0, 1.0 - f});
      if (f > 0) t.push_back({i1, f});
    }
  }
  return taps;
}

// ---- folders ------------------------------------------------------------------------------------------------------

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.';
}

std::string join_names(const std::vector<std::string>& names, std::size_t max_shown = 8) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max_shown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > max_shown) s += fmt::format(", ... ({} in all)", names.size());
  return s;
}

}  // namespace

// ---- ImageDataset -------------------------------------------------------------------------------------------------

ImageDataset::ImageDataset(std::string who, Tensor images, Tensor labels, std::vector<std::string> class_names)
    : who_(std::move(who)),
      images_(std::move(images)),
      labels_(std::move(labels)),
      class_names_(std::move(class_names)) {
  TRIDENT_ASSERT(images_.dtype() == kFloat32 && images_.dim() == 4 && images_.size(1) == 1 && images_.is_contiguous(),
                 "{}: images must be contiguous float32 [N, 1, H, W], got {}", who_, shape_str(images_.sizes()));
  TRIDENT_ASSERT(labels_.dtype() == kInt64 && labels_.dim() == 1 && labels_.size(0) == images_.size(0),
                 "{}: labels must be int64 [{}]", who_, images_.size(0));
}

Example ImageDataset::get(std::int64_t index) const {
  check_example_index(who_.c_str(), index, size());
  return Example{images_.slice(0, index, index + 1).squeeze(0), labels_.data_ptr<std::int64_t>()[index]};
}

Batch ImageDataset::get_batch(const std::vector<std::int64_t>& indices) const {
  TRIDENT_CHECK(!indices.empty(), "{}::get_batch: empty list of indices", who_);
  for (std::int64_t i : indices) check_example_index(who_.c_str(), i, size());
  const auto batch = static_cast<std::int64_t>(indices.size());
  const std::int64_t image_numel = height() * width();
  Tensor data = empty({batch, 1, height(), width()}, {.dtype = kFloat32});
  Tensor labels = empty({batch}, {.dtype = kInt64});
  const float* src = images_.data_ptr<float>();
  const std::int64_t* src_labels = labels_.data_ptr<std::int64_t>();
  float* dst = data.data_ptr<float>();
  std::int64_t* dst_labels = labels.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t i = indices[static_cast<std::size_t>(b)];
    std::memcpy(dst + b * image_numel, src + i * image_numel, static_cast<std::size_t>(image_numel) * sizeof(float));
    dst_labels[b] = src_labels[i];
  }
  return Batch{std::move(data), std::move(labels)};
}

// ---- ImageFolder --------------------------------------------------------------------------------------------------

struct ImageFolder::Loaded {
  std::vector<std::string> paths;
  Tensor images;
  Tensor labels;
  std::vector<std::string> class_names;
};

ImageFolder::ImageFolder(std::string root, Loaded loaded)
    : ImageDataset("ImageFolder", std::move(loaded.images), std::move(loaded.labels), std::move(loaded.class_names)),
      root_(std::move(root)),
      paths_(std::move(loaded.paths)) {}

ImageFolder::Loaded ImageFolder::load(const std::string& root, const ImageFolderOptions& options) {
  std::error_code ec;
  TRIDENT_CHECK(fs::exists(root, ec), "ImageFolder: {}: no such folder", root);
  TRIDENT_CHECK(fs::is_directory(root, ec), "ImageFolder: {}: not a folder", root);
  TRIDENT_CHECK((options.height == 0) == (options.width == 0) && options.height >= 0 && options.width >= 0,
                "ImageFolder: height and width must both be 0 (native size) or both > 0, got {}x{}", options.height,
                options.width);

  // The identity subfolders, in natural order.
  std::vector<std::string> all;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!is_hidden(it->path()) && it->is_directory(type_ec)) all.push_back(it->path().filename().string());
  }
  TRIDENT_CHECK(!ec, "ImageFolder: {}: cannot list the folder: {}", root, ec.message());
  TRIDENT_CHECK(!all.empty(), "ImageFolder: {}: no identity subfolders (expected one subfolder of images per identity)",
                root);
  std::sort(all.begin(), all.end(), natural_less);

  std::vector<std::string> selected;
  if (options.identities.empty()) {
    selected = all;
  } else {
    for (const std::string& name : options.identities) {
      TRIDENT_CHECK(std::find(all.begin(), all.end(), name) != all.end(),
                    "ImageFolder: {}: no identity subfolder '{}' (there are: {})", root, name, join_names(all));
      TRIDENT_CHECK(std::find(selected.begin(), selected.end(), name) == selected.end(),
                    "ImageFolder: identity '{}' is named twice", name);
      selected.push_back(name);
    }
    std::sort(selected.begin(), selected.end(), natural_less);
  }
  const auto count = static_cast<std::int64_t>(selected.size());
  const std::int64_t last = options.last_identity < 0 ? count : options.last_identity;
  TRIDENT_CHECK(
      options.last_identity >= -1 && options.first_identity >= 0 && options.first_identity < last && last <= count,
      "ImageFolder: {}: identity range [{}, {}) is empty or outside the {} identities", root, options.first_identity,
      options.last_identity, count);
  selected = std::vector<std::string>(selected.begin() + options.first_identity, selected.begin() + last);

  // The image files of each identity, in natural order.
  Loaded out;
  std::vector<std::int64_t> labels;
  for (std::size_t c = 0; c < selected.size(); ++c) {
    const fs::path dir = fs::path(root) / selected[c];
    std::vector<std::string> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (!is_hidden(it->path()) && !it->is_directory(type_ec) && is_image_file(it->path().string())) {
        files.push_back(it->path().filename().string());
      }
    }
    TRIDENT_CHECK(!ec, "ImageFolder: {}: cannot list the folder: {}", dir.string(), ec.message());
    TRIDENT_CHECK(!files.empty(), "ImageFolder: {}: no images in identity folder '{}' (.pgm .png .jpg .jpeg .bmp)",
                  dir.string(), selected[c]);
    std::sort(files.begin(), files.end(), natural_less);
    for (const std::string& f : files) {
      out.paths.push_back((dir / f).string());
      labels.push_back(static_cast<std::int64_t>(c));
    }
  }

  // Decode (and resize) every image into one [N, 1, H, W] tensor.
  const auto n = static_cast<std::int64_t>(out.paths.size());
  std::int64_t height = options.height, width = options.width;
  float* dst = nullptr;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string& path = out.paths[static_cast<std::size_t>(i)];
    Tensor image = read_image(path);
    if (i == 0 && options.height == 0) {
      height = image.size(1);
      width = image.size(2);
    }
    if (options.height == 0) {
      TRIDENT_CHECK(image.size(1) == height && image.size(2) == width,
                    "ImageFolder: {} is {}x{} (height x width) but {} is {}x{}; images of different sizes need a "
                    "resize (ImageFolderOptions height and width)",
                    path, image.size(1), image.size(2), out.paths[0], height, width);
    } else {
      image = resize_image(image, height, width);
    }
    if (i == 0) {
      out.images = empty({n, 1, height, width}, {.dtype = kFloat32});
      dst = out.images.data_ptr<float>();
    }
    std::memcpy(dst + i * height * width, image.data_ptr<float>(),
                static_cast<std::size_t>(height * width) * sizeof(float));
  }
  out.labels = tensor(labels);
  out.class_names = std::move(selected);
  return out;
}

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options)
    : ImageFolder(root, load(root, options)) {}

// ---- single images ------------------------------------------------------------------------------------------------

bool natural_less(const std::string& a, const std::string& b) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      // Compare the digit runs by value: skip leading zeros, then the longer run is larger, else compare digits.
      std::size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      std::size_t is = i, js = j;
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int cmp = a.compare(is, ie - is, b, js, je - js);
      if (cmp != 0) return cmp < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if ((i < a.size()) != (j < b.size())) return i >= a.size();  // a prefix comes first
  return a < b;                                                // equal by value ("s01" vs "s1"): plain order
}

bool is_image_file(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".pgm" || ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

Tensor read_image(const std::string& path) {
  const std::string bytes = read_file_bytes(path, "read_image");
  TRIDENT_CHECK(!bytes.empty(), "read_image: {}: empty file", path);
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '2' || bytes[1] == '5')) {
    return PgmParser(bytes, path).parse();
  }
  return decode_with_stb(bytes, path);
}

Tensor resize_image(const Tensor& image, std::int64_t height, std::int64_t width) {
  TRIDENT_CHECK(image.defined() && image.dtype() == kFloat32 && image.dim() == 3,
                "resize_image: image must be float32 [C, H, W], got {}",
                image.defined() ? fmt::format("{} {}", image.dtype(), shape_str(image.sizes())) : "undefined");
  TRIDENT_CHECK(image.device().is_cpu(), "resize_image: image must be on the CPU, got {}", image.device().str());
  TRIDENT_CHECK(height > 0 && width > 0, "resize_image: size must be positive, got {}x{}", height, width);
  const std::int64_t channels = image.size(0), in_h = image.size(1), in_w = image.size(2);
  TRIDENT_CHECK(in_h > 0 && in_w > 0, "resize_image: empty image {}", shape_str(image.sizes()));
  const Tensor src = image.contiguous();
  const float* in = src.data_ptr<float>();
  const auto taps_x = axis_taps(in_w, width);
  const auto taps_y = axis_taps(in_h, height);
  // Rows first (in_h x width per channel), then columns.
  std::vector<double> rows(static_cast<std::size_t>(channels * in_h * width));
  for (std::int64_t r = 0; r < channels * in_h; ++r) {
    for (std::int64_t x = 0; x < width; ++x) {
      double acc = 0;
      for (const Tap& t : taps_x[static_cast<std::size_t>(x)]) acc += t.weight * in[r * in_w + t.index];
      rows[static_cast<std::size_t>(r * width + x)] = acc;
    }
  }
  Tensor out = empty({channels, height, width}, {.dtype = kFloat32});
  float* o = out.data_ptr<float>();
  for (std::int64_t c = 0; c < channels; ++c) {
    for (std::int64_t y = 0; y < height; ++y) {
      for (std::int64_t x = 0; x < width; ++x) {
        double acc = 0;
        for (const Tap& t : taps_y[static_cast<std::size_t>(y)]) {
          acc += t.weight * rows[static_cast<std::size_t>((c * in_h + t.index) * width + x)];
        }
        o[(c * height + y) * width + x] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

Tensor image_grid(const Tensor& images, std::int64_t columns, std::int64_t pad, float background) {
  TRIDENT_CHECK(images.defined() && images.dtype() == kFloat32 && images.dim() == 4 && images.size(1) == 1,
                "image_grid: images must be float32 [N, 1, H, W], got {}",
                images.defined() ? fmt::format("{} {}", images.dtype(), shape_str(images.sizes())) : "undefined");
  TRIDENT_CHECK(images.device().is_cpu(), "image_grid: images must be on the CPU, got {}", images.device().str());
  TRIDENT_CHECK(images.size(0) > 0, "image_grid: no images");
  TRIDENT_CHECK(columns > 0 && pad >= 0, "image_grid: columns must be > 0 and pad >= 0, got {} and {}", columns, pad);
  const std::int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const std::int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const std::int64_t out_h = rows * (h + pad) + pad, out_w = cols * (w + pad) + pad;
  Tensor grid = empty({1, out_h, out_w}, {.dtype = kFloat32});
  float* g = grid.data_ptr<float>();
  std::fill(g, g + out_h * out_w, background);
  const Tensor src = images.contiguous();
  const float* p = src.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t y0 = pad + (i / cols) * (h + pad), x0 = pad + (i % cols) * (w + pad);
    for (std::int64_t y = 0; y < h; ++y) {
      std::memcpy(g + (y0 + y) * out_w + x0, p + (i * h + y) * w, static_cast<std::size_t>(w) * sizeof(float));
    }
  }
  return grid;
}

void write_pgm(const std::string& path, const Tensor& image) {
  std::int64_t height = 0, width = 0;
  const std::vector<unsigned char> bytes = to_bytes(image, "write_pgm", height, width);
  std::string file = fmt::format("P5\n{} {}\n255\n", width, height);
  file.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  io::write_file_atomic(path, file, "write_pgm");
}

void write_png(const std::string& path, const Tensor& image) {
  std::int64_t height = 0, width = 0;
  const std::vector<unsigned char> bytes = to_bytes(image, "write_png", height, width);
  TRIDENT_CHECK(height <= INT32_MAX && width <= INT32_MAX, "write_png: {}: image too large", path);
  std::string file;
  const int ok = stbi_write_png_to_func(append_to_string, &file, static_cast<int>(width), static_cast<int>(height), 1,
                                        bytes.data(), static_cast<int>(width));
  TRIDENT_CHECK(ok != 0, "write_png: {}: PNG encoding failed", path);
  io::write_file_atomic(path, file, "write_png");
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  TRIDENT_CHECK(quality >= 1 && quality <= 100, "write_jpeg: quality must be in 1..100, got {}", quality);
  std::int64_t height = 0, width = 0;
  const std::vector<unsigned char> bytes = to_bytes(image, "write_jpeg", height, width);
  TRIDENT_CHECK(height <= 65535 && width <= 65535, "write_jpeg: {}: {}x{} is larger than JPEG allows", path, height,
                width);
  std::string file;
  const int ok = stbi_write_jpg_to_func(append_to_string, &file, static_cast<int>(width), static_cast<int>(height), 1,
                                        bytes.data(), quality);
  TRIDENT_CHECK(ok != 0, "write_jpeg: {}: JPEG encoding failed", path);
  io::write_file_atomic(path, file, "write_jpeg");
}

}  // namespace trident::data
