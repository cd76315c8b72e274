// .npy reading and writing. Format notes: core/io/npy.h.
#include "trident/core/io/npy.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "trident/core/io/atomic_file.h"

namespace trident {

static_assert(std::endian::native == std::endian::little,
              "core/io/npy.cpp reads and writes little-endian data and assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kArrayAlign = 64;        // numpy.lib.format.ARRAY_ALIGN
constexpr std::size_t kGrowthAxisDigits = 21;  // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS (NumPy >= 1.23)

const char* descr_of(DType t) {
  switch (t) {
    case DType::Float32:
      return "<f4";
    case DType::Float64:
      return "<f8";
    case DType::Int64:
      return "<i8";
    case DType::Bool:
      return "|b1";
  }
  return "?";
}

std::optional<DType> dtype_of_descr(const std::string& d) {
  if (d == "<f4") return kFloat32;
  if (d == "<f8") return kFloat64;
  if (d == "<i8") return kInt64;
  if (d == "|b1") return kBool;
  return std::nullopt;
}

// Python's repr of a tuple of ints: (), (5,), (2, 3).
std::string python_tuple(const Shape& s) {
  if (s.empty()) return "()";
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

// ---- header parsing -------------------------------------------------------------------------------------------------
// The header is a Python literal: a dict of str keys to str, bool or tuple-of-int values. This is a small recursive
// descent parser for exactly that subset.
struct HeaderValue {
  enum class Kind { String, Bool, Tuple } kind;
  std::string str;
  bool boolean = false;
  Shape tuple;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  // Returns the three entries NumPy writes; any other key, or a missing one, is an error.
  void parse(std::string& descr, bool& fortran_order, Shape& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    skip_space();
    while (peek() != '}') {
      const std::string key = parse_string();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() == '[') fail("unsupported dtype: structured arrays (a list descr) are not supported");
        HeaderValue v = parse_value();
        if (v.kind != HeaderValue::Kind::String) fail("'descr' is not a string");
        descr = v.str;
        have_descr = true;
      } else if (key == "fortran_order") {
        HeaderValue v = parse_value();
        if (v.kind != HeaderValue::Kind::Bool) fail("'fortran_order' is not True or False");
        fortran_order = v.boolean;
        have_order = true;
      } else if (key == "shape") {
        HeaderValue v = parse_value();
        if (v.kind != HeaderValue::Kind::Tuple) fail("'shape' is not a tuple");
        shape = v.tuple;
        have_shape = true;
      } else {
        fail(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail(fmt::format("expected ',' or '}}' at offset {}", pos_));
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) fail(fmt::format("unexpected text after the dict at offset {}", pos_));
    if (!have_descr || !have_order || !have_shape)
      fail("the dict must hold the keys 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    detail::throw_error(fmt::format("load_npy: {}: malformed header: {} (header: {})", path_, what, s_));
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}' at offset {}", c, pos_));
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(fmt::format("expected a quoted string at offset {}", pos_));
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  std::int64_t parse_int() {
    skip_space();
    const std::size_t start = pos_;
    std::int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("a dimension is too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail(fmt::format("expected a non-negative integer at offset {}", pos_));
    if (peek() == 'L') ++pos_;  // Python 2 longs
    return v;
  }
  HeaderValue parse_value() {
    skip_space();
    HeaderValue v{};
    if (peek() == '\'' || peek() == '"') {
      v.kind = HeaderValue::Kind::String;
      v.str = parse_string();
    } else if (s_.compare(pos_, 4, "True") == 0) {
      v.kind = HeaderValue::Kind::Bool;
      v.boolean = true;
      pos_ += 4;
    } else if (s_.compare(pos_, 5, "False") == 0) {
      v.kind = HeaderValue::Kind::Bool;
      pos_ += 5;
    } else if (peek() == '(') {
      v.kind = HeaderValue::Kind::Tuple;
      ++pos_;
      skip_space();
      while (peek() != ')') {
        v.tuple.push_back(parse_int());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          skip_space();
        } else if (peek() != ')') {
          fail(fmt::format("expected ',' or ')' in the shape at offset {}", pos_));
        }
      }
      ++pos_;
    } else {
      fail(fmt::format("unexpected value at offset {}", pos_));
    }
    return v;
  }

  const std::string& s_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

// ---- save -----------------------------------------------------------------------------------------------------------

void save_npy(const std::string& path, const Tensor& t) {
  TRIDENT_CHECK(t.defined(), "save_npy: {}: the tensor is undefined", path);
  const Tensor host = t.detach().to(kCPU).contiguous();

  // The dict as NumPy 1.24 writes it: keys sorted, repr'd values, a trailing ", ", then spare spaces so that the
  // first dim can grow to 21 digits without moving the data, then padding to a multiple of 64 and a newline.
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(host.dtype()),
                                   python_tuple(host.sizes()));
  if (host.dim() > 0) {
    const std::size_t digits = fmt::format("{}", host.size(0)).size();
    header.append(kGrowthAxisDigits > digits ? kGrowthAxisDigits - digits : 0, ' ');
  }
  // Version 1.0 stores the header length in 2 bytes; NumPy falls back to 2.0 (4 bytes) only when it does not fit.
  auto padded_length = [&](std::size_t prefix) {
    const std::size_t hlen = header.size() + 1;  // with the newline
    return hlen + (kArrayAlign - (prefix + hlen) % kArrayAlign);
  };
  std::uint8_t major = 1;
  std::size_t total = padded_length(kMagicLen + 2 + 2);
  if (total > 0xffff) {
    major = 2;
    total = padded_length(kMagicLen + 2 + 4);
  }
  header.append(total - header.size() - 1, ' ');
  header.push_back('\n');

  std::string prefix(kMagic, kMagicLen);
  prefix.push_back(static_cast<char>(major));
  prefix.push_back('\0');
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  for (std::size_t i = 0; i < len_bytes; ++i) prefix.push_back(static_cast<char>((total >> (8 * i)) & 0xff));

  io::AtomicFile file(path, "save_npy");
  file.write(prefix.data(), prefix.size());
  file.write(header.data(), header.size());
  file.write(host.raw_data(), static_cast<std::size_t>(host.numel()) * host.itemsize());
  file.commit();
}

// ---- load -----------------------------------------------------------------------------------------------------------

Tensor load_npy(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  TRIDENT_CHECK(file != nullptr, "load_npy: {}: cannot open the file: {}", path, std::strerror(errno));
  auto read = [&](void* dst, std::size_t n) { return std::fread(dst, 1, n, file.get()); };

  char prefix[12];
  const std::size_t got = read(prefix, 8);
  TRIDENT_CHECK(got >= kMagicLen && std::memcmp(prefix, kMagic, kMagicLen) == 0,
                "load_npy: {}: not a .npy file (bad magic: the file does not start with \"\\x93NUMPY\")", path);
  TRIDENT_CHECK(got == 8, "load_npy: {}: truncated header: the file ends inside the format version", path);
  const int major = static_cast<unsigned char>(prefix[6]), minor = static_cast<unsigned char>(prefix[7]);
  TRIDENT_CHECK(major >= 1 && major <= 3 && minor == 0,
                "load_npy: {}: unsupported .npy format version {}.{} (trident reads 1.0, 2.0 and 3.0)", path, major,
                minor);
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  TRIDENT_CHECK(read(prefix + 8, len_bytes) == len_bytes,
                "load_npy: {}: truncated header: the file ends inside the header length", path);
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < len_bytes; ++i)
    header_len |= static_cast<std::size_t>(static_cast<unsigned char>(prefix[8 + i])) << (8 * i);
  std::string header(header_len, '\0');
  const std::size_t header_got = read(header.data(), header_len);
  TRIDENT_CHECK(header_got == header_len, "load_npy: {}: truncated header: expected {} bytes, found {}", path,
                header_len, header_got);

  std::string descr;
  bool fortran_order = false;
  Shape shape;
  HeaderParser(header, path).parse(descr, fortran_order, shape);
  TRIDENT_CHECK(descr.empty() || descr[0] != '>',
                "load_npy: {}: big-endian data ('{}') is not supported; convert it with "
                "a.astype(a.dtype.newbyteorder('<')) before saving",
                path, descr);
  const std::optional<DType> dtype = dtype_of_descr(descr);
  TRIDENT_CHECK(dtype.has_value(),
                "load_npy: {}: unsupported dtype '{}' (trident reads float32 '<f4', float64 '<f8', int64 '<i8' and "
                "bool '|b1')",
                path, descr);
  TRIDENT_CHECK(!fortran_order,
                "load_npy: {}: Fortran-order (column-major) arrays are not supported; save a C-order array "
                "(np.ascontiguousarray) instead",
                path);

  std::size_t nbytes = itemsize(*dtype);
  for (std::int64_t s : shape) {
    TRIDENT_CHECK(s == 0 || nbytes <= std::numeric_limits<std::size_t>::max() / static_cast<std::size_t>(s),
                  "load_npy: {}: shape {} is too large", path, python_tuple(shape));
    nbytes *= static_cast<std::size_t>(s);
  }
  if (shape_numel(shape) == 0) nbytes = 0;
  Tensor out = empty(shape, {.dtype = *dtype});
  const std::size_t data_got = read(out.raw_data(), nbytes);
  TRIDENT_CHECK(data_got == nbytes, "load_npy: {}: truncated data: expected {} bytes, found {}", path, nbytes,
                data_got);
  if (*dtype == kBool) {
    // NumPy bools are one byte 0 or 1; map any other byte to true so the tensor holds only valid bools.
    auto* bytes = static_cast<unsigned char*>(out.raw_data());
    for (std::size_t i = 0; i < nbytes; ++i) bytes[i] = bytes[i] != 0;
  }
  return out;
}

}  // namespace trident
