// CUDA converting copy and fill kernels (launch.h; contract: backends/kernels.h, copy and fill). Copies that need no
// conversion or gathering are cudaMemcpy calls made by kernels.cpp; this file handles the rest.
#include <cstdint>

#include "trident/backends/cuda/loops.cuh"

namespace trident::cuda {
namespace {

template <typename D, typename S>
struct ConvertFn {
  __device__ D operator()(S x) const { return static_cast<D>(x); }
};

template <typename T>
struct FillFn {
  T value;
  __device__ T operator()() const { return value; }
};

}  // namespace

cudaError_t launch_convert(const ElementwiseArgs& a) {
  return dispatch_type(a.dtype[0], [&]<typename D>() {
    return dispatch_type(a.dtype[1], [&]<typename S>() { return map<D, S>(a, ConvertFn<D, S>{}); });
  });
}

cudaError_t launch_fill(const ElementwiseArgs& a, double value) {
  return dispatch_type(a.dtype[0], [&]<typename T>() { return map<T>(a, FillFn<T>{static_cast<T>(value)}); });
}

}  // namespace trident::cuda
