// SVG 1.1 plots: see svg_plot.h.
#include "trident/viz/svg_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "trident/core/error.h"
#include "trident/core/io/atomic_file.h"

namespace trident::viz {

namespace {

// Tableau 10 followed by its light variants: 20 distinguishable colours.
constexpr std::array<std::string_view, 20> kPalette = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};

constexpr double kFontSize = 12;       // tick labels, legend, axis labels
constexpr double kTitleFontSize = 15;  // the title
constexpr double kNoteFontSize = 11;   // notes under the title
constexpr double kLegendRow = 18;      // pixels per legend entry
constexpr std::size_t kMaxLegendChars = 32;

double inf() { return std::numeric_limits<double>::infinity(); }

// Decodes one UTF-8 code point at s[i]; returns its length, or 0 when the bytes there are not valid UTF-8 (a stray
// continuation byte, a truncated or overlong sequence, a surrogate, a value above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The number of code points (invalid bytes count one each): the unit of the text width estimate.
std::size_t utf8_count(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) i += std::max<std::size_t>(1, utf8_length(s, i));
  return count;
}

// s cut to at most max_chars code points, ending with an ellipsis when cut.
std::string truncate_text(std::string_view s, std::size_t max_chars) {
  if (utf8_count(s) <= max_chars) return std::string(s);
  std::size_t i = 0;
  for (std::size_t count = 0; count + 1 < max_chars && i < s.size(); ++count) {
    i += std::max<std::size_t>(1, utf8_length(s, i));
  }
  return std::string(s.substr(0, i)) + "\u2026";
}

// Sans-serif glyphs average a little under 0.6 em; this estimate only sizes margins and the legend column.
double text_width(std::string_view s, double font_size) { return 0.6 * font_size * static_cast<double>(utf8_count(s)); }

std::string num(double v) {
  const std::string s = fmt::format("{:.1f}", v);
  return s == "-0.0" ? "0.0" : s;
}

// ---- tick labels -------------------------------------------------------------------------------------------------

bool wants_scientific(double magnitude, double step) { return magnitude >= 1e6 || std::abs(step) < 1e-4; }

double sane_step(double v, double step) {
  step = std::abs(step);
  if (!(step > 0) || !std::isfinite(step)) step = std::abs(v) > 0 ? std::abs(v) : 1;
  return step;
}

// Fixed notation with the fewest decimals that represent the step exactly (0.25 -> 2, 5 -> 0).
std::string format_fixed(double v, double step) {
  step = sane_step(v, step);
  if (std::abs(v) < step * 1e-9) return "0";
  int decimals = 0;
  for (double scaled = step; decimals < 12; ++decimals, scaled *= 10) {
    if (std::abs(scaled - std::round(scaled)) <= 1e-6 * scaled) break;
  }
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find_first_not_of("-0.") == std::string::npos) return "0";  // "-0.00"
  return s;
}

// Scientific notation with as many mantissa digits as the step needs relative to the value ("1.5e+06", "2e-05").
std::string format_scientific(double v, double step) {
  step = sane_step(v, step);
  if (std::abs(v) < step * 1e-9) return "0";
  const int digits = std::clamp(
      static_cast<int>(std::floor(std::log10(std::abs(v)) + 1e-9) - std::floor(std::log10(step) + 1e-9)), 0, 6);
  std::string s = fmt::format("{:.{}e}", v, digits);
  // Trailing zeros of the mantissa go: "2.50e-05" -> "2.5e-05", "1.0e+06" -> "1e+06".
  const std::size_t e = s.find('e');
  std::size_t end = e;
  if (s.find('.') < e) {
    while (s[end - 1] == '0') --end;
    if (s[end - 1] == '.') --end;
  }
  return s.substr(0, end) + s.substr(e);
}

// ---- axes ------------------------------------------------------------------------------------------------------

struct Axis {
  double lo = 0, hi = 1;  // the displayed range (on a log axis, lo > 0)
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;

  double fraction(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

// The smallest and largest finite value seen (and, for log axes, the smallest positive one).
struct Range {
  double min = inf(), max = -inf();
  void add(double v) {
    if (!std::isfinite(v)) return;
    min = std::min(min, v);
    max = std::max(max, v);
  }
  bool empty() const { return min > max; }
};

Axis linear_axis(const Range& r) {
  Axis a;
  a.ticks = r.empty() ? nice_ticks(0, 1) : nice_ticks(r.min, r.max);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  const double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1;
  double largest = 0;
  for (double t : a.ticks) largest = std::max(largest, std::abs(t));
  // Scientific notation for all labels of an axis or for none (format_tick decides per value).
  const bool scientific = wants_scientific(largest, step);
  for (double t : a.ticks) a.labels.push_back(scientific ? format_scientific(t, step) : format_fixed(t, step));
  return a;
}

Axis log_axis(const Range& positive) {
  Axis a;
  a.log = true;
  a.ticks = positive.empty() ? log_ticks(1, 10) : log_ticks(positive.min, positive.max);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  // Plain numbers ("0.01", "1000") unless some tick is outside [1e-3, 1e4]; then all in one notation ("1e+05").
  const bool scientific = a.ticks.front() < 1e-3 || a.ticks.back() > 1e4;
  for (double t : a.ticks) a.labels.push_back(scientific ? fmt::format("{:.0e}", t) : fmt::format("{:g}", t));
  return a;
}

// ---- the figure --------------------------------------------------------------------------------------------------

enum class Swatch { Line, DashedLine, Box, Marker };

struct LegendEntry {
  std::string label;
  std::string_view color;
  Swatch swatch = Swatch::Line;
  int shape = 0;  // Swatch::Marker: 0 circle, 1 square, 2 triangle, 3 diamond
};

// A marker of the given shape centred on (x, y), radius r.
std::string marker(int shape, double x, double y, double r, std::string_view color, std::string_view extra = "") {
  switch (shape % 4) {
    case 1:
      return fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>\n", num(x - r * 0.9),
                         num(y - r * 0.9), num(1.8 * r), num(1.8 * r), color, extra);
    case 2:
      return fmt::format("<polygon points=\"{},{} {},{} {},{}\" fill=\"{}\"{}/>\n", num(x), num(y - 1.2 * r),
                         num(x + 1.1 * r), num(y + 0.8 * r), num(x - 1.1 * r), num(y + 0.8 * r), color, extra);
    case 3:
      return fmt::format("<polygon points=\"{},{} {},{} {},{} {},{}\" fill=\"{}\"{}/>\n", num(x), num(y - 1.25 * r),
                         num(x + 1.25 * r), num(y), num(x), num(y + 1.25 * r), num(x - 1.25 * r), num(y), color, extra);
    default:
      return fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}/>\n", num(x), num(y), num(r), color,
                         extra);
  }
}

// Collects the parts of one plot, lays them out and writes the document. Use: set the axes, notes and legend, call
// layout(), append data elements (in pixel coordinates from px/py) to data, then finish().
class Figure {
 public:
  Figure(const PlotOptions& options, std::string_view op) : o_(options), op_(op) {
    TRIDENT_CHECK(o_.width >= 200 && o_.height >= 150 && o_.width <= 20000 && o_.height <= 20000,
                  "{}: the figure size must be between 200x150 and 20000x20000 pixels, got {}x{}", op_, o_.width,
                  o_.height);
  }

  Axis x, y;
  std::vector<std::string> notes;
  std::vector<LegendEntry> legend;
  std::string data;     // data elements, drawn clipped to the plot area
  bool square = false;  // a plot area no wider than tall (ROC: equal units on both axes)

  void layout() {
    top_ = 14;
    if (!o_.title.empty()) top_ += kTitleFontSize + 8;
    top_ += static_cast<double>(notes.size()) * (kNoteFontSize + 4);
    top_ += 8;
    double tick_label_width = 0;
    for (const auto& l : y.labels) tick_label_width = std::max(tick_label_width, text_width(l, kFontSize));
    left_ = 14 + tick_label_width + 8 + (o_.y_label.empty() ? 0 : kFontSize + 10);
    bottom_ = static_cast<double>(o_.height) - (14 + kFontSize + 8 + (o_.x_label.empty() ? 0 : kFontSize + 10));
    double legend_text = 0;
    for (const auto& e : legend) {
      legend_text = std::max(legend_text, text_width(truncate_text(e.label, kMaxLegendChars), kFontSize));
    }
    right_ = static_cast<double>(o_.width) - 16 - (legend.empty() ? 0 : 14 + 26 + legend_text);
    // The last x tick label is centred on the right edge: keep half of it inside the figure.
    if (legend.empty() && !x.labels.empty()) {
      right_ = std::min(right_, o_.width - 4 - text_width(x.labels.back(), kFontSize) / 2);
    }
    if (square) right_ = std::min(right_, left_ + (bottom_ - top_));
    left_ = std::round(left_), top_ = std::round(top_), right_ = std::round(right_), bottom_ = std::round(bottom_);
    TRIDENT_CHECK(right_ - left_ >= 60 && bottom_ - top_ >= 40,
                  "{}: a {}x{} figure leaves no room for the plot area (legend or labels too long); make it larger",
                  op_, o_.width, o_.height);
  }

  double px(double v) const { return left_ + x.fraction(v) * (right_ - left_); }
  double py(double v) const { return bottom_ - y.fraction(v) * (bottom_ - top_); }
  double left() const { return left_; }
  double right() const { return right_; }
  double top() const { return top_; }
  double bottom() const { return bottom_; }

  // The whole SVG document. `message` (e.g. "no data") is written in the middle of the plot area.
  std::string finish(std::string_view message = {}) const {
    std::string s;
    const int w = o_.width, h = o_.height;
    s += "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
    s += fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"{2}\">\n",
        w, h, kFontSize);
    s += fmt::format("<title>{}</title>\n", xml_escape(o_.title.empty() ? std::string("plot") : o_.title));
    s += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", w, h);
    // Title and notes.
    double line = 14;
    if (!o_.title.empty()) {
      line += kTitleFontSize;
      s += fmt::format(
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" font-weight=\"bold\">{}</text>\n",
          num((left_ + right_) / 2), num(line), kTitleFontSize, xml_escape(o_.title));
      line += 8;
    }
    for (const auto& note : notes) {
      line += kNoteFontSize;
      s += fmt::format(
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" font-style=\"italic\" "
          "fill=\"#a03030\">{}</text>\n",
          num((left_ + right_) / 2), num(line), kNoteFontSize, xml_escape(note));
      line += 4;
    }
    // Plot area, grid and ticks.
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fbfbfb\" stroke=\"none\"/>\n",
                     num(left_), num(top_), num(right_ - left_), num(bottom_ - top_));
    s += "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
    for (double t : x.ticks) {
      s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(px(t)), num(top_), num(bottom_));
    }
    for (double t : y.ticks) {
      s += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n", num(py(t)), num(left_), num(right_));
    }
    s += "</g>\n";
    s += "<g class=\"x-axis\" text-anchor=\"middle\">\n";
    for (std::size_t i = 0; i < x.ticks.size(); ++i) {
      const double xp = px(x.ticks[i]);
      s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333333\"/>\n", num(xp),
                       num(bottom_), num(bottom_ + 5));
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(xp), num(bottom_ + 7 + kFontSize),
                       xml_escape(x.labels[i]));
    }
    s += "</g>\n<g class=\"y-axis\" text-anchor=\"end\">\n";
    for (std::size_t i = 0; i < y.ticks.size(); ++i) {
      const double yp = py(y.ticks[i]);
      s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333333\"/>\n", num(left_ - 5),
                       num(yp), num(left_));
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(left_ - 8), num(yp + kFontSize * 0.35),
                       xml_escape(y.labels[i]));
    }
    s += "</g>\n";
    if (!o_.x_label.empty()) {
      s += fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       num((left_ + right_) / 2), num(o_.height - 12.0), xml_escape(o_.x_label));
    }
    if (!o_.y_label.empty()) {
      s += fmt::format(
          "<text class=\"y-label\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
          num(14 + kFontSize * 0.8), num((top_ + bottom_) / 2), xml_escape(o_.y_label));
    }
    // Data, clipped to the plot area with room for markers on its edges. The id depends only on the rectangle, so
    // several figures inlined in one HTML page that share an id also share the same clip rectangle.
    const std::string clip = fmt::format("clip-{}-{}-{}-{}", left_, top_, right_, bottom_);
    s += fmt::format(
        "<defs><clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs>\n", clip,
        num(left_ - 6), num(top_ - 6), num(right_ - left_ + 12), num(bottom_ - top_ + 12));
    s += fmt::format("<g class=\"data\" clip-path=\"url(#{})\">\n", clip);
    s += data;
    s += "</g>\n";
    if (!message.empty()) {
      s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"16\" fill=\"#888888\">{}</text>\n",
                       num((left_ + right_) / 2), num((top_ + bottom_) / 2), xml_escape(message));
    }
    // Axis lines over the data.
    s += fmt::format("<polyline points=\"{0},{1} {0},{2} {3},{2}\" fill=\"none\" stroke=\"#333333\"/>\n", num(left_),
                     num(top_), num(bottom_), num(right_));
    s += legend_svg();
    s += "</svg>\n";
    return s;
  }

 private:
  std::string legend_svg() const {
    if (legend.empty()) return {};
    std::string s = "<g class=\"legend\">\n";
    const double x0 = right_ + 14;
    const auto fit = static_cast<std::size_t>(std::max(1.0, std::floor((bottom_ - top_) / kLegendRow)));
    const std::size_t shown = legend.size() <= fit ? legend.size() : fit - 1;
    for (std::size_t i = 0; i < shown; ++i) {
      const LegendEntry& e = legend[i];
      const double yc = top_ + kLegendRow * (static_cast<double>(i) + 0.5);
      switch (e.swatch) {
        case Swatch::Line:
        case Swatch::DashedLine:
          s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>\n",
                           num(x0), num(yc), num(x0 + 20), num(yc), e.color,
                           e.swatch == Swatch::DashedLine ? " stroke-dasharray=\"5,4\"" : "");
          break;
        case Swatch::Box:
          s += fmt::format(
              "<rect x=\"{}\" y=\"{}\" width=\"20\" height=\"10\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"{}\"/>\n",
              num(x0), num(yc - 5), e.color, e.color);
          break;
        case Swatch::Marker:
          s += marker(e.shape, x0 + 10, yc, 4.5, e.color);
          break;
      }
      s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(x0 + 26), num(yc + kFontSize * 0.35),
                       xml_escape(truncate_text(e.label, kMaxLegendChars)));
    }
    if (shown < legend.size()) {
      const double yc = top_ + kLegendRow * (static_cast<double>(shown) + 0.5);
      s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#666666\">{}</text>\n", num(x0 + 26), num(yc + kFontSize * 0.35),
                       fmt::format("+ {} more", legend.size() - shown));
    }
    s += "</g>\n";
    return s;
  }

  PlotOptions o_;
  std::string_view op_;
  double left_ = 0, right_ = 0, top_ = 0, bottom_ = 0;
};

std::string plural(std::size_t n, std::string_view what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); }

void add_left_out_notes(Figure& fig, std::size_t non_finite, std::size_t non_positive) {
  if (non_finite > 0) fig.notes.push_back(plural(non_finite, "non-finite value") + " left out");
  if (non_positive > 0) fig.notes.push_back(plural(non_positive, "value") + " <= 0 left out (log scale)");
}

// A polyline through the points (or a marker for a single point).
std::string polyline(const std::vector<std::pair<double, double>>& pts, std::string_view color,
                     std::string_view extra = "") {
  if (pts.empty()) return {};
  if (pts.size() == 1) return marker(0, pts[0].first, pts[0].second, 3.5, color);
  std::string s = "<polyline fill=\"none\" stroke=\"";
  s += color;
  s += "\" stroke-width=\"2\" stroke-linejoin=\"round\"";
  s += extra;
  s += " points=\"";
  for (std::size_t i = 0; i < pts.size(); ++i) {
    if (i) s += ' ';
    s += num(pts[i].first);
    s += ',';
    s += num(pts[i].second);
  }
  s += "\"/>\n";
  return s;
}

double trapezoid_auc(std::vector<std::pair<double, double>> pts) {
  std::sort(pts.begin(), pts.end());
  double area = 0;
  for (std::size_t i = 1; i < pts.size(); ++i) {
    area += (pts[i].first - pts[i - 1].first) * (pts[i].second + pts[i - 1].second) / 2;
  }
  return area;
}

}  // namespace

// ---- building blocks -----------------------------------------------------------------------------------------------

std::string_view palette_color(std::size_t i) { return kPalette[i % kPalette.size()]; }
std::size_t palette_size() { return kPalette.size(); }

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {  // not UTF-8: the replacement character keeps the document well-formed
      out += "\uFFFD";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') ? ' ' : c;
    }
    ++i;
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  target = std::clamp(target, 1, 100);
  const double scale = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo <= 1e-12 * scale) {  // a single value: a range around it
    const double pad = scale == 0 ? 0.5 : 0.1 * scale;
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / target;
  if (!std::isfinite(raw) || raw <= 0) return {lo, hi};  // beyond double's range: no rounding
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  const double step = magnitude * (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10);
  // Ticks are integer multiples of the step (not a running sum, which would accumulate rounding); the 1e-9 keeps a
  // bound that is a multiple up to rounding (0.3 / 0.1 = 2.9999999999999996) from adding a tick.
  const double k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = k0; k <= k1; ++k) ticks.push_back(k * step + 0.0);  // + 0.0 turns -0 into 0
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > 0) || !std::isfinite(hi)) hi = lo * 10;
  if (lo > hi) std::swap(lo, hi);
  double a = std::floor(std::log10(lo) + 1e-12), b = std::ceil(std::log10(hi) - 1e-12);
  if (b <= a) b = a + 1;
  std::vector<double> ticks;
  if (b - a == 1) {
    const double base = std::pow(10.0, a);
    return {base, 2 * base, 5 * base, 10 * base};
  }
  const double stride = std::ceil((b - a) / 8);
  a = std::floor(a / stride) * stride;
  b = std::ceil(b / stride) * stride;
  for (double k = a; k <= b; k += stride) ticks.push_back(std::pow(10.0, k));
  return ticks;
}

std::string format_tick(double v, double step) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  return wants_scientific(std::abs(v), step) ? format_scientific(v, step) : format_fixed(v, step);
}

// ---- plots ---------------------------------------------------------------------------------------------------------

std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& options) {
  constexpr std::string_view op = "line_plot_svg";
  for (const auto& s : series) {
    TRIDENT_CHECK(s.x.size() == s.y.size(), "{}: series '{}' has {} x values and {} y values", op, s.name, s.x.size(),
                  s.y.size());
  }
  Figure fig(options, op);
  Range xr, yr;
  std::size_t non_finite = 0, non_positive = 0;
  const auto usable = [&](double xv, double yv) {
    return std::isfinite(xv) && std::isfinite(yv) && (!options.log_y || yv > 0);
  };
  for (const auto& s : series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        ++non_finite;
      } else if (options.log_y && s.y[i] <= 0) {
        ++non_positive;
      } else {
        xr.add(s.x[i]), yr.add(s.y[i]);
      }
    }
  }
  fig.x = linear_axis(xr);
  fig.y = options.log_y ? log_axis(yr) : linear_axis(yr);
  add_left_out_notes(fig, non_finite, non_positive);
  for (std::size_t k = 0; k < series.size(); ++k) {
    fig.legend.push_back({series[k].name.empty() ? fmt::format("series {}", k) : series[k].name, palette_color(k)});
  }
  fig.layout();
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string_view color = palette_color(k);
    std::vector<std::pair<double, double>> run;
    for (std::size_t i = 0; i <= s.x.size(); ++i) {
      if (i < s.x.size() && usable(s.x[i], s.y[i])) {
        run.emplace_back(fig.px(s.x[i]), fig.py(s.y[i]));
        if (options.markers) fig.data += marker(0, run.back().first, run.back().second, 3, color);
      } else {  // the end of a run of usable points: the line breaks here
        fig.data += polyline(run, color);
        run.clear();
      }
    }
  }
  return fig.finish(xr.empty() ? "no data" : "");
}

std::string histogram_svg(const std::vector<Distribution>& distributions, const HistogramOptions& options) {
  constexpr std::string_view op = "histogram_svg";
  TRIDENT_CHECK(options.bins >= 1 && options.bins <= 100000, "{}: bins must be in [1, 100000], got {}", op,
                options.bins);
  PlotOptions po = options.plot;
  if (po.y_label.empty()) po.y_label = options.density ? "density" : "count";
  Figure fig(po, op);
  Range r;
  std::size_t non_finite = 0;
  for (const auto& d : distributions) {
    for (double v : d.values) std::isfinite(v) ? r.add(v) : void(++non_finite);
  }
  add_left_out_notes(fig, non_finite, 0);
  // Shared bins over [lo, hi]; one value (or equal values) gets a bin range around it.
  double lo = r.min, hi = r.max;
  if (!r.empty() && hi - lo <= 1e-12 * std::max(std::abs(lo), std::abs(hi))) {
    const double pad = lo == 0 ? 0.5 : 0.1 * std::abs(lo);
    lo -= pad, hi += pad;
  }
  const int bins = options.bins;
  const double width = r.empty() ? 1 : (hi - lo) / bins;
  std::vector<std::vector<double>> heights(distributions.size(), std::vector<double>(bins, 0.0));
  Range yr;
  yr.add(options.plot.log_y ? inf() : 0.0);  // a linear count axis starts at 0
  Range positive;
  for (std::size_t k = 0; k < distributions.size(); ++k) {
    std::size_t n = 0;
    for (double v : distributions[k].values) {
      if (!std::isfinite(v)) continue;
      const auto b = std::clamp(static_cast<std::int64_t>(std::floor((v - lo) / width)), std::int64_t{0},
                                static_cast<std::int64_t>(bins - 1));
      heights[k][b] += 1;
      ++n;
    }
    for (double& h : heights[k]) {
      if (options.density && n > 0) h /= static_cast<double>(n) * width;
      yr.add(h);
      if (h > 0) positive.add(h);
    }
    fig.legend.push_back(
        {fmt::format("{} (n={})", distributions[k].name.empty() ? fmt::format("sample {}", k) : distributions[k].name,
                     n),
         palette_color(k), Swatch::Box});
  }
  Range xr;
  if (!r.empty()) xr.add(lo), xr.add(hi);
  fig.x = linear_axis(xr);
  fig.y = options.plot.log_y ? log_axis(positive) : linear_axis(yr);
  fig.layout();
  if (!r.empty()) {
    const double base = fig.bottom();
    const auto ypix = [&](double h) { return options.plot.log_y && h <= 0 ? base : fig.py(h); };
    for (std::size_t k = 0; k < distributions.size(); ++k) {
      // The outline of the bars as one step path closed along the x axis.
      std::string path = fmt::format("M{},{}", num(fig.px(lo)), num(base));
      for (int b = 0; b < bins; ++b) {
        const double y = ypix(heights[k][b]);
        path += fmt::format(" L{},{} L{},{}", num(fig.px(lo + b * width)), num(y),
                            num(fig.px(b + 1 == bins ? hi : lo + (b + 1) * width)), num(y));
      }
      path += fmt::format(" L{},{} Z", num(fig.px(hi)), num(base));
      fig.data += fmt::format(
          "<path d=\"{}\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"{}\" stroke-width=\"1.5\" "
          "stroke-linejoin=\"round\"/>\n",
          path, palette_color(k), palette_color(k));
    }
  }
  return fig.finish(r.empty() ? "no data" : "");
}

std::string scatter_svg(const std::vector<double>& x, const std::vector<double>& y,
                        const std::vector<std::int64_t>& labels, const std::vector<std::string>& class_names,
                        const PlotOptions& options) {
  constexpr std::string_view op = "scatter_svg";
  TRIDENT_CHECK(x.size() == y.size() && x.size() == labels.size(),
                "{}: x, y and labels must have the same length, got {}, {} and {}", op, x.size(), y.size(),
                labels.size());
  std::vector<std::int64_t> classes;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    TRIDENT_CHECK(labels[i] >= 0, "{}: labels must be >= 0, got {} at index {}", op, labels[i], i);
    classes.push_back(labels[i]);
  }
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  Figure fig(options, op);
  Range xr, yr;
  std::size_t non_finite = 0, non_positive = 0;
  std::vector<char> keep(x.size(), 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      ++non_finite;
    } else if (options.log_y && y[i] <= 0) {
      ++non_positive;
    } else {
      keep[i] = 1;
      xr.add(x[i]), yr.add(y[i]);
    }
  }
  fig.x = linear_axis(xr);
  fig.y = options.log_y ? log_axis(yr) : linear_axis(yr);
  add_left_out_notes(fig, non_finite, non_positive);
  const std::size_t n_colors = palette_size();
  const auto shape_of = [&](std::int64_t c) { return static_cast<int>((static_cast<std::size_t>(c) / n_colors) % 4); };
  for (std::int64_t c : classes) {
    const auto k = static_cast<std::size_t>(c);
    fig.legend.push_back({k < class_names.size() ? class_names[k] : fmt::format("class {}", c), palette_color(k),
                          Swatch::Marker, shape_of(c)});
  }
  fig.layout();
  // Points in the given order (not grouped by class), so that no class is drawn entirely over the others.
  const double radius = x.size() > 2000 ? 2.2 : 3.2;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!keep[i]) continue;
    fig.data += marker(shape_of(labels[i]), fig.px(x[i]), fig.py(y[i]), radius,
                       palette_color(static_cast<std::size_t>(labels[i])), " fill-opacity=\"0.8\"");
  }
  return fig.finish(xr.empty() ? "no data" : "");
}

std::string roc_svg(const std::vector<RocCurve>& curves, const PlotOptions& options) {
  constexpr std::string_view op = "roc_svg";
  for (const auto& c : curves) {
    TRIDENT_CHECK(c.fpr.size() == c.tpr.size(), "{}: curve '{}' has {} fpr values and {} tpr values", op, c.name,
                  c.fpr.size(), c.tpr.size());
  }
  PlotOptions po = options;
  if (po.title.empty()) po.title = "ROC";
  if (po.x_label.empty()) po.x_label = "false positive rate";
  if (po.y_label.empty()) po.y_label = "true positive rate";
  po.log_y = false;
  Figure fig(po, op);
  Range unit;
  unit.add(0), unit.add(1);
  fig.x = linear_axis(unit);
  fig.y = linear_axis(unit);
  std::size_t non_finite = 0;
  std::vector<std::vector<std::pair<double, double>>> points(curves.size());
  for (std::size_t k = 0; k < curves.size(); ++k) {
    const RocCurve& c = curves[k];
    for (std::size_t i = 0; i < c.fpr.size(); ++i) {
      if (std::isfinite(c.fpr[i]) && std::isfinite(c.tpr[i])) {
        points[k].emplace_back(c.fpr[i], c.tpr[i]);
      } else {
        ++non_finite;
      }
    }
    const double auc = c.auc >= 0 ? c.auc : trapezoid_auc(points[k]);
    const std::string name = c.name.empty() ? fmt::format("curve {}", k) : c.name;
    fig.legend.push_back(
        {points[k].empty() && c.auc < 0 ? name + " (no points)" : fmt::format("{} (AUC = {:.3f})", name, auc),
         palette_color(k)});
  }
  fig.legend.push_back({"chance (AUC = 0.5)", "#999999", Swatch::DashedLine});
  fig.square = true;
  add_left_out_notes(fig, non_finite, 0);
  fig.layout();
  fig.data += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999999\" stroke-width=\"1.5\" "
      "stroke-dasharray=\"5,4\"/>\n",
      num(fig.px(0)), num(fig.py(0)), num(fig.px(1)), num(fig.py(1)));
  bool any = false;
  for (std::size_t k = 0; k < curves.size(); ++k) {
    std::vector<std::pair<double, double>> pix;
    for (const auto& [f, t] : points[k]) pix.emplace_back(fig.px(f), fig.py(t));
    fig.data += polyline(pix, palette_color(k));
    any = any || !pix.empty();
  }
  return fig.finish(any ? "" : "no data");
}

void save_svg(const std::string& path, const std::string& svg) { io::write_file_atomic(path, svg, "save_svg"); }

}  // namespace trident::viz
