// The caching device allocator: see Note [Caching allocator] in allocator.h.
#include "trident/backends/cuda/allocator.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "trident/backends/cuda/context.h"
#include "trident/backends/cuda/cuda_check.h"

namespace trident::cuda {

std::size_t round_allocation_size(std::size_t nbytes) {
  constexpr std::size_t kSmallStep = 512;
  constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
  if (nbytes <= kSmallLimit) return std::max(kSmallStep, (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep);
  const std::size_t step = std::bit_floor(nbytes) / 4;  // four classes per power of two
  return (nbytes + step - 1) / step * step;
}

namespace {

struct DevicePool {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;  // size class -> cached blocks
  MemoryStats stats;
};

class CachingAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes, Device device) override {
    if (nbytes == 0) return nullptr;
    check_device(device);
    const std::size_t size = round_allocation_size(nbytes);
    DevicePool& pool = pool_for(device.index);
    std::lock_guard lock(pool.mutex);
    auto it = pool.free_blocks.find(size);
    if (it != pool.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      ++pool.stats.num_cache_hits;
      note_allocated(pool.stats, size);
      return p;
    }
    DeviceGuard guard(device.index);
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached(pool);  // give the cache back to the driver and try once more
      status = cudaMalloc(&p, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      TRIDENT_CHECK(false,
                    "cuda allocator: out of memory allocating {} bytes on {} ({} bytes held by tensors; the "
                    "device has {} of {} bytes free)",
                    nbytes, device, pool.stats.allocated_bytes, free_bytes, total_bytes);
    }
    TRIDENT_CUDA_CHECK(status);
    ++pool.stats.num_device_mallocs;
    pool.stats.reserved_bytes += size;
    note_allocated(pool.stats, size);
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes, Device device) override {
    if (ptr == nullptr) return;
    const std::size_t size = round_allocation_size(nbytes);
    DevicePool& pool = pool_for(device.index);
    std::lock_guard lock(pool.mutex);
    pool.free_blocks[size].push_back(ptr);
    pool.stats.allocated_bytes -= size;
  }

  void empty_cache() {
    for (int d = 0; d < device_count(); ++d) {
      DevicePool& pool = pool_for(d);
      std::lock_guard lock(pool.mutex);
      DeviceGuard guard(d);
      release_cached(pool);
    }
  }

  MemoryStats stats(int device) {
    if (device < 0 || device >= device_count()) return {};
    DevicePool& pool = pool_for(device);
    std::lock_guard lock(pool.mutex);
    return pool.stats;
  }

 private:
  static void note_allocated(MemoryStats& s, std::size_t size) {
    s.allocated_bytes += size;
    s.peak_allocated_bytes = std::max(s.peak_allocated_bytes, s.allocated_bytes);
  }

  // Requires the pool's lock and its device to be current.
  static void release_cached(DevicePool& pool) {
    for (auto& [size, blocks] : pool.free_blocks) {
      for (void* p : blocks) {
        TRIDENT_CUDA_CHECK(cudaFree(p));
        pool.stats.reserved_bytes -= size;
      }
      blocks.clear();
    }
  }

  DevicePool& pool_for(int device) {
    std::call_once(pools_once_, [this] {
      pools_.resize(static_cast<std::size_t>(device_count()));
      for (auto& p : pools_) p = std::make_unique<DevicePool>();
    });
    return *pools_[static_cast<std::size_t>(device)];
  }

  std::once_flag pools_once_;
  std::vector<std::unique_ptr<DevicePool>> pools_;
};

CachingAllocator& the_allocator() {
  static auto* allocator = new CachingAllocator();  // never destroyed: see the Note
  return *allocator;
}

[[maybe_unused]] const bool registered = [] {
  register_allocator(DeviceType::CUDA, &the_allocator());
  return true;
}();

}  // namespace

Allocator& caching_allocator() { return the_allocator(); }
void empty_cache_all_devices() { the_allocator().empty_cache(); }
MemoryStats allocator_stats(int device) { return the_allocator().stats(device); }

DeviceBuffer::DeviceBuffer(std::size_t nbytes, int device)
    : ptr_(the_allocator().allocate(nbytes, Device::cuda(device))), nbytes_(nbytes), device_(device) {}

DeviceBuffer::~DeviceBuffer() { the_allocator().deallocate(ptr_, nbytes_, Device::cuda(device_)); }

}  // namespace trident::cuda
