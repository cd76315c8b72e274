// CUDA availability and memory control, callable from every build (also one built with TRIDENT_CUDA=OFF).
//
// core/ never includes CUDA headers. The answers below default to "no CUDA" (false / 0 / no-op); the CUDA backend
// (backends/cuda/runtime.cpp), when it is compiled in, replaces them at static initialisation through
// detail::register_cuda_runtime. So a program or test asks `cuda_is_available()` and never needs an #ifdef.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trident {

bool cuda_is_built();      // whether the CUDA backend was compiled in (TRIDENT_CUDA=ON, or AUTO with nvcc found)
bool cuda_is_available();  // built and at least one device usable (a driver is loaded and sees a GPU)
int cuda_device_count();   // 0 when not built or no device

namespace cuda {

// The caching device allocator's counters for one device (backends/cuda/allocator.cpp).
struct MemoryStats {
  std::size_t allocated_bytes = 0;       // held by live tensors (rounded sizes)
  std::size_t reserved_bytes = 0;        // obtained from cudaMalloc: allocated + cached
  std::size_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  std::int64_t num_device_mallocs = 0;   // cudaMalloc calls so far (a cache hit makes none)
  std::int64_t num_cache_hits = 0;       // allocations served from the cache
};

// Return every cached (unused) block to the driver. No-op without CUDA.
void empty_cache();
// Counters of the caching allocator for cuda:<device>. All zero without CUDA.
MemoryStats memory_stats(int device = 0);
// Wait until all work queued on cuda:<device> has finished (for timing; copies to the CPU already wait). No-op
// without CUDA.
void synchronize(int device = 0);

}  // namespace cuda

namespace detail {
// Filled in by the CUDA backend. Every pointer is set (the backend registers all of them at once).
struct CudaRuntimeHooks {
  int (*device_count)() = nullptr;
  void (*empty_cache)() = nullptr;
  cuda::MemoryStats (*memory_stats)(int device) = nullptr;
  void (*synchronize)(int device) = nullptr;
};
void register_cuda_runtime(const CudaRuntimeHooks& hooks);
}  // namespace detail

}  // namespace trident
