// Where a tensor's storage lives. The device travels with every tensor and every op dispatches on it.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace trident {

enum class DeviceType : std::uint8_t { CPU = 0, CUDA = 1 };
inline constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(Device a, Device b) { return a.type == b.type && a.index == b.index; }
  std::string str() const { return type == DeviceType::CPU ? std::string("cpu") : fmt::format("cuda:{}", index); }
};

inline constexpr Device kCPU = Device::cpu();

}  // namespace trident

template <>
struct fmt::formatter<trident::Device> : fmt::formatter<std::string> {
  auto format(trident::Device d, format_context& ctx) const { return fmt::formatter<std::string>::format(d.str(), ctx); }
};
