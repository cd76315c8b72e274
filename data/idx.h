// IDX files: the format of MNIST, Fashion-MNIST, KMNIST and EMNIST.
//
// An IDX file is a 4-byte magic number 0x0000TTDD (TT = element type, 0x08 for unsigned bytes; DD = number of
// dimensions), DD big-endian uint32 sizes, then the elements in C order. MNIST's images are 0x00000803
// ([N, rows, cols] bytes) and its labels 0x00000801 ([N] bytes). Files may be gzip-compressed (as distributed by the
// original site): the reader recognises the gzip magic (1f 8b) and inflates with zlib, so `x` and `x.gz` read alike.
//
// Only unsigned-byte IDX files are supported: every public dataset in this format uses them. Errors are
// trident::Error messages that start with "read_idx: <path>:" (or "write_idx: <path>:") and say what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trident/core/tensor.h"

namespace trident::data {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dims: [N, rows, cols]
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dim: [N]

// The raw content of an unsigned-byte IDX file: its sizes and its bytes in C order.
struct IdxArray {
  Shape dims;
  std::vector<std::uint8_t> values;
};

// Any rank of unsigned bytes, raw or gzip.
IdxArray read_idx(const std::string& path);

// How image bytes become float32: Unit divides by 255 (values in [0, 1], like torchvision's ToTensor); Raw keeps
// 0..255.
enum class PixelScale { Unit, Raw };

// A 0x00000803 file -> float32 [N, rows, cols].
Tensor read_idx_images(const std::string& path, PixelScale scale = PixelScale::Unit);
// A 0x00000801 file -> int64 [N].
Tensor read_idx_labels(const std::string& path);

// Writes an unsigned-byte IDX file (gzip-compressed when `gzip`), atomically: the bytes go to a temporary file in the
// same directory, which is then renamed over `path`, so a reader never sees half a file.
void write_idx(const std::string& path, const IdxArray& array, bool gzip = false);
// `values` (any dtype, rank >= 1) must hold integers in [0, 255]; its shape becomes the IDX sizes.
void write_idx(const std::string& path, const Tensor& values, bool gzip = false);

}  // namespace trident::data
