// Sequential: a chain of modules, each fed the previous one's output.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <vector>

#include "trident/nn/module.h"

namespace trident::nn {

// The submodules are named "0", "1", ... in order, so parameters read "0.weight", "2.bias", ...:
//   auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(784, 256),
//                                                 std::make_shared<nn::ReLU>(),
//                                                 std::make_shared<nn::Linear>(256, 10));
//   nn::Sequential features({std::make_shared<nn::Conv2d>(1, 32, 3), std::make_shared<nn::ReLU>()});
//   features.push_back(std::make_shared<nn::MaxPool2d>(2));
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  template <typename... M>
  requires(sizeof...(M) > 0 &&
           (std::is_base_of_v<Module, M> && ...)) explicit Sequential(std::shared_ptr<M>... modules) {
    (push_back(std::move(modules)), ...);
  }

  // Appends a module (named by its position) and returns it.
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "Sequential::push_back: M must derive from nn::Module");
    append(module);
    return module;
  }

  // Runs the modules in order; an empty Sequential returns its input.
  Tensor forward(const Tensor& x) override;

  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // The module at position i (negative i counts from the end); an error when out of range.
  std::shared_ptr<Module> operator[](std::int64_t i) const;
  // The module at position i as type M; an error when it is of another type.
  template <typename M>
  std::shared_ptr<M> at(std::int64_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    TRIDENT_CHECK(m != nullptr, "Sequential::at: module {} is a {}, not the type asked for", i, (*this)[i]->name());
    return m;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  void append(std::shared_ptr<Module> module);
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace trident::nn
