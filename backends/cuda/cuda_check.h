// Checking macros for the CUDA runtime and cuBLAS. Every call into CUDA in trident goes through one of them, so a
// failure becomes a trident::Error naming the statement, the file and line, and CUDA's own description:
//   "CUDA error: cudaMalloc(&ptr, bytes) failed at backends/cuda/allocator.cpp:88: out of memory
//    (cudaErrorMemoryAllocation)"
// Kernel launches are checked with TRIDENT_CUDA_CHECK(cudaGetLastError()) right after the launch.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "trident/core/error.h"

namespace trident::cuda::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* statement, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* statement, const char* file, int line);

}  // namespace trident::cuda::detail

#define TRIDENT_CUDA_CHECK(stmt)                                                                  \
  do {                                                                                            \
    const cudaError_t trident_cuda_status_ = (stmt);                                              \
    if (trident_cuda_status_ != cudaSuccess) [[unlikely]] {                                       \
      ::trident::cuda::detail::throw_cuda_error(trident_cuda_status_, #stmt, __FILE__, __LINE__); \
    }                                                                                             \
  } while (0)

#define TRIDENT_CUBLAS_CHECK(stmt)                                                                    \
  do {                                                                                                \
    const cublasStatus_t trident_cublas_status_ = (stmt);                                             \
    if (trident_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]] {                               \
      ::trident::cuda::detail::throw_cublas_error(trident_cublas_status_, #stmt, __FILE__, __LINE__); \
    }                                                                                                 \
  } while (0)
