// Default (no-CUDA) answers for core/cuda_runtime.h, replaced by the CUDA backend when it registers.
#include "trident/core/cuda_runtime.h"

namespace trident {
namespace {
// Constant-initialised (all null) before any dynamic initialiser runs, so the backend may register from its own
// static initialiser in any order.
constinit detail::CudaRuntimeHooks hooks{};
}  // namespace

void detail::register_cuda_runtime(const CudaRuntimeHooks& h) { hooks = h; }

bool cuda_is_built() { return hooks.device_count != nullptr; }
int cuda_device_count() { return hooks.device_count ? hooks.device_count() : 0; }
bool cuda_is_available() { return cuda_device_count() > 0; }

void cuda::empty_cache() {
  if (hooks.empty_cache) hooks.empty_cache();
}
cuda::MemoryStats cuda::memory_stats(int device) {
  return hooks.memory_stats ? hooks.memory_stats(device) : MemoryStats{};
}
void cuda::synchronize(int device) {
  if (hooks.synchronize) hooks.synchronize(device);
}

}  // namespace trident
