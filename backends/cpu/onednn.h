// Helpers for the oneDNN-backed CPU kernels (conv, pool, norm): dims, memory wrappers, error translation. The engine
// and stream they run on are the ones of dnnl_context.h, shared with matmul.
#pragma once

#include <dnnl.hpp>

#include "trident/backends/cpu/dnnl_context.h"  // the one engine and stream

#include "trident/core/tensor.h"

namespace trident::cpu {


// dnnl dims from trident sizes.
inline dnnl::memory::dims to_dnnl_dims(const Shape& sizes) { return dnnl::memory::dims(sizes.begin(), sizes.end()); }

// A oneDNN memory object over the data of a contiguous float32 tensor (no copy), with descriptor `desc`.
inline dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& t) {
  return dnnl::memory(desc, dnnl_engine(), t.raw_data());
}

// Runs f(), turning a dnnl::error (an unsupported configuration, an allocation failure) into a trident::Error that
// names the kernel: oneDNN's own exceptions never leave trident.
template <typename F>
decltype(auto) onednn_call(const char* kernel, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    detail::throw_error(fmt::format("{}: oneDNN failed: {} (status {})", kernel, e.what(), static_cast<int>(e.status)));
  }
}

}  // namespace trident::cpu
