// The caching device allocator (registered for DeviceType::CUDA) and a scratch buffer on top of it.
//
// Note [Caching allocator]
// cudaMalloc and cudaFree are slow (cudaFree also synchronises the device), and a training step frees and allocates
// the same sizes again and again. So, like PyTorch's CUDACachingAllocator (in spirit, without block splitting):
//   - every request is rounded up to a size class: a multiple of 512 bytes up to 1 MiB, above that one of four
//     classes per power of two (1, 1.25, 1.5, 1.75 x 2^k), so at most 25% is wasted;
//   - a freed block goes to its device's free list for its size class, not back to the driver;
//   - an allocation first takes a cached block of its class, and only calls cudaMalloc when there is none; when
//     cudaMalloc runs out of memory the device's cache is released (cudaFree) and the call retried once;
//   - cuda::empty_cache() returns all cached blocks to the driver.
// Reusing a block at once is safe because all work on a device runs in order on one stream (see context.h).
// Memory is plain cudaMalloc (never managed memory). The allocator is never destroyed: tensors freed during static
// destruction just go back to the cache.
#pragma once

#include <cstddef>

#include "trident/core/cuda_runtime.h"
#include "trident/core/device.h"
#include "trident/core/storage.h"

namespace trident::cuda {

// Size class of a request (see the Note); exposed for tests.
std::size_t round_allocation_size(std::size_t nbytes);

Allocator& caching_allocator();
void empty_cache_all_devices();
MemoryStats allocator_stats(int device);

// Scratch memory for a kernel (e.g. a reduction's partial results), from the caching allocator; released when the
// buffer goes out of scope, which is safe right after queueing the kernels that use it (one stream per device).
class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t nbytes, int device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  std::size_t nbytes_ = 0;
  int device_ = 0;
};

}  // namespace trident::cuda
