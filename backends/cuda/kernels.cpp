// The CUDA implementations of the kernels in backends/kernels.h (copy, fill, unary, binary, where, reduce): the C++
// side. Each checks what the CPU kernel checks, describes its tensors in launch.h's plain structs (merging dims that
// are contiguous for every operand), and calls the launcher from the .cu files on the tensors' device and stream.
#include "trident/backends/kernels.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "trident/backends/cuda/allocator.h"
#include "trident/backends/cuda/context.h"
#include "trident/backends/cuda/cuda_check.h"
#include "trident/backends/cuda/launch.h"

namespace trident::cuda {
namespace {

using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;

ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::Float32:
      return ScalarType::Float32;
    case DType::Float64:
      return ScalarType::Float64;
    case DType::Int64:
      return ScalarType::Int64;
    case DType::Bool:
      return ScalarType::Bool;
  }
  TRIDENT_ASSERT(false, "cuda: unknown dtype {}", static_cast<int>(t));
}

UnaryKind unary_kind(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
      return UnaryKind::Neg;
    case UnaryOp::Exp:
      return UnaryKind::Exp;
    case UnaryOp::Log:
      return UnaryKind::Log;
    case UnaryOp::Sqrt:
      return UnaryKind::Sqrt;
    case UnaryOp::Abs:
      return UnaryKind::Abs;
    case UnaryOp::Relu:
      return UnaryKind::Relu;
    case UnaryOp::Sigmoid:
      return UnaryKind::Sigmoid;
    case UnaryOp::Tanh:
      return UnaryKind::Tanh;
    case UnaryOp::Softplus:
      return UnaryKind::Softplus;
    case UnaryOp::Sign:
      return UnaryKind::Sign;
    case UnaryOp::PowScalar:
      return UnaryKind::PowScalar;
    case UnaryOp::Clamp:
      return UnaryKind::Clamp;
  }
  TRIDENT_ASSERT(false, "unary: unknown operation {}", static_cast<int>(op));
}

BinaryKind binary_kind(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return BinaryKind::Add;
    case BinaryOp::Sub:
      return BinaryKind::Sub;
    case BinaryOp::Mul:
      return BinaryKind::Mul;
    case BinaryOp::Div:
      return BinaryKind::Div;
    case BinaryOp::Pow:
      return BinaryKind::Pow;
    case BinaryOp::Maximum:
      return BinaryKind::Maximum;
    case BinaryOp::Minimum:
      return BinaryKind::Minimum;
    case BinaryOp::Eq:
      return BinaryKind::Eq;
    case BinaryOp::Ne:
      return BinaryKind::Ne;
    case BinaryOp::Lt:
      return BinaryKind::Lt;
    case BinaryOp::Le:
      return BinaryKind::Le;
    case BinaryOp::Gt:
      return BinaryKind::Gt;
    case BinaryOp::Ge:
      return BinaryKind::Ge;
    case BinaryOp::LogicalAnd:
      return BinaryKind::LogicalAnd;
    case BinaryOp::LogicalOr:
      return BinaryKind::LogicalOr;
  }
  TRIDENT_ASSERT(false, "binary: unknown operation {}", static_cast<int>(op));
}

ReduceKind reduce_kind(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ReduceKind::Sum;
    case ReduceOp::Max:
      return ReduceKind::Max;
    case ReduceOp::Min:
      return ReduceKind::Min;
    case ReduceOp::ArgMax:
      return ReduceKind::ArgMax;
    case ReduceOp::ArgMin:
      return ReduceKind::ArgMin;
  }
  TRIDENT_ASSERT(false, "reduce: unknown operation {}", static_cast<int>(op));
}

bool is_broadcast_scalar(const Tensor& t) {
  for (std::int64_t d = 0; d < t.dim(); ++d)
    if (t.sizes()[d] != 1 && t.strides()[d] != 0) return false;
  return true;
}

// Describe an elementwise loop. operands[0] is the output; every operand has its sizes and lies on its device.
ElementwiseArgs elementwise_args(const char* op, std::initializer_list<const Tensor*> operands) {
  const Tensor& out = **operands.begin();
  const int n_ops = static_cast<int>(operands.size());
  TRIDENT_ASSERT(n_ops <= kMaxOperands, "{}: too many operands", op);
  ElementwiseArgs a;
  a.stream = current_stream(out.device().index);
  a.num_operands = n_ops;
  a.numel = out.numel();
  a.contiguous = out.is_contiguous();
  int k = 0;
  for (const Tensor* t : operands) {
    TRIDENT_ASSERT(t->sizes() == out.sizes() && t->device() == out.device(),
                   "{}: operand {} has shape {} on {}, "
                   "expected {} on {}",
                   op, k, shape_str(t->sizes()), t->device(), shape_str(out.sizes()), out.device());
    a.data[k] = t->raw_data();
    a.dtype[k] = scalar_type(t->dtype());
    if (k > 0) {
      a.scalar[k] = is_broadcast_scalar(*t);
      a.contiguous = a.contiguous && (a.scalar[k] || t->is_contiguous());
    }
    ++k;
  }
  if (a.contiguous) return a;
  // Merge dims (outermost first) that are contiguous for every operand; drop size-1 dims.
  const Shape& sizes = out.sizes();
  std::vector<std::int64_t> msizes;
  std::vector<std::vector<std::int64_t>> mstrides(static_cast<std::size_t>(n_ops));
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    bool merge = !msizes.empty();
    k = 0;
    for (const Tensor* t : operands) {
      merge = merge && mstrides[k].back() == t->strides()[d] * sizes[d];
      ++k;
    }
    if (!merge) msizes.push_back(1);
    msizes.back() *= sizes[d];
    k = 0;
    for (const Tensor* t : operands) {
      if (merge) {
        mstrides[k].back() = t->strides()[d];
      } else {
        mstrides[k].push_back(t->strides()[d]);
      }
      ++k;
    }
  }
  const int nd = static_cast<int>(msizes.size());
  TRIDENT_CHECK(nd <= kMaxDims,
                "{}: CUDA kernels handle at most {} dims that cannot be merged, got shape {} "
                "(call .contiguous() first)",
                op, kMaxDims, shape_str(sizes));
  a.ndim = nd;
  for (int d = 0; d < nd; ++d) {  // innermost first
    a.sizes[d] = msizes[nd - 1 - d];
    for (int j = 0; j < n_ops; ++j) a.strides[j][d] = mstrides[j][nd - 1 - d];
  }
  return a;
}

// ---- copy and fill ---------------------------------------------------------------------------------------------

std::size_t nbytes_of(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * t.itemsize(); }

// src and dst on the same CUDA device.
void copy_on_device(const Tensor& src, const Tensor& dst) {
  const int device = dst.device().index;
  DeviceGuard guard(device);
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    TRIDENT_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes_of(dst), cudaMemcpyDeviceToDevice,
                                       current_stream(device)));
    return;
  }
  TRIDENT_CUDA_CHECK(launch_convert(elementwise_args("copy", {&dst, &src})));
}

// A contiguous tensor with t's sizes and values converted to `dtype`, on t's device (t itself when it already is).
Tensor contiguous_as(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype && t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), {.dtype = dtype, .device = t.device()});
  if (t.device().is_cpu()) {
    kernels::copy(kCPU, t, out);
  } else {
    copy_on_device(t, out);
  }
  return out;
}

void copy_host_to_device(const Tensor& src, const Tensor& dst) {
  const Tensor host = contiguous_as(src, src.dtype());
  const bool direct = src.dtype() == dst.dtype() && dst.is_contiguous();
  const Tensor staged = direct ? dst : empty(dst.sizes(), {.dtype = src.dtype(), .device = dst.device()});
  {
    DeviceGuard guard(dst.device().index);
    TRIDENT_CUDA_CHECK(cudaMemcpy(staged.raw_data(), host.raw_data(), nbytes_of(host), cudaMemcpyHostToDevice));
  }
  if (!direct) copy_on_device(staged, dst);
}

void copy_device_to_host(const Tensor& src, const Tensor& dst) {
  const Tensor gathered = contiguous_as(src, dst.dtype());  // on the device
  const bool direct = dst.is_contiguous();
  const Tensor host = direct ? dst : empty(dst.sizes(), {.dtype = dst.dtype(), .device = kCPU});
  {
    DeviceGuard guard(src.device().index);
    // cudaMemcpy to pageable host memory waits for the kernels queued before it.
    TRIDENT_CUDA_CHECK(cudaMemcpy(host.raw_data(), gathered.raw_data(), nbytes_of(host), cudaMemcpyDeviceToHost));
  }
  if (!direct) kernels::copy(kCPU, host, dst);
}

void copy_between_devices(const Tensor& src, const Tensor& dst) {
  const Tensor from = contiguous_as(src, src.dtype());
  const bool direct = src.dtype() == dst.dtype() && dst.is_contiguous();
  const Tensor to = direct ? dst : empty(dst.sizes(), {.dtype = src.dtype(), .device = dst.device()});
  TRIDENT_CUDA_CHECK(
      cudaMemcpyPeer(to.raw_data(), dst.device().index, from.raw_data(), src.device().index, nbytes_of(from)));
  if (!direct) copy_on_device(to, dst);
}

// Note [CUDA copies]
// Tensor::to(Device) calls the non-CPU side's copy kernel (ops/shape.cpp), so this kernel also moves data between
// the CPU and a device:
//   same device:   contiguous same-dtype -> cudaMemcpyAsync; anything else -> one strided converting kernel;
//   CPU -> device: the source is made contiguous on the CPU if needed, copied with cudaMemcpy, then converted or
//                  scattered on the device if needed;
//   device -> CPU: gathered/converted on the device into a contiguous buffer if needed, copied with cudaMemcpy
//                  (which waits for earlier kernels), then scattered on the CPU if needed;
//   device -> another device: through contiguous buffers and cudaMemcpyPeer.
void cuda_copy(const Tensor& src, const Tensor& dst) {
  TRIDENT_ASSERT(src.sizes() == dst.sizes(), "copy: sizes differ: {} and {}", shape_str(src.sizes()),
                 shape_str(dst.sizes()));
  if (dst.numel() == 0) return;
  const Device s = src.device(), d = dst.device();
  if (s == d) return copy_on_device(src, dst);
  if (s.is_cpu()) return copy_host_to_device(src, dst);
  if (d.is_cpu()) return copy_device_to_host(src, dst);
  copy_between_devices(src, dst);
}

void cuda_fill(const Tensor& dst, double value) {
  DeviceGuard guard(dst.device().index);
  TRIDENT_CUDA_CHECK(launch_fill(elementwise_args("fill", {&dst}), value));
}

// ---- elementwise ------------------------------------------------------------------------------------------------

void cuda_unary(UnaryOp op, const Tensor& in, const Tensor& out, double arg0, double arg1) {
  TRIDENT_CHECK(in.dtype() != kBool, "unary: expected a numeric dtype (float32, float64 or int64), got bool");
  if (in.dtype() == kInt64) {
    const bool defined =
        op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu || op == UnaryOp::Sign || op == UnaryOp::Clamp ||
        op == UnaryOp::PowScalar;
    TRIDENT_CHECK(defined, "unary: operation {} is not defined for int64 tensors", static_cast<int>(op));
  }
  DeviceGuard guard(out.device().index);
  TRIDENT_CUDA_CHECK(launch_unary(unary_kind(op), elementwise_args("unary", {&out, &in}), arg0, arg1));
}

void cuda_binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const bool comparison = op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt || op == BinaryOp::Le ||
                          op == BinaryOp::Gt || op == BinaryOp::Ge || op == BinaryOp::LogicalAnd ||
                          op == BinaryOp::LogicalOr;
  TRIDENT_CHECK(comparison || a.dtype() != kBool, "binary: arithmetic is not defined for bool tensors");
  TRIDENT_ASSERT(a.dtype() == b.dtype() && out.dtype() == (comparison ? kBool : a.dtype()),
                 "binary: dtypes {}, {} -> {}", a.dtype(), b.dtype(), out.dtype());
  DeviceGuard guard(out.device().index);
  TRIDENT_CUDA_CHECK(launch_binary(binary_kind(op), elementwise_args("binary", {&out, &a, &b})));
}

void cuda_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  TRIDENT_ASSERT(cond.dtype() == kBool && a.dtype() == out.dtype() && b.dtype() == out.dtype(),
                 "where: dtypes {}, {}, {} -> {}", cond.dtype(), a.dtype(), b.dtype(), out.dtype());
  DeviceGuard guard(out.device().index);
  TRIDENT_CUDA_CHECK(launch_where(elementwise_args("where", {&out, &cond, &a, &b})));
}

// ---- reductions (see Note [CUDA reduction layout] in reduce.cu)
// ------------------------------------------------------

struct ReduceDim {
  std::int64_t size, stride;
};

// Merge adjacent dims (outermost first) that are contiguous with respect to each other in the input.
std::vector<ReduceDim> merge_dims(const std::vector<ReduceDim>& dims) {
  std::vector<ReduceDim> out;
  for (const ReduceDim& d : dims) {
    if (!out.empty() && out.back().stride == d.stride * d.size) {
      out.back().size *= d.size;
      out.back().stride = d.stride;
    } else {
      out.push_back(d);
    }
  }
  return out;
}

void cuda_reduce(ReduceOp op, const Tensor& in, const Tensor& out) {
  TRIDENT_ASSERT(out.is_contiguous() && out.dim() == in.dim(), "reduce: out must be contiguous with in's rank");
  if (out.numel() == 0) return;
  std::vector<ReduceDim> kept, red;
  for (std::int64_t d = 0; d < in.dim(); ++d) {
    if (in.size(d) == 1) continue;
    (out.size(d) == 1 ? red : kept).push_back({in.size(d), in.stride(d)});
  }
  kept = merge_dims(kept);
  red = merge_dims(red);
  TRIDENT_CHECK(kept.size() <= static_cast<std::size_t>(kMaxDims) && red.size() <= static_cast<std::size_t>(kMaxDims),
                "reduce: CUDA kernel handles at most {} kept and {} reduced dims that cannot be merged, got shape {} "
                "(call .contiguous() first)",
                kMaxDims, kMaxDims, shape_str(in.sizes()));
  const int device = in.device().index;
  ReduceArgs a;
  a.stream = current_stream(device);
  a.multiprocessors = multiprocessor_count(device);
  a.in = in.raw_data();
  a.out = out.raw_data();
  a.in_dtype = scalar_type(in.dtype());
  a.out_dtype = scalar_type(out.dtype());
  a.n_out = out.numel();
  a.n_red = 1;
  for (const auto& d : red) a.n_red *= d.size;
  a.kept_ndim = static_cast<int>(kept.size());
  a.red_ndim = static_cast<int>(red.size());
  for (int d = 0; d < a.kept_ndim; ++d) {  // innermost first
    a.kept_sizes[d] = kept[kept.size() - 1 - d].size;
    a.kept_strides[d] = kept[kept.size() - 1 - d].stride;
  }
  for (int d = 0; d < a.red_ndim; ++d) {
    a.red_sizes[d] = red[red.size() - 1 - d].size;
    a.red_strides[d] = red[red.size() - 1 - d].stride;
  }
  const ReduceKind kind = reduce_kind(op);
  const ReducePlan plan = plan_reduce(kind, a);
  TRIDENT_CHECK(plan.valid, "reduce: no CUDA kernel for operation {} from {} to {}", static_cast<int>(op), in.dtype(),
                out.dtype());
  DeviceGuard guard(device);
  if (plan.workspace_bytes > 0) {
    DeviceBuffer workspace(plan.workspace_bytes, device);  // freed after queueing: safe on one stream (context.h)
    TRIDENT_CUDA_CHECK(launch_reduce(kind, a, plan, workspace.get()));
  } else {
    TRIDENT_CUDA_CHECK(launch_reduce(kind, a, plan, nullptr));
  }
}

TRIDENT_REGISTER_KERNEL(kernels::copy, DeviceType::CUDA, &cuda_copy);
TRIDENT_REGISTER_KERNEL(kernels::fill, DeviceType::CUDA, &cuda_fill);
TRIDENT_REGISTER_KERNEL(kernels::unary, DeviceType::CUDA, &cuda_unary);
TRIDENT_REGISTER_KERNEL(kernels::binary, DeviceType::CUDA, &cuda_binary);
TRIDENT_REGISTER_KERNEL(kernels::where, DeviceType::CUDA, &cuda_where);
TRIDENT_REGISTER_KERNEL(kernels::reduce, DeviceType::CUDA, &cuda_reduce);

}  // namespace
}  // namespace trident::cuda
