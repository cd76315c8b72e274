// CSV logger: see csv_log.h.
#include "trident/viz/csv_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "trident/core/error.h"

namespace trident::viz {

std::string csv_quote(std::string_view text) {
  const bool needs = text.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!needs) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string CsvCell::field() const {
  switch (v_.index()) {
    case 1:
      return fmt::format("{}", std::get<std::int64_t>(v_));
    case 2: {
      const double v = std::get<double>(v_);
      if (std::isnan(v)) return "nan";
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
      return fmt::format("{}", v);  // shortest round-trip form
    }
    case 3:
      return csv_quote(std::get<std::string>(v_));
    default:
      return {};
  }
}

CsvLog::CsvLog(std::string path, std::vector<std::string> columns)
    : path_(std::move(path)), columns_(std::move(columns)) {
  TRIDENT_CHECK(!columns_.empty(), "CsvLog: {}: at least one column is needed", path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  TRIDENT_CHECK(fd_ >= 0, "CsvLog: cannot create {}: {}", path_, std::strerror(errno));
  std::string header;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (i) header += ',';
    header += csv_quote(columns_[i]);
  }
  write_line(header);
}

CsvLog::~CsvLog() {
  if (fd_ >= 0) ::close(fd_);
}

void CsvLog::row(const std::vector<CsvCell>& cells) {
  TRIDENT_CHECK(cells.size() == columns_.size(), "CsvLog::row: {}: expected {} cells (one per column), got {}", path_,
                columns_.size(), cells.size());
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) line += ',';
    line += cells[i].field();
  }
  write_line(line);
  ++rows_;
}

void CsvLog::write_line(const std::string& line) {
  const std::string record = line + "\r\n";
  // One write(2) per record, so the file only ever ends between records (short writes, rare on regular files, are
  // continued).
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    TRIDENT_CHECK(n > 0, "CsvLog: write to {} failed: {}", path_, n < 0 ? std::strerror(errno) : "no progress");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace trident::viz
