// Grad mode: whether ops record the graph. Thread-local, like PyTorch's.
#pragma once

namespace trident {

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// RAII: no graph is recorded inside its scope (inference, optimizer updates, the backward pass itself).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace trident
