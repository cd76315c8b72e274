// One self-contained report.html per run: a title, the run's settings, a metrics table, notes and figures (SVGs from
// svg_plot.h inlined, no external files, scripts or fonts), in the order they were added.
//
//   viz::Report r("Triplet loss on synthetic faces");
//   r.settings({{"loss", "triplet (batch-hard)"}, {"margin", "0.2"}, {"epochs", "10"}});
//   r.metrics({{"recall@1", 0.912}, {"MAP@R", 0.634}});
//   r.note("Distances of positive pairs shrink while negatives move beyond the margin.");
//   r.figure(viz::histogram_svg(...), "Positive vs negative distances on the test set");
//   r.save("out/report.html");   // atomic (core/io/atomic_file.h)
//
// The page is HTML5 written as polyglot markup (also well-formed XML: void elements self-closed, every attribute
// quoted, text escaped), so an XML parser can check it. Figures scale down to the page width. Text given to the
// report is escaped; the SVG given to figure() is inserted as it is (without its <?xml ...?> declaration), so it must
// be an <svg> document such as svg_plot.h makes -- figure() throws trident::Error when it does not start with <svg.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace trident::viz {

class Report {
 public:
  explicit Report(std::string title);

  // A "Settings" table of name/value pairs (e.g. the command line options).
  Report& settings(const std::vector<std::pair<std::string, std::string>>& name_values,
                   const std::string& heading = "Settings");
  // A "Metrics" table: name and value, values printed with `precision` significant digits (non-finite as nan/inf).
  Report& metrics(const std::vector<std::pair<std::string, double>>& name_values,
                  const std::string& heading = "Metrics", int precision = 4);
  // A general table: a header row and rows of text cells (rows shorter than the header are padded).
  Report& table(const std::string& heading, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);
  // A section heading.
  Report& heading(const std::string& text);
  // A paragraph of text (newlines kept as line breaks).
  Report& note(const std::string& text);
  // A figure: the SVG inline, with a caption under it.
  Report& figure(const std::string& svg, const std::string& caption = "");

  // The whole HTML document.
  std::string html() const;
  // Writes html() to path atomically; throws trident::Error on I/O failure.
  void save(const std::string& path) const;

 private:
  std::string title_;
  std::vector<std::string> blocks_;  // HTML fragments in order
  int figures_ = 0;
};

// Text escaped for HTML (the same as xml_escape: & < > " ' and invalid UTF-8).
std::string html_escape(const std::string& text);

}  // namespace trident::viz
