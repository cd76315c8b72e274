// Storage: one reference-counted buffer on one device, shared by a tensor and all of its views.
//
// The storage also carries the version counter used by autograd: every in-place write bumps it, and a tensor saved
// for backward remembers the version it was saved at (see Note [Saved tensors and versions] in autograd/node.h).
// Keeping the counter on the storage means that writing through any view is noticed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "trident/core/device.h"

namespace trident {

// An allocator for one device type. Backends register theirs with register_allocator (CPU is built in).
// `device` says which device of that type (cuda:0, cuda:1, ...); deallocate receives the same nbytes and device
// that allocate was given.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(std::size_t nbytes, Device device) = 0;  // never nullptr for nbytes > 0: throws instead
  virtual void deallocate(void* ptr, std::size_t nbytes, Device device) = 0;
};

void register_allocator(DeviceType type, Allocator* allocator);

// The CPU allocator keeps freed blocks of 1 MiB and more for reuse (Note [CPU block cache] in storage.cpp).
void cpu_empty_cache();          // return every cached block to the system
std::size_t cpu_cached_bytes();  // bytes held in the cache now
Allocator* allocator_for(Device device);  // throws "<device>: no allocator (built with TRIDENT_CUDA=OFF?)"

class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace trident
