// viz/: SVG plots (well-formed XML, ticks, legends, degenerate data), PCA, the CSV logger, report.html, and the
// headless-Chromium rendering check (skipped when Chromium is not installed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "file_testing.h"
#include "gradcheck.h"
#include "trident/core/tensor.h"
#include "trident/ops/factory.h"
#include "trident/viz/csv_log.h"
#include "trident/viz/pca.h"
#include "trident/viz/report.h"
#include "trident/viz/svg_plot.h"

namespace trident {
namespace {

using testing::read_bytes;
using testing::TempDirTest;

// ---- a minimal XML well-formedness checker ------------------------------------------------------------------------

// What the checker found: an error message (empty when well-formed), element counts by name, and the text nodes
// (entities decoded).
struct XmlDoc {
  std::string error;
  std::map<std::string, int> elements;
  std::vector<std::string> texts;
  bool has_text(const std::string& t) const {
    for (const auto& s : texts) {
      if (s.find(t) != std::string::npos) return true;
    }
    return false;
  }
};

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'));
}

// Decodes the entities of s into out; false on an unknown or unterminated entity or a raw '<'.
bool decode(const std::string& s, std::string& out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') return false;
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const std::size_t semi = s.find(';', i);
    if (semi == std::string::npos) return false;
    const std::string e = s.substr(i + 1, semi - i - 1);
    static const std::map<std::string, char> named = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    if (auto it = named.find(e); it != named.end()) {
      out += it->second;
    } else if (e.size() > 1 && e[0] == '#') {
      const bool hex = e[1] == 'x';
      const std::string digits = e.substr(hex ? 2 : 1);
      if (digits.empty() ||
          digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos) {
        return false;
      }
      out += '?';
    } else {
      return false;
    }
    i = semi;
  }
  return true;
}

// Checks tags, attributes, entities and nesting; skips the XML declaration, a DOCTYPE and comments. Exactly one root.
XmlDoc parse_xml(const std::string& s) {
  XmlDoc doc;
  std::vector<std::string> stack;
  int roots = 0;
  std::size_t i = 0;
  const auto fail = [&](const std::string& what) {
    doc.error = what + " at offset " + std::to_string(i) + ": '" + s.substr(i, 40) + "'";
    return doc;
  };
  while (i < s.size()) {
    if (s[i] != '<') {
      const std::size_t end = s.find('<', i);
      const std::string raw = s.substr(i, end == std::string::npos ? std::string::npos : end - i);
      std::string text;
      if (!decode(raw, text)) return fail("bad character data");
      if (stack.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) return fail("text outside root");
      if (!stack.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) doc.texts.push_back(text);
      i = end == std::string::npos ? s.size() : end;
      continue;
    }
    if (s.compare(i, 5, "<?xml") == 0) {
      if (i != 0) return fail("XML declaration not at the start");
      i = s.find("?>", i);
      if (i == std::string::npos) return fail("unterminated declaration");
      i += 2;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      i = s.find("-->", i);
      if (i == std::string::npos) return fail("unterminated comment");
      i += 3;
      continue;
    }
    if (s.compare(i, 9, "<!DOCTYPE") == 0) {
      i = s.find('>', i) + 1;
      continue;
    }
    const bool closing = s.compare(i, 2, "</") == 0;
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < s.size() && name_char(s[j], j == name_start)) ++j;
    const std::string name = s.substr(name_start, j - name_start);
    if (name.empty()) return fail("bad tag name");
    if (closing) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size() || s[j] != '>') return fail("bad closing tag");
      if (stack.empty() || stack.back() != name) return fail("mismatched </" + name + ">");
      stack.pop_back();
      i = j + 1;
      continue;
    }
    std::vector<std::string> attributes;
    bool self_closing = false;
    while (true) {
      const std::size_t before = j;
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size()) return fail("unterminated tag");
      if (s[j] == '>') break;
      if (s.compare(j, 2, "/>") == 0) {
        self_closing = true;
        ++j;
        break;
      }
      if (j == before) return fail("no space before attribute");
      const std::size_t a = j;
      while (j < s.size() && name_char(s[j], j == a)) ++j;
      const std::string attr = s.substr(a, j - a);
      if (attr.empty() || j >= s.size() || s[j] != '=') return fail("bad attribute");
      for (const auto& seen : attributes) {
        if (seen == attr) return fail("duplicate attribute " + attr);
      }
      attributes.push_back(attr);
      const char quote = s[j + 1];
      if (quote != '"' && quote != '\'') return fail("unquoted attribute");
      const std::size_t close = s.find(quote, j + 2);
      if (close == std::string::npos) return fail("unterminated attribute");
      std::string value;
      if (!decode(s.substr(j + 2, close - j - 2), value)) return fail("bad attribute value");
      j = close + 1;
    }
    if (stack.empty() && ++roots > 1) return fail("second root element");
    ++doc.elements[name];
    if (!self_closing) stack.push_back(name);
    i = j + 1;
  }
  if (!stack.empty()) {
    doc.error = "unclosed <" + stack.back() + ">";
  } else if (roots != 1) {
    doc.error = "no root element";
  }
  return doc;
}

// Parses and asserts well-formedness.
XmlDoc well_formed(const std::string& xml) {
  XmlDoc doc = parse_xml(xml);
  EXPECT_EQ(doc.error, "") << xml.substr(0, 2000);
  return doc;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size()) << ::testing::PrintToString(got);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * (1 + std::abs(want[i])));
}

TEST(VizXml, CheckerRejectsMalformedDocuments) {
  EXPECT_EQ(parse_xml("<a><b x=\"1\"/>t &amp; u</a>").error, "");
  EXPECT_NE(parse_xml("<a><b></a>").error, "");
  EXPECT_NE(parse_xml("<a>x < y</a>").error, "");
  EXPECT_NE(parse_xml("<a>R&D</a>").error, "");
  EXPECT_NE(parse_xml("<a x=1></a>").error, "");
  EXPECT_NE(parse_xml("<a x=\"1\" x=\"2\"></a>").error, "");
  EXPECT_NE(parse_xml("<a></a><b></b>").error, "");
}

// ---- ticks and text --------------------------------------------------------------------------------------------

TEST(VizTicks, NiceTicksOnKnownRanges) {
  expect_ticks(viz::nice_ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(viz::nice_ticks(0, 10), {0, 2, 4, 6, 8, 10});
  expect_ticks(viz::nice_ticks(3, 97), {0, 20, 40, 60, 80, 100});
  expect_ticks(viz::nice_ticks(-0.3, 0.7), {-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8});
  expect_ticks(viz::nice_ticks(0.3, 0.9), {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9});  // 0.3 / 0.1 rounds below 3
  expect_ticks(viz::nice_ticks(1e6, 5e6), {1e6, 2e6, 3e6, 4e6, 5e6});
  expect_ticks(viz::nice_ticks(0.5, 2.7, 10), {0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8});
  // One value: a range around it; zero: +-0.5.
  expect_ticks(viz::nice_ticks(5, 5), {4.4, 4.6, 4.8, 5.0, 5.2, 5.4, 5.6});
  expect_ticks(viz::nice_ticks(0, 0), {-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6});
  // Swapped and non-finite bounds.
  expect_ticks(viz::nice_ticks(10, 0), {0, 2, 4, 6, 8, 10});
  expect_ticks(viz::nice_ticks(NAN, 3), {0, 0.2, 0.4, 0.6, 0.8, 1});
  for (double t : viz::nice_ticks(-1, 0)) EXPECT_FALSE(t == 0 && std::signbit(t)) << "a -0 tick";
}

TEST(VizTicks, LogTicks) {
  expect_ticks(viz::log_ticks(0.003, 0.4), {1e-3, 1e-2, 1e-1, 1});
  expect_ticks(viz::log_ticks(2, 7), {1, 2, 5, 10});
  expect_ticks(viz::log_ticks(10, 10), {10, 20, 50, 100});
  const auto wide = viz::log_ticks(1e-10, 1e10);  // 20 decades: every third power
  expect_ticks(wide, {1e-12, 1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9, 1e12});
}

TEST(VizTicks, FormatTick) {
  EXPECT_EQ(viz::format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(viz::format_tick(0.2, 0.2), "0.2");
  EXPECT_EQ(viz::format_tick(1, 0.25), "1.00");
  EXPECT_EQ(viz::format_tick(1000, 500), "1000");
  EXPECT_EQ(viz::format_tick(-3, 1), "-3");
  EXPECT_EQ(viz::format_tick(-0.0, 0.1), "0");
  EXPECT_EQ(viz::format_tick(1e-17, 0.1), "0");  // rounding noise of a zero tick
  EXPECT_EQ(viz::format_tick(2e6, 1e6), "2e+06");
  EXPECT_EQ(viz::format_tick(1.5e6, 5e5), "1.5e+06");
  EXPECT_EQ(viz::format_tick(2.5e-5, 5e-6), "2.5e-05");
}

TEST(VizText, XmlEscape) {
  EXPECT_EQ(viz::xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  EXPECT_EQ(viz::xml_escape("caf\xc3\xa9 \xe2\x86\x92"), "caf\xc3\xa9 \xe2\x86\x92");  // UTF-8 kept
  EXPECT_EQ(viz::xml_escape("x\xffy"), "x\xef\xbf\xbdy");                              // invalid byte -> U+FFFD
  EXPECT_EQ(viz::xml_escape("a\x01"
                            "b\tc"),
            "a b\tc");  // control -> space
  EXPECT_GE(viz::palette_size(), 10u);
  EXPECT_EQ(viz::palette_color(0), viz::palette_color(viz::palette_size()));
}

// ---- plots ---------------------------------------------------------------------------------------------------------

TEST(VizPlot, LinePlotHasAxesTicksLegendAndEscapedText) {
  const viz::Series train{"train <loss>", {0, 1, 2, 3, 4}, {2.0, 1.2, 0.8, 0.6, 0.5}};
  const viz::Series val{"val & test", {0, 2, 4}, {2.1, 1.0, 0.7}};
  const std::string svg = viz::line_plot_svg(
      {train, val}, {.title = "Loss \"curve\"", .x_label = "epoch", .y_label = "loss", .markers = true});
  const XmlDoc doc = well_formed(svg);
  EXPECT_TRUE(svg.starts_with("<?xml version=\"1.0\""));
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_TRUE(doc.has_text("Loss \"curve\""));
  EXPECT_TRUE(doc.has_text("train <loss>"));
  EXPECT_TRUE(doc.has_text("val & test"));
  EXPECT_TRUE(doc.has_text("epoch"));
  EXPECT_TRUE(doc.has_text("loss"));
  for (const char* tick : {"0", "1", "2", "3", "4", "0.5", "1.0", "1.5", "2.0"}) {
    EXPECT_TRUE(doc.has_text(tick)) << tick;
  }
  EXPECT_EQ(doc.elements.at("polyline"), 3);  // two series + the axis lines
  EXPECT_EQ(doc.elements.at("circle"), 8);    // markers
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(VizPlot, LinePlotLogScaleAndDegenerateData) {
  const viz::Series s{"loss", {1, 2, 3, 4, 5, 6}, {1.0, 0.1, NAN, 0.01, -1, 0.001}};
  const std::string svg = viz::line_plot_svg({s}, {.title = "log", .log_y = true});
  const XmlDoc doc = well_formed(svg);
  for (const char* tick : {"0.001", "0.01", "0.1", "1"}) EXPECT_TRUE(doc.has_text(tick)) << tick;
  EXPECT_TRUE(doc.has_text("1 non-finite value left out"));
  EXPECT_TRUE(doc.has_text("1 value <= 0 left out (log scale)"));
  // Many decades: one notation for all the labels.
  const XmlDoc wide = well_formed(viz::line_plot_svg({{"w", {1, 2}, {1, 5e6}}}, {.log_y = true}));
  for (const char* tick : {"1e+00", "1e+03", "1e+07"}) EXPECT_TRUE(wide.has_text(tick)) << tick;
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  // No series, empty series, all-NaN series: the frame with "no data".
  for (const auto& series :
       std::vector<std::vector<viz::Series>>{{}, {{"empty", {}, {}}}, {{"nan", {NAN, 1}, {1, INFINITY}}}}) {
    const XmlDoc d = well_formed(viz::line_plot_svg(series, {.title = "empty"}));
    EXPECT_TRUE(d.has_text("no data"));
  }
  // A single point: a marker, finite ticks around it.
  const std::string one = viz::line_plot_svg({{"one", {3}, {7}}});
  const XmlDoc d1 = well_formed(one);
  EXPECT_EQ(d1.elements.at("circle"), 1);
  EXPECT_FALSE(d1.has_text("no data"));
  EXPECT_TRUE(d1.has_text("7.0"));
  EXPECT_EQ(one.find("nan"), std::string::npos);
  EXPECT_EQ(one.find("inf"), std::string::npos);

  EXPECT_THROW_MSG(viz::line_plot_svg({{"bad", {1, 2}, {1}}}), "series 'bad' has 2 x values and 1 y values");
  EXPECT_THROW_MSG(viz::line_plot_svg({}, {.width = 10}), "figure size");
}

TEST(VizPlot, HistogramOverlaysDistributionsWithSharedBins) {
  std::mt19937 gen(1);
  std::normal_distribution<double> pos(0.4, 0.1), neg(1.1, 0.2);
  viz::Distribution p{"positive pairs", {}}, n{"negative pairs", {}};
  for (int i = 0; i < 300; ++i) p.values.push_back(pos(gen));
  for (int i = 0; i < 2000; ++i) n.values.push_back(neg(gen));
  n.values.push_back(NAN);
  const std::string svg =
      viz::histogram_svg({p, n}, {.plot = {.title = "Distances", .x_label = "distance"}, .bins = 30});
  const XmlDoc doc = well_formed(svg);
  EXPECT_TRUE(doc.has_text("positive pairs (n=300)"));
  EXPECT_TRUE(doc.has_text("negative pairs (n=2000)"));
  EXPECT_TRUE(doc.has_text("density"));  // the default y label
  EXPECT_TRUE(doc.has_text("1 non-finite value left out"));
  EXPECT_EQ(doc.elements.at("path"), 2);
  EXPECT_EQ(count(svg, "fill-opacity=\"0.35\""), 4u);  // two histograms, two legend boxes
  // Each path has 2 points per bin plus the two on the axis: every distribution uses the same 30 bins.
  std::size_t from = 0;
  for (int k = 0; k < 2; ++k) {
    from = svg.find("<path d=\"", from) + 1;
    const std::string d = svg.substr(from, svg.find('"', from + 8) - from);
    EXPECT_EQ(count(d, " L"), 2u * 30 + 1);
  }
  // Degenerate: no values, one value, all equal values, counts instead of densities, log scale.
  EXPECT_TRUE(well_formed(viz::histogram_svg({{"none", {}}})).has_text("no data"));
  EXPECT_TRUE(well_formed(viz::histogram_svg({{"one", {2.5}}}, {.density = false})).has_text("count"));
  EXPECT_FALSE(well_formed(viz::histogram_svg({{"same", {1, 1, 1}}, {"x", {}}})).has_text("no data"));
  const std::string log = viz::histogram_svg({p, n}, {.plot = {.log_y = true}});
  well_formed(log);
  EXPECT_EQ(log.find("nan"), std::string::npos);
  EXPECT_THROW_MSG(viz::histogram_svg({p}, {.bins = 0}), "bins must be in [1, 100000], got 0");
}

TEST(VizPlot, ScatterColoursClassesAndNamesThem) {
  std::vector<double> x, y;
  std::vector<std::int64_t> labels;
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 5; ++i) {
      x.push_back(c + 0.1 * i);
      y.push_back(c * c - 0.1 * i);
      labels.push_back(c);
    }
  }
  x.push_back(NAN), y.push_back(1), labels.push_back(0);
  const std::string svg =
      viz::scatter_svg(x, y, labels, {"zero", "one", "two"}, {.title = "Embedding map", .x_label = "PC1"});
  const XmlDoc doc = well_formed(svg);
  for (const char* name : {"zero", "one", "two", "class 3"}) EXPECT_TRUE(doc.has_text(name)) << name;
  EXPECT_EQ(doc.elements.at("circle"), 20 + 4);  // points + legend markers (the NaN point is left out)
  EXPECT_TRUE(doc.has_text("1 non-finite value left out"));
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(count(svg, std::string("fill=\"") + std::string(viz::palette_color(c)) + "\""), 6u) << c;
  }

  // More classes than colours: other marker shapes; more classes than legend rows: "+ k more".
  x.clear(), y.clear(), labels.clear();
  for (int c = 0; c < 45; ++c) x.push_back(c), y.push_back(c % 7), labels.push_back(c);
  const std::string many = viz::scatter_svg(x, y, labels);
  const XmlDoc dm = well_formed(many);
  EXPECT_GT(dm.elements.at("rect"), 3);     // squares for classes 20..39
  EXPECT_GT(dm.elements.at("polygon"), 0);  // triangles for 40..44
  EXPECT_TRUE(dm.has_text(" more"));

  EXPECT_TRUE(well_formed(viz::scatter_svg({}, {}, {})).has_text("no data"));
  EXPECT_THROW_MSG(viz::scatter_svg({1}, {1}, {-1}), "labels must be >= 0, got -1 at index 0");
  EXPECT_THROW_MSG(viz::scatter_svg({1, 2}, {1}, {0, 0}), "same length");
}

TEST(VizPlot, RocCurveWithDiagonalAndAuc) {
  const viz::RocCurve perfect{"perfect", {0, 0, 1}, {0, 1, 1}};
  const viz::RocCurve model{"model", {0, 0.1, 0.3, 1}, {0, 0.6, 0.9, 1}};
  const viz::RocCurve given{"given", {0, 1}, {0, 1}, 0.75};
  const std::string svg = viz::roc_svg({perfect, model, given});
  const XmlDoc doc = well_formed(svg);
  EXPECT_TRUE(doc.has_text("ROC"));
  EXPECT_TRUE(doc.has_text("perfect (AUC = 1.000)"));
  // 0.1 * 0.6 / 2 + 0.2 * 1.5 / 2 + 0.7 * 1.9 / 2 = 0.03 + 0.15 + 0.665
  EXPECT_TRUE(doc.has_text("model (AUC = 0.845)"));
  EXPECT_TRUE(doc.has_text("given (AUC = 0.750)"));
  EXPECT_TRUE(doc.has_text("chance (AUC = 0.5)"));
  EXPECT_TRUE(doc.has_text("false positive rate"));
  EXPECT_TRUE(doc.has_text("true positive rate"));
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
  EXPECT_TRUE(well_formed(viz::roc_svg({})).has_text("no data"));
  EXPECT_TRUE(well_formed(viz::roc_svg({{"empty", {}, {}}})).has_text("empty (no points)"));
}

TEST_F(TempDirTest, VizSaveSvgWritesTheDocument) {
  const std::string svg = viz::line_plot_svg({{"a", {0, 1}, {0, 1}}});
  viz::save_svg(path("a.svg"), svg);
  EXPECT_EQ(read_bytes(path("a.svg")), svg);
  EXPECT_EQ(testing::list_dir(dir_), std::vector<std::string>{"a.svg"});  // no temporary left
  EXPECT_THROW_MSG(viz::save_svg(path("missing/a.svg"), svg), "save_svg");
}

// ---- PCA -----------------------------------------------------------------------------------------------------------

TEST(VizPca, SymmetricEigenOfAKnownMatrix) {
  const viz::SymmetricEigen e = viz::symmetric_eigen({2, 1, 0, 1, 2, 0, 0, 0, 5}, 3);
  ASSERT_EQ(e.values.size(), 3u);
  EXPECT_NEAR(e.values[0], 5, 1e-12);
  EXPECT_NEAR(e.values[1], 3, 1e-12);
  EXPECT_NEAR(e.values[2], 1, 1e-12);
  const double r = 1 / std::sqrt(2.0);
  const std::vector<double> want = {0, 0, 1, r, r, 0, r, -r, 0};  // largest-magnitude entry positive, first on a tie
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(e.vectors[i], want[i], 1e-12) << i;
}

// Points a_i u + b_i v (+ tiny noise) with var(a) = 9 var(b): the components are u and v.
std::vector<double> planted(std::int64_t n, const std::vector<double>& u, const std::vector<double>& v, double noise,
                            std::vector<double>* a_out = nullptr) {
  const auto d = static_cast<std::int64_t>(u.size());
  std::mt19937 gen(7);
  std::normal_distribution<double> g;
  // a and b centred and exactly uncorrelated, so that (without noise) the covariance is var(a) u u^T + var(b) v v^T.
  std::vector<double> a(n), b(n);
  double ma = 0, mb = 0;
  for (std::int64_t i = 0; i < n; ++i) a[i] = 3 * g(gen), b[i] = g(gen), ma += a[i] / n, mb += b[i] / n;
  double ab = 0, aa = 0;
  for (std::int64_t i = 0; i < n; ++i) a[i] -= ma, b[i] -= mb, ab += a[i] * b[i], aa += a[i] * a[i];
  for (std::int64_t i = 0; i < n; ++i) b[i] -= ab / aa * a[i];
  if (a_out) *a_out = a;
  std::vector<double> data(n * d);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) data[i * d + j] = 5.0 + a[i] * u[j] + b[i] * v[j] + noise * g(gen);
  }
  return data;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(VizPca, FindsKnownPrincipalAxesIn3D) {
  const std::vector<double> u = {1.0 / 3, 2.0 / 3, 2.0 / 3}, v = {2.0 / 3, 1.0 / 3, -2.0 / 3};
  std::vector<double> a;
  const auto data = planted(500, u, v, 0.0, &a);
  const viz::Pca2 p = viz::pca_2d(data, 500, 3);
  // Sign convention: u's largest entries tie (2/3 at 1 and 2): the first is positive, so +u; v: 2/3 at 0 -> +v.
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(p.component[0][j], u[j], 1e-10);
    EXPECT_NEAR(p.component[1][j], v[j], 1e-10);
  }
  // Without noise the data lies in the plane: the two components explain everything, x is a minus its mean.
  EXPECT_NEAR(p.explained(0) + p.explained(1), 1.0, 1e-12);
  for (int i = 0; i < 500; ++i) EXPECT_NEAR(p.x[i], a[i], 1e-9);  // a is centred
  for (int j = 0; j < 3; ++j) {
    double m = 0;
    for (int i = 0; i < 500; ++i) m += data[i * 3 + j] / 500;
    EXPECT_NEAR(p.mean[j], m, 1e-12);
  }
  EXPECT_GT(p.variance[0], 6 * p.variance[1]);
  EXPECT_EQ(p.axis_label(0).substr(0, 5), "PC1 (");
}

TEST(VizPca, SubspaceIterationInHighDimensions) {
  // D = 100 > 64: subspace iteration. u, v: orthonormal, spread over all coordinates.
  const int d = 100;
  std::vector<double> u(d), v(d);
  for (int j = 0; j < d; ++j) u[j] = std::sin(0.3 * j + 1), v[j] = std::cos(0.7 * j);
  const double uu = std::sqrt(dot(u, u));
  for (double& x : u) x /= uu;
  const double uv = dot(u, v);
  for (int j = 0; j < d; ++j) v[j] -= uv * u[j];
  const double vv = std::sqrt(dot(v, v));
  for (double& x : v) x /= vv;
  const auto data = planted(400, u, v, 0.01);
  const viz::Pca2 p = viz::pca_2d(data, 400, d);
  EXPECT_NEAR(std::abs(dot(p.component[0], u)), 1.0, 1e-4);
  EXPECT_NEAR(std::abs(dot(p.component[1], v)), 1.0, 1e-4);
  EXPECT_NEAR(dot(p.component[0], p.component[1]), 0.0, 1e-10);
  EXPECT_NEAR(dot(p.component[0], p.component[0]), 1.0, 1e-10);
  // The same covariance's full Jacobi decomposition agrees on the eigenvalues.
  std::vector<double> cov(d * d, 0.0);
  for (int i = 0; i < 400; ++i) {
    for (int a = 0; a < d; ++a) {
      for (int b = 0; b < d; ++b) cov[a * d + b] += (data[i * d + a] - p.mean[a]) * (data[i * d + b] - p.mean[b]) / 399;
    }
  }
  const viz::SymmetricEigen e = viz::symmetric_eigen(cov, d);
  EXPECT_NEAR(p.variance[0], e.values[0], 1e-9 * e.values[0]);
  EXPECT_NEAR(p.variance[1], e.values[1], 1e-9 * e.values[0]);
  for (int j = 0; j < d; ++j) {
    EXPECT_NEAR(p.component[0][j], e.vectors[j], 1e-6);  // same sign convention
    EXPECT_NEAR(p.component[1][j], e.vectors[d + j], 1e-6);
  }
  // Deterministic.
  const viz::Pca2 again = viz::pca_2d(data, 400, d);
  EXPECT_EQ(again.x, p.x);
  EXPECT_EQ(again.y, p.y);
}

TEST(VizPca, TensorInputAndDegenerateCases) {
  const std::vector<double> u = {0.6, 0.8}, v = {-0.8, 0.6};
  const auto data = planted(50, u, v, 0.0);
  const Tensor t = tensor(std::vector<float>(data.begin(), data.end()), {50, 2});
  const viz::Pca2 pt = viz::pca_2d(t), pv = viz::pca_2d(data, 50, 2);
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(pt.x[i], pv.x[i], 1e-4);
  EXPECT_NEAR(pt.component[0][1], 0.8, 1e-6);

  const viz::Pca2 one = viz::pca_2d({1, 2, 3}, 1, 3);  // N = 1: everything projects to 0
  EXPECT_EQ(one.x, std::vector<double>{0.0});
  EXPECT_EQ(one.y, std::vector<double>{0.0});
  EXPECT_EQ(one.explained(0), 0.0);
  EXPECT_NEAR(dot(one.component[0], one.component[1]), 0.0, 1e-12);
  const viz::Pca2 line = viz::pca_2d({1, 2, 4}, 3, 1);  // D = 1: y all 0
  EXPECT_EQ(line.y, std::vector<double>(3, 0.0));
  EXPECT_NEAR(line.x[2], 4 - 7.0 / 3, 1e-12);
  EXPECT_NEAR(line.explained(0), 1.0, 1e-12);

  EXPECT_THROW_MSG(viz::pca_2d({1, NAN}, 1, 2), "pca_2d: non-finite value nan at row 0, column 1");
  EXPECT_THROW_MSG(viz::pca_2d({}, 0, 2), "need at least one row");
  EXPECT_THROW_MSG(viz::pca_2d(tensor(std::vector<float>{1, 2}, {2})), "must be [N, D], got [2]");
  EXPECT_THROW_MSG(viz::pca_2d(tensor(std::vector<std::int64_t>{1, 2}, {1, 2})), "float32 or float64");
}

// ---- CSV -----------------------------------------------------------------------------------------------------------

TEST(VizCsv, QuotingFollowsRfc4180) {
  EXPECT_EQ(viz::csv_quote("plain"), "plain");
  EXPECT_EQ(viz::csv_quote(""), "");
  EXPECT_EQ(viz::csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(viz::csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(viz::csv_quote("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(viz::csv_quote("cr\r"), "\"cr\r\"");
  EXPECT_EQ(viz::csv_quote(" padded"), "\" padded\"");
  EXPECT_EQ(viz::CsvCell(0.1).field(), "0.1");
  EXPECT_EQ(viz::CsvCell(1e-5).field(), "1e-05");
  EXPECT_EQ(viz::CsvCell(NAN).field(), "nan");
  EXPECT_EQ(viz::CsvCell(-INFINITY).field(), "-inf");
  EXPECT_EQ(viz::CsvCell(42).field(), "42");
  EXPECT_EQ(viz::CsvCell(std::int64_t{1} << 40).field(), "1099511627776");
  EXPECT_EQ(viz::CsvCell().field(), "");
}

TEST_F(TempDirTest, VizCsvLogWritesWholeRowsAsItGoes) {
  {
    viz::CsvLog log(path("log.csv"), {"epoch", "loss", "note, quoted"});
    EXPECT_EQ(read_bytes(path("log.csv")), "epoch,loss,\"note, quoted\"\r\n");  // the header is there at once
    log.row({1, 0.5, "start"});
    EXPECT_EQ(read_bytes(path("log.csv")), "epoch,loss,\"note, quoted\"\r\n1,0.5,start\r\n");  // flushed per row
    log.row({2, 0.25, "he said \"ok\""});
    log.row({3, {}, "a\nb"});
    EXPECT_EQ(log.rows(), 3);
    EXPECT_THROW_MSG(log.row({4, 0.1}), "expected 3 cells (one per column), got 2");
  }
  EXPECT_EQ(read_bytes(path("log.csv")),
            "epoch,loss,\"note, quoted\"\r\n1,0.5,start\r\n2,0.25,\"he said \"\"ok\"\"\"\r\n3,,\"a\nb\"\r\n");
  EXPECT_THROW_MSG(viz::CsvLog(path("missing/log.csv"), {"a"}), "CsvLog: cannot create");
  EXPECT_THROW_MSG(viz::CsvLog(path("none.csv"), {}), "at least one column");
}

// ---- report --------------------------------------------------------------------------------------------------------

// A report with every kind of figure, as an example would make it.
viz::Report sample_report(std::vector<std::string>* svgs) {
  std::mt19937 gen(3);
  std::normal_distribution<double> g;
  std::vector<double> steps, train, val;
  for (int i = 0; i <= 50; ++i) {
    steps.push_back(i * 20);
    train.push_back(2.0 * std::exp(-i / 12.0) + 0.05 + 0.02 * std::abs(g(gen)));
    val.push_back(2.1 * std::exp(-i / 14.0) + 0.12);
  }
  viz::Distribution pos{"positive pairs", {}}, neg{"negative pairs", {}};
  for (int i = 0; i < 400; ++i) pos.values.push_back(0.45 + 0.12 * g(gen));
  for (int i = 0; i < 3000; ++i) neg.values.push_back(1.15 + 0.2 * g(gen));
  // Embeddings: 8 classes around centres in 16-D, projected by PCA.
  const int classes = 12, per = 40, d = 16;
  std::vector<double> emb;
  std::vector<std::int64_t> labels;
  std::vector<std::string> names;
  for (int c = 0; c < classes; ++c) {
    names.push_back("person " + std::to_string(c));
    std::vector<double> centre(d);
    for (double& x : centre) x = 2.5 * g(gen);
    for (int i = 0; i < per; ++i) {
      for (int j = 0; j < d; ++j) emb.push_back(centre[j] + 0.5 * g(gen));
      labels.push_back(c);
    }
  }
  const viz::Pca2 p = viz::pca_2d(emb, classes * per, d);
  std::vector<double> fpr = {0}, tpr = {0};
  for (int i = 1; i <= 40; ++i) {
    const double f = i / 40.0;
    fpr.push_back(f);
    tpr.push_back(std::pow(f, 0.15));
  }
  svgs->push_back(viz::line_plot_svg({{"train", steps, train}, {"validation", steps, val}},
                                     {.title = "Loss", .x_label = "step", .y_label = "loss", .log_y = true}));
  svgs->push_back(viz::histogram_svg(
      {pos, neg}, {.plot = {.title = "Pair distances (test set)", .x_label = "euclidean distance"}, .bins = 40}));
  svgs->push_back(viz::scatter_svg(
      p.x, p.y, labels, names,
      {.title = "Embedding map (PCA)", .x_label = p.axis_label(0), .y_label = p.axis_label(1), .height = 520}));
  svgs->push_back(viz::roc_svg({{"verification", fpr, tpr}}, {.width = 640, .height = 460}));
  viz::Report r("Metric learning <demo> & report");
  r.settings({{"loss", "triplet (batch-hard)"}, {"margin", "0.2"}, {"embedding dim", std::to_string(d)}});
  r.metrics({{"recall@1", 0.91234567}, {"MAP@R", 0.634}, {"AUC", 0.9712}, {"broken", NAN}});
  r.note("Positive pairs end up closer than negative pairs.\nThe margin is 0.2.");
  r.figure((*svgs)[0], "Training and validation loss (log scale).");
  r.figure((*svgs)[1], "Distances of positive vs negative pairs.");
  r.heading("Embeddings");
  r.figure((*svgs)[2], "Test embeddings projected on their first two principal components.");
  r.figure((*svgs)[3], "Verification ROC.");
  r.table("Per-class recall", {"class", "recall@1"}, {{"person 0", "0.95"}, {"person 1", "0.88"}});
  return r;
}

// The body of an SVG document as it is inlined (without the XML declaration).
std::string svg_body(const std::string& svg) { return svg.substr(svg.find("<svg")); }

TEST_F(TempDirTest, VizReportInlinesEveryFigureAndTheTables) {
  std::vector<std::string> svgs;
  const viz::Report r = sample_report(&svgs);
  const std::string html = r.html();
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
  const XmlDoc doc = well_formed(html);  // polyglot markup: also well-formed XML
  EXPECT_EQ(doc.elements.at("svg"), 4);
  EXPECT_EQ(doc.elements.at("figure"), 4);
  EXPECT_EQ(doc.elements.at("table"), 3);
  for (const auto& svg : svgs) EXPECT_NE(html.find(svg_body(svg)), std::string::npos);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_TRUE(doc.has_text("Metric learning <demo> & report"));
  for (const char* cell : {"recall@1", "0.9123", "MAP@R", "0.634", "nan", "margin", "0.2", "triplet (batch-hard)",
                           "Figure 3. Test embeddings", "person 1", "0.88"}) {
    EXPECT_TRUE(doc.has_text(cell)) << cell;
  }
  EXPECT_NE(html.find("<br />"), std::string::npos);
  r.save(path("report.html"));
  EXPECT_EQ(read_bytes(path("report.html")), html);
  if (const char* out = std::getenv("TRIDENT_VIZ_OUT")) r.save(std::string(out) + "/report.html");  // to look at

  viz::Report bad("x");
  EXPECT_THROW_MSG(bad.figure("<html></html>"), "Report::figure: expected an SVG document");
  EXPECT_NO_THROW(bad.figure("  <svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"));
}

// ---- the browser check
// -----------------------------------------------------------------------------------------------

bool have_chromium() {
  if (const char* c = std::getenv("CHROMIUM"); c && *c) return true;
  return std::system("command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1") == 0;
}

TEST_F(TempDirTest, VizReportRendersInHeadlessChromium) {
  if (!have_chromium()) {
    GTEST_SKIP() << "Chromium is not installed (Debian: apt-get install chromium): the headless rendering check of "
                    "report.html is skipped";
  }
  std::vector<std::string> svgs;
  sample_report(&svgs).save(path("report.html"));
  const std::string command = std::string(TRIDENT_SOURCE_DIR) + "/scripts/check-report.sh " + path("report.html") +
                              " " + path("report.png") + " 1100x2600";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(WEXITSTATUS(status), 0) << command;
  EXPECT_GT(read_bytes(path("report.png")).size(), 20000u);
}

}  // namespace
}  // namespace trident
