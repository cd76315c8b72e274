// Sequential. Interface: nn/container.h.
#include "trident/nn/container.h"

#include <string>

namespace trident::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) append(m);
}

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) append(m);
}

void Sequential::append(std::shared_ptr<Module> module) {
  TRIDENT_CHECK(module != nullptr, "Sequential: module {} is null", modules_.size());
  add_child(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& m : modules_) y = m->forward(y);
  return y;
}

std::shared_ptr<Module> Sequential::operator[](std::int64_t i) const {
  const auto n = static_cast<std::int64_t>(modules_.size());
  TRIDENT_CHECK(i >= -n && i < n, "Sequential: index {} out of range for {} modules", i, n);
  return modules_[static_cast<std::size_t>(i < 0 ? i + n : i)];
}

}  // namespace trident::nn
