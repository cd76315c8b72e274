// Helpers shared by the data-pipeline tests: scratch directories, raw file bytes, an independent gzip writer, and an
// exact tensor comparison.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "trident/data/data.h"

namespace trident::testing {

using Bytes = std::vector<std::uint8_t>;

// A fresh directory for one test, removed with everything in it at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("trident_{}_{}_{}", info->test_suite_name(), info->name(), static_cast<long>(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An IDX file's bytes, built by hand: magic 0x0000TTDD, big-endian sizes, then `values`.
inline Bytes idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& values) {
  Bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) {
    b.push_back(static_cast<std::uint8_t>(d >> 24));
    b.push_back(static_cast<std::uint8_t>(d >> 16));
    b.push_back(static_cast<std::uint8_t>(d >> 8));
    b.push_back(static_cast<std::uint8_t>(d));
  }
  b.insert(b.end(), values.begin(), values.end());
  return b;
}

// CRC-32 (IEEE, reflected, as gzip uses it), bit by bit.
inline std::uint32_t crc32_ieee(const Bytes& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::uint8_t byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A gzip file (RFC 1952) whose deflate stream uses only stored blocks (RFC 1951, BTYPE 00): written without zlib, so
// that the reader is checked against an independent writer.
inline Bytes gzip_stored(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};  // magic, deflate, no flags, no mtime, no xfl, unknown OS
  std::size_t pos = 0;
  do {
    const std::size_t len = std::min<std::size_t>(data.size() - pos, 65535);
    const bool last = pos + len == data.size();
    out.push_back(last ? 1 : 0);  // BFINAL, BTYPE = 00, then aligned to the byte
    out.push_back(static_cast<std::uint8_t>(len));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(~len));
    out.push_back(static_cast<std::uint8_t>(~len >> 8));
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(pos),
               data.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  } while (pos < data.size());
  const std::uint32_t crc = crc32_ieee(data), size = static_cast<std::uint32_t>(data.size());
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>(crc >> (8 * k)));
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>(size >> (8 * k)));
  return out;
}

// Same shape, dtype and values, exactly.
inline ::testing::AssertionResult same_values(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.sizes()) << " vs " << shape_str(b.sizes());
  if (a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << "dtypes " << dtype_name(a.dtype()) << " vs " << dtype_name(b.dtype());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i)
    if (va[i] != vb[i]) return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  return ::testing::AssertionSuccess();
}

// Same shape and values within atol.
inline ::testing::AssertionResult close_values(const Tensor& a, const Tensor& b, double atol) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.sizes()) << " vs " << shape_str(b.sizes());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i)
    if (!(std::abs(va[i] - vb[i]) <= atol))
      return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  return ::testing::AssertionSuccess();
}

}  // namespace trident::testing
