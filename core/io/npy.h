// NumPy .npy files: save_npy / load_npy for float32, float64, int64 and bool tensors of any shape (C order).
//
// The format (numpy/lib/format.py): the magic "\x93NUMPY", a version (major, minor), the header length (2 bytes
// little-endian in version 1.0, 4 bytes in 2.0 and 3.0), then an ASCII header, a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline so that the data starts at a multiple of 64 bytes, then the raw little-endian
// data in C order. save_npy writes version 1.0 byte for byte as NumPy 1.24 does (including the spare spaces NumPy
// leaves to let the first dim grow), atomically (see core/io/atomic_file.h). load_npy reads versions 1.0, 2.0 and
// 3.0; every failure is a trident::Error that names the file and what was found.
#pragma once

#include <string>

#include "trident/core/tensor.h"

namespace trident {

// Writes t (any device, any strides: copied to a contiguous CPU tensor first) to path.
void save_npy(const std::string& path, const Tensor& t);
// Reads a .npy file into a contiguous CPU tensor of its dtype and shape.
Tensor load_npy(const std::string& path);

}  // namespace trident
