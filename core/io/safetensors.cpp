// safetensors reading and writing. Format: Note [The safetensors format] in core/io/safetensors.h.
#include "trident/core/io/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "trident/core/io/atomic_file.h"

namespace trident {

static_assert(std::endian::native == std::endian::little,
              "core/io/safetensors.cpp reads and writes little-endian data and assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
// The Rust implementation refuses headers above 100 MB; so does trident (a corrupt length would otherwise ask for
// an absurd allocation before the JSON is even looked at).
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

const char* format_dtype(DType t) {
  switch (t) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
  }
  return "?";
}

std::optional<DType> parse_dtype(const std::string& s) {
  if (s == "F32") return kFloat32;
  if (s == "F64") return kFloat64;
  if (s == "I64") return kInt64;
  if (s == "BOOL") return kBool;
  return std::nullopt;
}

[[noreturn]] void load_error(const std::string& path, const std::string& what) {
  detail::throw_error(fmt::format("load_safetensors: {}: {}", path, what));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// One tensor entry of a header, validated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

}  // namespace

// ---- save -----------------------------------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    TRIDENT_CHECK(!name.empty(), "save_safetensors: {}: a tensor has an empty name", path);
    TRIDENT_CHECK(name != kMetadataKey, "save_safetensors: {}: '{}' is reserved for the metadata", path, name);
    TRIDENT_CHECK(names.insert(name).second, "save_safetensors: {}: the name '{}' appears twice", path, name);
    TRIDENT_CHECK(t.defined(), "save_safetensors: {}: tensor '{}' is undefined", path, name);
    host.push_back(t.detach().to(kCPU).contiguous());
  }

  // nlohmann::ordered_json keeps insertion order: "__metadata__" first, then the tensors in the caller's order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = host[i];
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * t.itemsize();
    header[tensors[i].first] = {{"dtype", format_dtype(t.dtype())},
                                {"shape", std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end())},
                                {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata string that is not valid UTF-8
    detail::throw_error(fmt::format("save_safetensors: {}: cannot encode the header: {}", path, e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>((std::uint64_t{text.size()} >> (8 * i)) & 0xff);
  io::AtomicFile file(path, "save_safetensors");
  file.write(length, sizeof length);
  file.write(text.data(), text.size());
  for (const Tensor& t : host) file.write(t.raw_data(), static_cast<std::size_t>(t.numel()) * t.itemsize());
  file.commit();
}

// ---- load -----------------------------------------------------------------------------------------------------------

SafetensorsFile load_safetensors(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  TRIDENT_CHECK(file != nullptr, "load_safetensors: {}: cannot open the file: {}", path, std::strerror(errno));
  struct stat st {};
  TRIDENT_CHECK(::fstat(::fileno(file.get()), &st) == 0, "load_safetensors: {}: cannot stat the file: {}", path,
                std::strerror(errno));
  const std::uint64_t file_size = static_cast<std::uint64_t>(st.st_size);
  auto fail = [&path](const std::string& what) { load_error(path, what); };

  // 1. The header length.
  if (file_size < 8) fail(fmt::format("truncated file: {} bytes, too short for the 8-byte header length", file_size));
  unsigned char length[8];
  if (std::fread(length, 1, 8, file.get()) != 8) fail("read error in the header length");
  std::uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= std::uint64_t{length[i]} << (8 * i);
  if (header_len > file_size - 8)
    fail(
        fmt::format("the header length {} goes beyond the end of the file ({} bytes): truncated or not a "
                    "safetensors file",
                    header_len, file_size));
  if (header_len > kMaxHeaderBytes)
    fail(fmt::format("the header length {} exceeds the limit of {} bytes", header_len, kMaxHeaderBytes));
  const std::uint64_t data_size = file_size - 8 - header_len;

  // 2. The JSON header.
  std::string text(static_cast<std::size_t>(header_len), '\0');
  if (std::fread(text.data(), 1, text.size(), file.get()) != text.size()) fail("read error in the header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(fmt::format("malformed JSON header: {}", e.what()));
  }
  if (!header.is_object()) fail(fmt::format("the header is a JSON {}, not an object", header.type_name()));

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) fail("\"__metadata__\" is not a JSON object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          fail(fmt::format("metadata '{}' is a JSON {}, not a string", mkey, mvalue.type_name()));
        result.metadata[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) fail(fmt::format("the entry of '{}' is a JSON {}, not an object", key, value.type_name()));
    Entry e;
    e.name = key;
    const auto dtype = value.find("dtype");
    const auto shape = value.find("shape");
    const auto offsets = value.find("data_offsets");
    if (dtype == value.end() || !dtype->is_string()) fail(fmt::format("'{}' has no \"dtype\" string", key));
    const auto parsed = parse_dtype(dtype->get<std::string>());
    if (!parsed)
      fail(fmt::format("'{}' has unsupported dtype '{}' (trident reads F32, F64, I64 and BOOL)", key,
                       dtype->get<std::string>()));
    e.dtype = *parsed;
    if (shape == value.end() || !shape->is_array()) fail(fmt::format("'{}' has no \"shape\" array", key));
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) fail(fmt::format("'{}' has a shape entry {} that is not a size", key, d.dump()));
      const std::uint64_t n = d.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) overflow = true;
      if (n != 0 && numel > std::numeric_limits<std::uint64_t>::max() / n) overflow = true;
      numel *= n;
      e.shape.push_back(static_cast<std::int64_t>(n));
    }
    if (overflow || numel > data_size) {  // cannot fit in the file, let alone in memory
      fail(fmt::format("'{}' has shape {}, more elements than the {} bytes of data hold", key, shape->dump(),
                       data_size));
    }
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      fail(fmt::format("'{}' has no \"data_offsets\" pair [begin, end]", key));
    e.begin = (*offsets)[0].get<std::uint64_t>();
    e.end = (*offsets)[1].get<std::uint64_t>();
    if (e.begin > e.end) fail(fmt::format("'{}' has data_offsets [{}, {}] with begin > end", key, e.begin, e.end));
    if (e.end > data_size)
      fail(fmt::format("'{}' has data_offsets [{}, {}] out of range: the file holds {} bytes of data (truncated?)", key,
                       e.begin, e.end, data_size));
    const std::uint64_t nbytes = numel * itemsize(e.dtype);
    if (e.end - e.begin != nbytes)
      fail(fmt::format("'{}' has data_offsets [{}, {}] ({} bytes), but {} of shape {} takes {} bytes", key, e.begin,
                       e.end, e.end - e.begin, dtype->get<std::string>(), shape_str(e.shape), nbytes));
    entries.push_back(std::move(e));
  }

  // 3. The byte ranges tile the data: sorted by offset, each starts where the previous one ended.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  std::uint64_t expected = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin < expected)
      fail(fmt::format("'{}' (bytes [{}, {})) overlaps '{}' (bytes [{}, {}))", e.name, e.begin, e.end,
                       entries[i - 1].name, entries[i - 1].begin, entries[i - 1].end));
    if (e.begin > expected)
      fail(fmt::format("bytes [{}, {}) of the data belong to no tensor (before '{}')", expected, e.begin, e.name));
    expected = e.end;
  }
  if (expected != data_size)
    fail(fmt::format("bytes [{}, {}) of the data belong to no tensor (after the last one)", expected, data_size));

  // 4. The data, tensor by tensor, in file order.
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    const std::size_t nbytes = static_cast<std::size_t>(e.end - e.begin);
    if (nbytes > 0) {
      if (std::fseek(file.get(), static_cast<long>(8 + header_len + e.begin), SEEK_SET) != 0 ||
          std::fread(t.raw_data(), 1, nbytes, file.get()) != nbytes)
        fail(fmt::format("read error in the data of '{}' (was the file truncated while reading?)", e.name));
    }
    if (e.dtype == kBool) {
      const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
      for (std::size_t k = 0; k < nbytes; ++k)
        if (bytes[k] > 1) fail(fmt::format("'{}' is BOOL but element {} has the byte value {}", e.name, k, bytes[k]));
    }
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

}  // namespace trident
