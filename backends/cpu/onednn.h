// The one oneDNN CPU engine and stream that every oneDNN primitive of trident runs on.
//
// oneDNN's CPU stream executes primitives synchronously on the calling thread (in its OpenMP pool), so one shared
// stream serves all callers; primitives are immutable after creation and may run concurrently.
#pragma once

#include <dnnl.hpp>

#include "trident/core/tensor.h"

namespace trident::cpu {

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

// dnnl dims from trident sizes.
inline dnnl::memory::dims to_dnnl_dims(const Shape& sizes) { return dnnl::memory::dims(sizes.begin(), sizes.end()); }

// A oneDNN memory object over the data of a contiguous float32 tensor (no copy), with descriptor `desc`.
inline dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& t) {
  return dnnl::memory(desc, cpu_engine(), t.raw_data());
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
