#include "trident/core/storage.h"

#include <sys/mman.h>

#include <array>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "trident/core/error.h"

namespace trident {
namespace {

// Note [CPU block cache]
// A fresh 64 MB buffer from malloc is fresh pages from the kernel: the first write to each 4 KiB page faults and
// zeroes it, which costs more than the op itself (an out-of-place add of two 16M-float tensors spends three quarters
// of its time in 16K page faults). So, as GPU frameworks do for device memory, large CPU blocks are kept when freed
// and handed out again for a request of the same rounded size:
//   - blocks of at least kMinCached bytes are rounded up (to 64 KiB, or to 2 MiB from 2 MiB on) and cached on free;
//   - blocks of 2 MiB and more are 2 MiB aligned and advised as transparent huge pages, so even a first touch faults
//     once per 2 MiB instead of once per 4 KiB;
//   - the cache holds at most TRIDENT_CPU_CACHE_MB megabytes (default 1024; 0 disables it); cpu_empty_cache()
//     returns everything to the system.
// Small blocks go straight to the C library, whose own free lists already serve them well.
// All memory is at least 64-byte aligned, so vector loads and oneDNN never see a split cache line at the start.
class CpuAllocator final : public Allocator {
 public:
  static constexpr std::size_t kMinCached = std::size_t{1} << 20;
  static constexpr std::size_t kHuge = std::size_t{2} << 20;

  void* allocate(std::size_t nbytes, Device) override {
    if (nbytes == 0) return nullptr;
    const std::size_t size = rounded(nbytes);
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_bytes_ -= size;
        return p;
      }
    }
    void* p = std::aligned_alloc(size >= kHuge ? kHuge : 64, size);
    if (p == nullptr && size >= kMinCached) {  // give the cache back and try once more
      empty_cache();
      p = std::aligned_alloc(size >= kHuge ? kHuge : 64, size);
    }
    TRIDENT_CHECK(p != nullptr, "cpu allocator: out of memory allocating {} bytes", nbytes);
    if (size >= kHuge) ::madvise(p, size, MADV_HUGEPAGE);  // advice only: failure is harmless
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes, Device) override {
    const std::size_t size = rounded(nbytes);
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + size <= limit()) {
        free_.emplace(size, ptr);
        cached_bytes_ += size;
        return;
      }
    }
    std::free(ptr);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

 private:
  static std::size_t rounded(std::size_t n) {
    if (n >= kHuge) return (n + kHuge - 1) / kHuge * kHuge;
    if (n >= kMinCached) return (n + 65535) / 65536 * 65536;
    return (n + 63) / 64 * 64;
  }
  static std::size_t limit() {
    static const std::size_t bytes = [] {
      const char* env = std::getenv("TRIDENT_CPU_CACHE_MB");
      return (env != nullptr ? std::strtoull(env, nullptr, 10) : 1024ull) << 20;
    }();
    return bytes;
  }

  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::size_t cached_bytes_ = 0;
};

// Never destroyed: tensors held in static objects may be freed after this file's statics are gone.
CpuAllocator& cpu_allocator = *new CpuAllocator;

std::array<Allocator*, kNumDeviceTypes>& allocator_table() {
  static std::array<Allocator*, kNumDeviceTypes> table{&cpu_allocator, nullptr};
  return table;
}

}  // namespace

void cpu_empty_cache() { cpu_allocator.empty_cache(); }
std::size_t cpu_cached_bytes() { return cpu_allocator.cached_bytes(); }

void register_allocator(DeviceType type, Allocator* allocator) {
  allocator_table()[static_cast<int>(type)] = allocator;
}

Allocator* allocator_for(Device device) {
  Allocator* a = allocator_table()[static_cast<int>(device.type)];
  TRIDENT_CHECK(a != nullptr, "{}: no allocator for this device (built with TRIDENT_CUDA=OFF?)", device);
  return a;
}

Storage::Storage(std::size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(allocator_for(device)) {
  data_ = allocator_->allocate(nbytes, device);
}

Storage::~Storage() {
  if (data_ != nullptr) allocator_->deallocate(data_, nbytes_, device_);
}

}  // namespace trident
