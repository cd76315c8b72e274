// The plain-data interface between the CUDA backend's C++ side and its .cu files.
//
// kernels.cpp (compiled by the C++ compiler) takes Tensors, checks arguments, merges dims and fills the structs
// below; the .cu files (compiled by nvcc) hold the templates and kernels and see nothing but this header and CUDA's.
// Keeping trident's C++ headers away from nvcc avoids compiling fmt (whose consteval format checks nvcc's front end
// cannot evaluate) and Tensor's C++20 machinery twice, and keeps the .cu files about kernels only.
//
// Launchers queue work on `stream` for the current device (the caller sets it), and return cudaGetLastError() after
// queueing: the caller wraps them in TRIDENT_CUDA_CHECK. A combination of op and dtypes that kernels.cpp does not
// send returns cudaErrorInvalidValue.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace trident::cuda {

inline constexpr int kMaxDims = 12;     // strided kernels: dims left after merging contiguous ones
inline constexpr int kMaxOperands = 4;  // output + up to three inputs (where)

// Mirrors of trident's enums (kernels.cpp converts with an exhaustive switch).
enum class ScalarType : std::uint8_t { Float32, Float64, Int64, Bool };
enum class UnaryKind : std::uint8_t { Neg, Exp, Log, Sqrt, Abs, Relu, Sigmoid, Tanh, Softplus, Sign, PowScalar, Clamp };
enum class BinaryKind : std::uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr
};
enum class ReduceKind : std::uint8_t { Sum, Max, Min, ArgMax, ArgMin };

// An elementwise loop over operands of one geometry. Operand 0 is the output.
struct ElementwiseArgs {
  cudaStream_t stream = nullptr;
  int num_operands = 0;
  std::int64_t numel = 0;
  void* data[kMaxOperands] = {};  // first element of each operand
  ScalarType dtype[kMaxOperands] = {};
  // Contiguous path: the output is contiguous and each input is contiguous or one broadcast value (scalar[k]).
  bool contiguous = false;
  bool scalar[kMaxOperands] = {};
  // Strided path: merged dims, innermost FIRST; strides in elements per operand.
  int ndim = 0;
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[kMaxOperands][kMaxDims] = {};
};

cudaError_t launch_unary(UnaryKind op, const ElementwiseArgs& args, double arg0, double arg1);
cudaError_t launch_binary(BinaryKind op, const ElementwiseArgs& args);  // operands: out, a, b
cudaError_t launch_where(const ElementwiseArgs& args);                  // operands: out, cond, a, b
cudaError_t launch_convert(const ElementwiseArgs& args);                // operands: out, in (any two dtypes)
cudaError_t launch_fill(const ElementwiseArgs& args, double value);     // operands: out

// A reduction: out[o] = op over r of in[kept_offset(o) + red_offset(r)], o < n_out, r < n_red. The output is
// contiguous, so o is also its offset. kept/red dims are merged, innermost FIRST, strides in elements of `in`.
struct ReduceArgs {
  cudaStream_t stream = nullptr;
  int multiprocessors = 1;  // of the device: sizes the grid
  const void* in = nullptr;
  void* out = nullptr;
  ScalarType in_dtype = ScalarType::Float32, out_dtype = ScalarType::Float32;
  std::int64_t n_out = 0, n_red = 0;
  int kept_ndim = 0, red_ndim = 0;
  std::int64_t kept_sizes[kMaxDims] = {}, kept_strides[kMaxDims] = {};
  std::int64_t red_sizes[kMaxDims] = {}, red_strides[kMaxDims] = {};
};

// How a reduction is laid out on the GPU (plan_reduce), and the scratch memory it needs for partial results.
struct ReducePlan {
  bool valid = false;         // false: this op/dtype combination has no kernel
  bool reduce_fast = false;   // threads next to each other walk the reduced dims (else: the kept dims)
  int outputs_per_block = 1;  // blockDim.x = outputs_per_block * threads_per_output = 256
  int threads_per_output = 1;
  std::int64_t splits = 1;     // the reduced range is cut into this many pieces (grid.y), combined by a 2nd kernel
  std::int64_t per_split = 0;  // reduced elements per piece
  std::size_t workspace_bytes = 0;
};
ReducePlan plan_reduce(ReduceKind op, const ReduceArgs& args);
cudaError_t launch_reduce(ReduceKind op, const ReduceArgs& args, const ReducePlan& plan, void* workspace);

// Softmax / log_softmax over the middle dim of a contiguous [outer, D, inner] block (softmax.cu). Forward: reads x,
// writes y. Backward: reads g (grad_out) and y (the forward's output), writes gx. All three contiguous, one dtype
// (Float32 or Float64).
struct SoftmaxArgs {
  cudaStream_t stream = nullptr;
  int multiprocessors = 1;  // of the device: sizes the grid of the columns kernel
  ScalarType dtype = ScalarType::Float32;
  bool log = false;
  std::int64_t outer = 1, D = 1, inner = 1;
  const void* x = nullptr;  // forward input
  const void* g = nullptr;  // backward: grad_out
  const void* y = nullptr;  // backward: the forward's output
  void* out = nullptr;      // forward: y; backward: gx
};
cudaError_t launch_softmax(const SoftmaxArgs& args);
cudaError_t launch_softmax_backward(const SoftmaxArgs& args);

}  // namespace trident::cuda
