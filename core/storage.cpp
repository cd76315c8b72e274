#include "trident/core/storage.h"

#include <array>
#include <cstdlib>
#include <new>

#include "trident/core/error.h"

namespace trident {
namespace {

// CPU memory is 64-byte aligned so that vector loads (AVX-512) and oneDNN never see a split cache line at the start.
class CpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes, Device) override {
    if (nbytes == 0) return nullptr;
    const std::size_t rounded = (nbytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    TRIDENT_CHECK(p != nullptr, "cpu allocator: out of memory allocating {} bytes", nbytes);
    return p;
  }
  void deallocate(void* ptr, std::size_t, Device) override { std::free(ptr); }
};

CpuAllocator cpu_allocator;

std::array<Allocator*, kNumDeviceTypes>& allocator_table() {
  static std::array<Allocator*, kNumDeviceTypes> table{&cpu_allocator, nullptr};
  return table;
}

}  // namespace

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
