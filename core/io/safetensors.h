// safetensors files: named tensors plus string metadata, the format of Hugging Face's `safetensors` library.
//
// Note [The safetensors format]
// A file is
//   1. 8 bytes: N, the length of the header, an unsigned 64-bit little-endian integer;
//   2. N bytes: a JSON object (UTF-8), one entry per tensor
//        "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//      and optionally "__metadata__": {"key": "value", ...} (strings only). The header is padded with spaces so
//      that N is a multiple of 8, which keeps the data 8-byte aligned;
//   3. the data: every tensor's elements in C order, little-endian, tensor by tensor. data_offsets are byte offsets
//      relative to the start of the data (not of the file), [begin, end).
// The data is entirely covered: the tensors' byte ranges, sorted, follow one another from 0 to the end of the file
// without a gap or an overlap (the Rust reference implementation enforces the same).
// trident reads and writes the dtypes it has: F32 (float32), F64 (float64), I64 (int64) and BOOL (one byte, 0 or 1).
//
// save_safetensors writes the tensors in the given order (the header lists "__metadata__" first, then the tensors in
// that order), atomically (core/io/atomic_file.h). load_safetensors validates the whole header -- every dtype, shape
// and offset -- and reads all the data before it returns, so a truncated or corrupt file is an error (naming the
// file and what was wrong) and never a partial result.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "trident/core/tensor.h"

namespace trident {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                         // in the order of their data in the file
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry (empty when absent)
};

// Writes the tensors (any device, any strides: copied to contiguous CPU data first) and the metadata to path.
// Names must be non-empty, distinct, and not "__metadata__".
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a whole file into contiguous CPU tensors.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace trident
