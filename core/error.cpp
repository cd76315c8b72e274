#include "trident/core/error.h"

namespace trident::detail {

void throw_error(std::string message) { throw Error(std::move(message)); }

void throw_internal(const char* condition, const char* file, int line, std::string message) {
  throw Error(fmt::format("internal error (a bug in trident, please report it): {} [{} failed at {}:{}]", message,
                          condition, file, line));
}

}  // namespace trident::detail
