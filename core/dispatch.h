// Device dispatch: one table of kernel pointers per kernel, indexed by device type.
//
// Ops never #ifdef on a backend. They call a DispatchStub with the device of their inputs; each backend registers
// its kernels into the stubs when the library loads (TRIDENT_REGISTER_KERNEL, a static object in the backend's .cpp;
// trident is a shared library, so those objects are never dropped by the linker as they could be from an archive).
// A kernel missing for a device is a clear error naming it.
#pragma once

#include <array>
#include <utility>

#include "trident/core/device.h"
#include "trident/core/error.h"

namespace trident {

template <typename Fn>
class DispatchStub;

template <typename Ret, typename... Args>
class DispatchStub<Ret (*)(Args...)> {
 public:
  using FnPtr = Ret (*)(Args...);
  explicit constexpr DispatchStub(const char* name) : name_(name) {}

  void set(DeviceType type, FnPtr fn) { table_[static_cast<int>(type)] = fn; }
  bool has(Device device) const { return table_[static_cast<int>(device.type)] != nullptr; }
  FnPtr get(Device device) const {
    FnPtr fn = table_[static_cast<int>(device.type)];
    TRIDENT_CHECK(fn != nullptr, "{}: no {} kernel (built with TRIDENT_CUDA=OFF?)", name_,
                  device.is_cuda() ? "CUDA" : "CPU");
    return fn;
  }
  template <typename... A>
  Ret operator()(Device device, A&&... args) const {
    return get(device)(std::forward<A>(args)...);
  }
  const char* name() const { return name_; }

 private:
  const char* name_;
  std::array<FnPtr, kNumDeviceTypes> table_{};
};

}  // namespace trident

#define TRIDENT_CONCAT_INNER(a, b) a##b
#define TRIDENT_CONCAT(a, b) TRIDENT_CONCAT_INNER(a, b)
// In a backend .cpp, at namespace scope: TRIDENT_REGISTER_KERNEL(kernels::copy, DeviceType::CPU, &cpu_copy);
#define TRIDENT_REGISTER_KERNEL(stub, device_type, fn)                                              \
  [[maybe_unused]] static const bool TRIDENT_CONCAT(trident_registered_, __COUNTER__) = [] {        \
    (stub).set(device_type, fn);                                                                    \
    return true;                                                                                    \
  }()
