#include "trident/data/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

namespace trident::data {

namespace {

namespace fs = std::filesystem;

const char* idx_type_name(std::uint8_t code) {
  switch (code) {
    case 0x08:
      return "ubyte";
    case 0x09:
      return "sbyte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return nullptr;
  }
}

std::string magic_str(std::uint32_t magic) { return fmt::format("0x{:08X}", magic); }

// The bytes of a file, inflated on the fly when it starts with the gzip magic.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path) : path_(path) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    TRIDENT_CHECK(fs::exists(status), "read_idx: {}: no such file", path);
    TRIDENT_CHECK(!fs::is_directory(status), "read_idx: {}: is a directory, expected an IDX file", path);
    file_ = std::fopen(path.c_str(), "rb");
    TRIDENT_CHECK(file_ != nullptr, "read_idx: {}: cannot open: {}", path, std::strerror(errno));
    unsigned char head[2] = {0, 0};
    const std::size_t n = std::fread(head, 1, 2, file_);
    gzip_ = n == 2 && head[0] == 0x1f && head[1] == 0x8b;
    if (gzip_) {
      std::fclose(file_);
      file_ = nullptr;
      gz_ = gzopen(path.c_str(), "rb");
      TRIDENT_CHECK(gz_ != nullptr, "read_idx: {}: cannot open: {}", path, std::strerror(errno));
      gzbuffer(gz_, 1 << 18);
    } else {
      std::rewind(file_);
      raw_size_ = fs::file_size(path, ec);
      if (ec) raw_size_ = std::numeric_limits<std::uintmax_t>::max();
    }
  }
  ~ByteSource() {
    if (file_ != nullptr) std::fclose(file_);
    if (gz_ != nullptr) gzclose(gz_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  bool gzip() const { return gzip_; }
  // For raw files, the size in bytes (to report truncation before reading); unknown for gzip.
  std::uintmax_t raw_size() const { return raw_size_; }

  // Reads up to n bytes into dst; fewer only at the end of the data. Throws on read errors and corrupt gzip data.
  std::size_t read(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const std::size_t want = std::min<std::size_t>(n - got, std::size_t{1} << 30);
      std::size_t k = 0;
      if (gzip_) {
        const int r = gzread(gz_, out + got, static_cast<unsigned>(want));
        TRIDENT_CHECK(r >= 0, "read_idx: {}: corrupt gzip data: {}", path_, zlib_message());
        k = static_cast<std::size_t>(r);
      } else {
        k = std::fread(out + got, 1, want, file_);
        TRIDENT_CHECK(!std::ferror(file_), "read_idx: {}: read error: {}", path_, std::strerror(errno));
      }
      got += k;
      if (k < want) break;
    }
    if (got < n && gzip_) {
      // A short read: either the stream really ended, or zlib met damaged data (a CRC or format error).
      int code = Z_OK;
      gzerror(gz_, &code);
      TRIDENT_CHECK(code == Z_OK || code == Z_BUF_ERROR, "read_idx: {}: corrupt gzip data: {}", path_, zlib_message());
    }
    return got;
  }

  // After the last expected byte: how many more bytes the data has (counted up to 1 MiB); a gzip stream must also
  // end with its trailer.
  std::size_t count_trailing_bytes() {
    unsigned char scratch[4096];
    std::size_t extra = 0;
    for (;;) {
      const std::size_t k = read(scratch, sizeof scratch);
      extra += k;
      if (k < sizeof scratch || extra >= (std::size_t{1} << 20)) break;
    }
    if (gzip_) {
      int code = Z_OK;
      gzerror(gz_, &code);
      TRIDENT_CHECK(code != Z_BUF_ERROR, "read_idx: {}: truncated: the gzip stream ends without its trailer", path_);
    }
    return extra;
  }

 private:
  // zlib's description of the last error, without the "<path>: " it puts in front.
  std::string zlib_message() const {
    int code = Z_OK;
    std::string message = gzerror(gz_, &code);
    const std::string prefix = path_ + ": ";
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
    return message;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  bool gzip_ = false;
  std::uintmax_t raw_size_ = 0;
};

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

std::string bad_magic_message(const std::string& path, std::uint32_t magic) {
  return fmt::format("read_idx: {}: bad magic {}, expected {} (ubyte images) or {} (ubyte labels)", path,
                     magic_str(magic), magic_str(kIdxImagesMagic), magic_str(kIdxLabelsMagic));
}

const char* role_of(std::uint32_t magic) {
  if (magic == kIdxImagesMagic) return "ubyte images [N, rows, cols]";
  if (magic == kIdxLabelsMagic) return "ubyte labels [N]";
  return nullptr;
}

// Reads a whole unsigned-byte IDX file. When `expected_magic` is non-zero the file must have exactly that magic
// (checked from the header, before any data is read).
IdxArray read_idx_checked(const std::string& path, std::uint32_t expected_magic) {
  ByteSource source(path);
  const char* kind = source.gzip() ? "decompressed " : "";

  unsigned char magic_bytes[4];
  const std::size_t got_magic = source.read(magic_bytes, 4);
  TRIDENT_CHECK(got_magic == 4, "read_idx: {}: truncated: {} {}bytes, too short for the 4-byte IDX magic", path,
                got_magic, kind);
  const std::uint32_t magic = big_endian_u32(magic_bytes);
  const std::uint8_t type = magic_bytes[2];
  const std::uint8_t ndims = magic_bytes[3];
  if (magic_bytes[0] != 0 || magic_bytes[1] != 0 || idx_type_name(type) == nullptr || ndims == 0) {
    detail::throw_error(bad_magic_message(path, magic));
  }
  TRIDENT_CHECK(type == 0x08, "read_idx: {}: unsupported element type {} (magic {}); only ubyte (0x08) is supported",
                path, idx_type_name(type), magic_str(magic));
  if (expected_magic != 0 && magic != expected_magic) {
    const char* found = role_of(magic);
    TRIDENT_CHECK(false, "read_idx: {}: magic {} ({}), expected {} ({})", path, magic_str(magic),
                  found != nullptr ? std::string(found) : fmt::format("ubyte, {} dims", ndims),
                  magic_str(expected_magic), role_of(expected_magic));
  }

  const std::size_t header_bytes = 4 + 4 * std::size_t{ndims};
  std::vector<unsigned char> size_bytes(4 * std::size_t{ndims});
  const std::size_t got_sizes = source.read(size_bytes.data(), size_bytes.size());
  TRIDENT_CHECK(got_sizes == size_bytes.size(),
                "read_idx: {}: truncated: the {}-byte header of a {}-d IDX file is cut after {} {}bytes", path,
                header_bytes, ndims, 4 + got_sizes, kind);

  IdxArray array;
  std::uint64_t count = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint32_t size = big_endian_u32(&size_bytes[4 * d]);
    array.dims.push_back(size);
    if (size != 0 && count > (std::uint64_t{1} << 48) / size) overflow = true;
    count *= size;
  }
  TRIDENT_CHECK(!overflow, "read_idx: {}: sizes {} are too large; the file is corrupt", path, shape_str(array.dims));

  if (!source.gzip()) {
    const std::uintmax_t available = source.raw_size() - std::min<std::uintmax_t>(source.raw_size(), header_bytes);
    TRIDENT_CHECK(available >= count,
                  "read_idx: {}: truncated: sizes {} need {} bytes of data after the {}-byte header, found {}", path,
                  shape_str(array.dims), count, header_bytes, available);
  }
  // Grow the buffer as data arrives, so that a corrupt gzip header cannot make us allocate gigabytes up front.
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 26;
  std::uint64_t got = 0;
  while (got < count) {
    const std::uint64_t want = std::min(kChunk, count - got);
    array.values.resize(got + want);
    const std::size_t k = source.read(array.values.data() + got, want);
    got += k;
    if (k < want) break;
  }
  TRIDENT_CHECK(got == count,
                "read_idx: {}: truncated: sizes {} need {} bytes of data after the {}-byte header, found {}{}", path,
                shape_str(array.dims), count, header_bytes, got, source.gzip() ? " (decompressed)" : "");
  const std::size_t extra = source.count_trailing_bytes();
  TRIDENT_CHECK(extra == 0,
                "read_idx: {}: {}{} unexpected {}bytes after the data of sizes {}; the file is corrupt or not this IDX "
                "layout",
                path, extra >= (std::size_t{1} << 20) ? "at least " : "", extra, kind, shape_str(array.dims));
  return array;
}

}  // namespace

IdxArray read_idx(const std::string& path) { return read_idx_checked(path, 0); }

Tensor read_idx_images(const std::string& path, PixelScale scale) {
  const IdxArray array = read_idx_checked(path, kIdxImagesMagic);
  Tensor out = empty(array.dims, {.dtype = kFloat32});
  float* p = out.data_ptr<float>();
  const std::size_t n = array.values.size();
  if (scale == PixelScale::Unit) {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(array.values[i]) / 255.0f;
  } else {
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(array.values[i]);
  }
  return out;
}

Tensor read_idx_labels(const std::string& path) {
  const IdxArray array = read_idx_checked(path, kIdxLabelsMagic);
  Tensor out = empty(array.dims, {.dtype = kInt64});
  std::int64_t* p = out.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < array.values.size(); ++i) p[i] = array.values[i];
  return out;
}

namespace {

// Writes through a temporary file beside `path`, renamed over it only when everything was written.
class AtomicWriter {
 public:
  AtomicWriter(const std::string& path, bool gzip) : path_(path), gzip_(gzip) {
    static std::atomic<unsigned> counter{0};
    temp_ = fmt::format("{}.tmp.{}.{}", path, static_cast<long>(::getpid()), counter.fetch_add(1));
    if (gzip_) {
      gz_ = gzopen(temp_.c_str(), "wb");
      TRIDENT_CHECK(gz_ != nullptr, "write_idx: {}: cannot create {}: {}", path_, temp_, std::strerror(errno));
    } else {
      file_ = std::fopen(temp_.c_str(), "wb");
      TRIDENT_CHECK(file_ != nullptr, "write_idx: {}: cannot create {}: {}", path_, temp_, std::strerror(errno));
    }
  }
  ~AtomicWriter() {
    // Reached without commit() only on an error: drop the partial temporary file.
    if (file_ != nullptr) std::fclose(file_);
    if (gz_ != nullptr) gzclose(gz_);
    if (!committed_) {
      std::error_code ec;
      fs::remove(temp_, ec);
    }
  }
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      const std::size_t k = std::min<std::size_t>(n, std::size_t{1} << 30);
      bool ok = false;
      if (gzip_) {
        ok = gzwrite(gz_, p, static_cast<unsigned>(k)) == static_cast<int>(k);
      } else {
        ok = std::fwrite(p, 1, k, file_) == k;
      }
      TRIDENT_CHECK(ok, "write_idx: {}: write to {} failed: {}", path_, temp_, std::strerror(errno));
      p += k;
      n -= k;
    }
  }

  void commit() {
    bool ok = false;
    if (gzip_) {
      ok = gzclose(gz_) == Z_OK;
      gz_ = nullptr;
    } else {
      ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
      ok = (std::fclose(file_) == 0) && ok;
      file_ = nullptr;
    }
    TRIDENT_CHECK(ok, "write_idx: {}: closing {} failed: {}", path_, temp_, std::strerror(errno));
    std::error_code ec;
    fs::rename(temp_, path_, ec);
    TRIDENT_CHECK(!ec, "write_idx: {}: cannot rename {} to it: {}", path_, temp_, ec.message());
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  bool gzip_;
  std::FILE* file_ = nullptr;
  gzFile gz_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
  const std::size_t ndims = array.dims.size();
  TRIDENT_CHECK(ndims >= 1 && ndims <= 255, "write_idx: {}: an IDX file has 1 to 255 dims, got {}", path, ndims);
  std::vector<unsigned char> header = {0, 0, 0x08, static_cast<unsigned char>(ndims)};
  for (std::int64_t size : array.dims) {
    TRIDENT_CHECK(size >= 0 && size <= std::int64_t{0xFFFFFFFF}, "write_idx: {}: size {} of {} does not fit in 32 bits",
                  path, size, shape_str(array.dims));
    const auto s = static_cast<std::uint32_t>(size);
    header.insert(header.end(), {static_cast<unsigned char>(s >> 24), static_cast<unsigned char>(s >> 16),
                                 static_cast<unsigned char>(s >> 8), static_cast<unsigned char>(s)});
  }
  TRIDENT_CHECK(static_cast<std::uint64_t>(shape_numel(array.dims)) == array.values.size(),
                "write_idx: {}: sizes {} need {} values, got {}", path, shape_str(array.dims), shape_numel(array.dims),
                array.values.size());
  AtomicWriter writer(path, gzip);
  writer.write(header.data(), header.size());
  writer.write(array.values.data(), array.values.size());
  writer.commit();
}

void write_idx(const std::string& path, const Tensor& values, bool gzip) {
  TRIDENT_CHECK(values.defined(), "write_idx: {}: undefined tensor", path);
  TRIDENT_CHECK(values.dim() >= 1, "write_idx: {}: an IDX file has at least 1 dim, got a 0-d tensor", path);
  IdxArray array;
  array.dims = values.sizes();
  const std::vector<double> v = values.to_vector<double>();
  array.values.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    TRIDENT_CHECK(v[i] >= 0 && v[i] <= 255 && std::floor(v[i]) == v[i],
                  "write_idx: {}: element {} is {}, expected an integer in [0, 255]", path, i, v[i]);
    array.values[i] = static_cast<std::uint8_t>(v[i]);
  }
  write_idx(path, array, gzip);
}

}  // namespace trident::data
