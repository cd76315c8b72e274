// trident::Error and the checking macros.
//
// User errors (wrong shapes, dtypes, devices, files) throw trident::Error through TRIDENT_CHECK; the message starts
// with the operation's name and gives what was expected and what came, e.g.
//   "matmul: inner dimensions differ: [32, 64] @ [65, 10]".
// Broken internal invariants use TRIDENT_ASSERT, which also throws (library code never aborts) but says that the
// failure is a bug in trident rather than in the caller's input.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace trident {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
[[noreturn]] void throw_error(std::string message);
[[noreturn]] void throw_internal(const char* condition, const char* file, int line, std::string message);
}  // namespace detail

}  // namespace trident

// TRIDENT_CHECK(cond, "op: what went wrong: {} vs {}", a, b) -- throws trident::Error with the formatted message.
#define TRIDENT_CHECK(cond, ...)                                      \
  do {                                                                \
    if (!(cond)) [[unlikely]] {                                       \
      ::trident::detail::throw_error(::fmt::format(__VA_ARGS__));     \
    }                                                                 \
  } while (0)

// TRIDENT_ASSERT(cond, "...") -- an invariant of trident itself; a failure is a bug report, not a usage error.
#define TRIDENT_ASSERT(cond, ...)                                                                       \
  do {                                                                                                  \
    if (!(cond)) [[unlikely]] {                                                                         \
      ::trident::detail::throw_internal(#cond, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__));         \
    }                                                                                                   \
  } while (0)
