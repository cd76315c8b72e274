// Element types, and dispatch from a runtime DType to a compile-time C++ type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "trident/core/error.h"

namespace trident {

enum class DType : std::uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::Float32; }
template <>
constexpr DType dtype_of<double>() { return DType::Float64; }
template <>
constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <>
constexpr DType dtype_of<bool>() { return DType::Bool; }

// dispatch_dtype(t, "op", [&]<typename T>() { ... }) calls the lambda with T = the C++ type of t.
// dispatch_floating only accepts float32/float64 and names the op in its error otherwise.
template <typename F>
decltype(auto) dispatch_dtype(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Int64: return f.template operator()<std::int64_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  detail::throw_error(fmt::format("{}: unknown dtype {}", op, static_cast<int>(t)));
}

template <typename F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    default: break;
  }
  detail::throw_error(fmt::format("{}: expected a floating dtype (float32 or float64), got {}", op, dtype_name(t)));
}

// Numeric types only (no bool): arithmetic kernels.
template <typename F>
decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Int64: return f.template operator()<std::int64_t>();
    default: break;
  }
  detail::throw_error(fmt::format("{}: expected a numeric dtype (float32, float64 or int64), got {}", op, dtype_name(t)));
}

}  // namespace trident

template <>
struct fmt::formatter<trident::DType> : fmt::formatter<std::string_view> {
  auto format(trident::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(trident::dtype_name(t), ctx);
  }
};
