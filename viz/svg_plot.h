// Self-contained SVG 1.1 plots for the examples: line plots, overlaid histograms, class-coloured scatter plots and
// ROC curves. No dependencies: each function returns the whole SVG document as a string (with the XML declaration;
// report.h strips it when it inlines the figure into HTML), and save_svg writes one atomically.
//
//   viz::PlotOptions o{.title = "Training loss", .x_label = "step", .y_label = "loss", .log_y = true};
//   std::string svg = viz::line_plot_svg({{"train", steps, train_loss}, {"val", steps, val_loss}}, o);
//   viz::save_svg("out/loss.svg", svg);
//
// Layout: title on top, the plot area with a light grid, axes with "nice" ticks (1, 2 or 5 times a power of ten;
// decades on a log axis) and their labels, and the legend in a column to the right of the plot area (never over the
// data). Text is XML-escaped. Colours come from a fixed 20-colour palette (palette_color); a scatter plot with more
// classes than colours cycles the colours and changes the marker shape (circle, square, triangle, diamond).
//
// Degenerate data never throws and never produces NaN in the document:
//   - non-finite values (NaN, +-inf) are left out: a line series is broken at them, a histogram or scatter plot skips
//     them, and the plot says so in a note under the title ("3 non-finite values left out");
//   - on a log-y axis, values <= 0 are left out the same way ("2 values <= 0 left out (log scale)");
//   - with nothing left to draw (empty data), the plot is the frame with "no data" in its middle;
//   - a single point (or all-equal values) gets a range around it (+-0.5, or +-10% of the value) and a marker.
// Only a caller's programming error throws trident::Error: x and y of different lengths, labels that do not match
// the points, a negative label, a size too small to draw in, bins < 1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trident::viz {

struct PlotOptions {
  std::string title{};
  std::string x_label{};
  std::string y_label{};
  int width = 720;   // pixels, the whole figure including the legend column
  int height = 440;  // pixels
  bool log_y = false;
  // Line plots: draw a marker at every point (always drawn for a series of one point).
  bool markers = false;
};

// One named curve of a line plot: y[i] at x[i] (x and y of equal length; x need not be sorted, the line joins the
// points in the given order).
struct Series {
  std::string name{};
  std::vector<double> x{};
  std::vector<double> y{};
};

// One sample of a histogram (e.g. the distances of positive pairs).
struct Distribution {
  std::string name{};
  std::vector<double> values{};
};

struct HistogramOptions {
  PlotOptions plot{};
  int bins = 40;
  // Divide each distribution's counts by (its size * bin width), so that samples of different sizes compare (a
  // probability density); otherwise plain counts. The y-axis label defaults to "density" or "count".
  bool density = true;
};

// One ROC curve: (fpr[i], tpr[i]) points, usually from (0, 0) to (1, 1). auc < 0 (the default) means: compute it from
// the points with the trapezoidal rule after sorting them by fpr.
struct RocCurve {
  std::string name{};
  std::vector<double> fpr{};
  std::vector<double> tpr{};
  double auc = -1;
};

// Line plot of several named series (legend shows the names).
std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& options = {});

// Overlaid histograms of two or more distributions sharing the same bins (over the range of all finite values),
// filled with transparency; the legend shows each name with its number of values.
std::string histogram_svg(const std::vector<Distribution>& distributions, const HistogramOptions& options = {});

// Scatter plot of points (x[i], y[i]) coloured by class labels[i] (>= 0). class_names[k] names class k in the
// legend ("class k" where class_names is shorter). The legend lists the classes present, as many as fit.
std::string scatter_svg(const std::vector<double>& x, const std::vector<double>& y,
                        const std::vector<std::int64_t>& labels, const std::vector<std::string>& class_names = {},
                        const PlotOptions& options = {});

// ROC curves on the unit square with the chance diagonal; the legend shows "name (AUC = 0.934)". The default axis
// labels are "false positive rate" and "true positive rate"; a plot with no options.title is titled "ROC". The plot
// area is at most as wide as it is tall (the legend follows it), so a figure about 1.6 times wider than tall fills.
std::string roc_svg(const std::vector<RocCurve>& curves, const PlotOptions& options = {});

// Writes an SVG document to path atomically (core/io/atomic_file.h); throws trident::Error on I/O failure.
void save_svg(const std::string& path, const std::string& svg);

// ---- building blocks (public so that tests and other plots can use them) -----------------------------------------

// "Nice" tick values covering [lo, hi]: about `target` multiples of a step of 1, 2 or 5 times a power of ten, from
// the largest multiple <= lo to the smallest >= hi (so the axis ends on ticks). lo == hi or non-finite bounds give a
// range around the value. Always at least two ticks, increasing.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Tick values for a log axis covering [lo, hi] (0 < lo <= hi): powers of ten from the one <= lo to the one >= hi
// (every k-th power when there are many decades), with 2 and 5 between them when the range spans at most one decade.
std::vector<double> log_ticks(double lo, double hi);
// A tick label for v on an axis whose ticks are `step` apart: just enough decimals to tell the ticks apart ("0.25",
// "1000", "-3"), scientific notation for very large or very small magnitudes ("1e+06", "2.5e-05"), never "-0".
std::string format_tick(double v, double step);
// Text escaped for XML character data and attribute values: & < > " ' become entities; control characters other
// than tab and newline (not allowed in XML 1.0) become spaces.
std::string xml_escape(std::string_view text);
// The i-th colour of the categorical palette ("#1f77b4", ...), i taken modulo palette_size().
std::string_view palette_color(std::size_t i);
std::size_t palette_size();

}  // namespace trident::viz
