// report.html: see report.h.
#include "trident/viz/report.h"

#include <algorithm>
#include <cmath>

#include "trident/core/error.h"
#include "trident/core/io/atomic_file.h"
#include "trident/viz/svg_plot.h"

namespace trident::viz {

namespace {

constexpr const char* kStyle = R"css(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222222; background: #ffffff;
       max-width: 960px; margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; border-bottom: 2px solid #1f77b4; padding-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.6em; color: #1f4e79; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.95em; }
th, td { border: 1px solid #d0d0d0; padding: 4px 10px; text-align: left; }
th { background: #eef3f8; }
td.num { text-align: right; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
figure { margin: 1.2em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e0e0e0; }
figcaption { font-size: 0.9em; color: #555555; margin-top: 0.3em; }
p.note { margin: 0.6em 0; }
footer { margin-top: 2em; font-size: 0.8em; color: #888888; }
)css";

std::string table_html(const std::string& heading, const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& numeric) {
  std::string s;
  if (!heading.empty()) s += "<h2>" + html_escape(heading) + "</h2>\n";
  s += "<table>\n<thead><tr>";
  for (const auto& h : header) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    s += "<tr>";
    for (std::size_t i = 0; i < std::max(row.size(), header.size()); ++i) {
      const bool num = i < numeric.size() && numeric[i];
      s += num ? "<td class=\"num\">" : "<td>";
      if (i < row.size()) s += html_escape(row[i]);
      s += "</td>";
    }
    s += "</tr>\n";
  }
  s += "</tbody>\n</table>\n";
  return s;
}

}  // namespace

std::string html_escape(const std::string& text) { return xml_escape(text); }

Report::Report(std::string title) : title_(std::move(title)) {}

Report& Report::settings(const std::vector<std::pair<std::string, std::string>>& name_values,
                         const std::string& heading) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, value] : name_values) rows.push_back({name, value});
  blocks_.push_back(table_html(heading, {"setting", "value"}, rows, {false, false}));
  return *this;
}

Report& Report::metrics(const std::vector<std::pair<std::string, double>>& name_values, const std::string& heading,
                        int precision) {
  precision = std::clamp(precision, 1, 17);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, value] : name_values) {
    rows.push_back({name, std::isfinite(value) ? fmt::format("{:.{}g}", value, precision)
                                               : (std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"))});
  }
  blocks_.push_back(table_html(heading, {"metric", "value"}, rows, {false, true}));
  return *this;
}

Report& Report::table(const std::string& heading, const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows) {
  blocks_.push_back(table_html(heading, header, rows, {}));
  return *this;
}

Report& Report::heading(const std::string& text) {
  blocks_.push_back("<h2>" + html_escape(text) + "</h2>\n");
  return *this;
}

Report& Report::note(const std::string& text) {
  std::string escaped = html_escape(text), s;
  for (char c : escaped) {
    if (c == '\n') {
      s += "<br />";
    } else {
      s += c;
    }
  }
  blocks_.push_back("<p class=\"note\">" + s + "</p>\n");
  return *this;
}

Report& Report::figure(const std::string& svg, const std::string& caption) {
  std::string_view body = svg;
  // Drop the XML declaration (and leading white space): HTML has no place for it.
  const auto skip_space = [&] {
    while (!body.empty() &&
           (body.front() == ' ' || body.front() == '\n' || body.front() == '\r' || body.front() == '\t'))
      body.remove_prefix(1);
  };
  skip_space();
  if (body.starts_with("<?xml")) {
    const std::size_t end = body.find("?>");
    TRIDENT_CHECK(end != std::string_view::npos, "Report::figure: unterminated XML declaration");
    body.remove_prefix(end + 2);
    skip_space();
  }
  TRIDENT_CHECK(body.starts_with("<svg"), "Report::figure: expected an SVG document starting with <svg, got '{}'",
                std::string(body.substr(0, 20)));
  ++figures_;
  std::string s = fmt::format("<figure id=\"figure-{}\">\n", figures_);
  s += body;
  if (!s.ends_with('\n')) s += '\n';
  if (!caption.empty()) s += fmt::format("<figcaption>Figure {}. {}</figcaption>\n", figures_, html_escape(caption));
  s += "</figure>\n";
  blocks_.push_back(std::move(s));
  return *this;
}

std::string Report::html() const {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n";
  s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n";
  s += "<title>" + html_escape(title_) + "</title>\n";
  s += std::string("<style>") + kStyle + "</style>\n</head>\n<body>\n";
  s += "<h1>" + html_escape(title_) + "</h1>\n";
  for (const auto& block : blocks_) s += block;
  s += "<footer>Written by trident (viz/report.h).</footer>\n</body>\n</html>\n";
  return s;
}

void Report::save(const std::string& path) const { io::write_file_atomic(path, html(), "Report::save"); }

}  // namespace trident::viz
