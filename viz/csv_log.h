// A CSV logger for training curves: a header row of named columns, then one row per call, each written to the file
// with a single write(2) as soon as it is logged, so a crash (or a reader tailing the file) sees a valid prefix of
// whole rows. (The data reaches the kernel at once; it is not fsync'ed per row.)
//
//   viz::CsvLog log("out/train.csv", {"epoch", "step", "loss", "lr", "note"});
//   log.row({1, 100, 0.4321, 1e-3, "warm-up"});       // numbers, strings, or empty cells ({} )
//
// Format (RFC 4180): fields separated by commas, records ended by CRLF; a field containing a comma, a double quote,
// CR or LF, or starting/ending with a space, is enclosed in double quotes with its quotes doubled. Doubles are written
// in the shortest form that reads back to the same value ("0.1", "1e-05"); NaN and infinities as "nan", "inf",
// "-inf" (what Python's float() and pandas read). The file is created (truncated) by the constructor; the header is
// its first row. Errors (cannot open, write failure, a row with the wrong number of cells) throw trident::Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace trident::viz {

// One cell: empty, an integer, a double or text.
class CsvCell {
 public:
  CsvCell() = default;
  CsvCell(double v) : v_(v) {}
  CsvCell(float v) : v_(static_cast<double>(v)) {}
  CsvCell(int v) : v_(static_cast<std::int64_t>(v)) {}
  CsvCell(long v) : v_(static_cast<std::int64_t>(v)) {}
  CsvCell(long long v) : v_(static_cast<std::int64_t>(v)) {}
  CsvCell(unsigned v) : v_(static_cast<std::int64_t>(v)) {}
  CsvCell(unsigned long v) : v_(static_cast<std::int64_t>(v)) {}
  CsvCell(std::string v) : v_(std::move(v)) {}
  CsvCell(std::string_view v) : v_(std::string(v)) {}
  CsvCell(const char* v) : v_(std::string(v)) {}
  // The field as it appears in the file (quoted when needed).
  std::string field() const;

 private:
  std::variant<std::monostate, std::int64_t, double, std::string> v_;
};

// The text quoted as an RFC 4180 field when it needs to be (see above), else unchanged.
std::string csv_quote(std::string_view text);

class CsvLog {
 public:
  CsvLog(std::string path, std::vector<std::string> columns);
  ~CsvLog();
  CsvLog(const CsvLog&) = delete;
  CsvLog& operator=(const CsvLog&) = delete;

  // Appends one row: exactly one cell per column.
  void row(const std::vector<CsvCell>& cells);

  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& path() const { return path_; }
  std::int64_t rows() const { return rows_; }  // data rows written so far (not counting the header)

 private:
  void write_line(const std::string& line);
  std::string path_;
  std::vector<std::string> columns_;
  int fd_ = -1;
  std::int64_t rows_ = 0;
};

}  // namespace trident::viz
