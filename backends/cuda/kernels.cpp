// The CUDA implementations of the kernels in backends/kernels.h (copy, fill, unary, binary, where, reduce, softmax,
// matmul): the C++ side. Each checks what the CPU kernel checks, describes its tensors in launch.h's plain structs
// (merging dims that are contiguous for every operand), and calls the launcher from the .cu files on the tensors'
// device and stream.
#include "trident/backends/kernels.h"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <optional>
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

// ---- softmax (softmax.cu) ---------------------------------------------------------------------------------------

// [outer, D, inner] around `dim`.
SoftmaxArgs softmax_geometry(const Tensor& t, std::int64_t dim) {
  SoftmaxArgs a;
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    if (d < dim) a.outer *= t.size(d);
    if (d > dim) a.inner *= t.size(d);
  }
  a.D = t.size(dim);
  const int device = t.device().index;
  a.stream = current_stream(device);
  a.multiprocessors = multiprocessor_count(device);
  a.dtype = scalar_type(t.dtype());
  return a;
}

void cuda_softmax(const Tensor& in, const Tensor& out, std::int64_t dim, bool log) {
  TRIDENT_ASSERT(out.is_contiguous() && out.sizes() == in.sizes() && out.dtype() == in.dtype(),
                 "softmax: out must be contiguous, of in's sizes and dtype");
  TRIDENT_CHECK(in.dtype() == kFloat32 || in.dtype() == kFloat64, "softmax: expected float32 or float64, got {}",
                in.dtype());
  if (in.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Tensor x = contiguous_as(in, in.dtype());
  SoftmaxArgs a = softmax_geometry(x, dim);
  a.log = log;
  a.x = x.raw_data();
  a.out = out.raw_data();
  TRIDENT_CUDA_CHECK(launch_softmax(a));
}

void cuda_softmax_backward(const Tensor& grad_out, const Tensor& out, const Tensor& grad_in, std::int64_t dim,
                           bool log) {
  TRIDENT_ASSERT(grad_in.is_contiguous() && grad_out.sizes() == out.sizes() && grad_in.sizes() == out.sizes(),
                 "softmax_backward: grad_in must be contiguous, all of out's sizes");
  TRIDENT_CHECK(out.dtype() == kFloat32 || out.dtype() == kFloat64,
                "softmax_backward: expected float32 or float64, got {}", out.dtype());
  TRIDENT_ASSERT(grad_out.dtype() == out.dtype() && grad_in.dtype() == out.dtype(),
                 "softmax_backward: dtypes {}, {} -> {}", grad_out.dtype(), out.dtype(), grad_in.dtype());
  if (out.numel() == 0) return;
  DeviceGuard guard(grad_in.device().index);
  const Tensor g = contiguous_as(grad_out, grad_out.dtype()), y = contiguous_as(out, out.dtype());
  SoftmaxArgs a = softmax_geometry(y, dim);
  a.log = log;
  a.g = g.raw_data();
  a.y = y.raw_data();
  a.out = grad_in.raw_data();
  TRIDENT_CUDA_CHECK(launch_softmax_backward(a));
}

// ---- matmul (cuBLAS) --------------------------------------------------------------------------------------------

// Note [Row-major matmul with cuBLAS]
// cuBLAS is column-major. A row-major matrix with strides (s_r, 1) is, read column-major with leading dimension s_r,
// its transpose. So the row-major product C = A B ([M, N], contiguous: ldc = N) is computed as the column-major
// C^T = B^T A^T of sizes m = N, n = M, k = K, with B passed first and A second. An operand that is row-contiguous
// (unit stride along its columns) is passed as stored with op N; one that is column-contiguous (a transposed view:
// unit stride along its rows) is passed with op T and leading dimension its column stride. Batches use the strided
// batched GEMM with the operands' own batch strides (0 for a matrix broadcast over the batch). Anything else (a
// column stride of 2, a stride-0 row, a leading dimension too small for cuBLAS) is first copied contiguous.
// float32 runs in full FP32 (cuBLAS's default math mode: no TF32), so results match the CPU to float32 rounding.
struct GemmOperand {
  bool transpose = false;  // op T (column-contiguous) rather than op N (row-contiguous)
  std::int64_t ld = 1;
};

// How cuBLAS can read a row-major [rows, cols] matrix with strides (sr, sc) in place, or nothing.
std::optional<GemmOperand> gemm_operand(std::int64_t rows, std::int64_t cols, std::int64_t sr, std::int64_t sc) {
  const std::int64_t max_int = std::numeric_limits<int>::max();
  const bool unit_cols = cols == 1 || sc == 1, unit_rows = rows == 1 || sr == 1;
  if (unit_cols) {
    const std::int64_t ld = rows == 1 ? std::max<std::int64_t>(cols, 1) : sr;
    if (ld >= std::max<std::int64_t>(cols, 1) && ld <= max_int) return GemmOperand{false, ld};
  }
  if (unit_rows) {
    const std::int64_t ld = cols == 1 ? std::max<std::int64_t>(rows, 1) : sc;
    if (ld >= std::max<std::int64_t>(rows, 1) && ld <= max_int) return GemmOperand{true, ld};
  }
  return std::nullopt;
}

struct GemmInput {
  Tensor matrix;  // t itself or a contiguous copy
  GemmOperand op;
  std::int64_t batch_stride = 0;
};

GemmInput gemm_input(const Tensor& t) {
  if (t.size(0) == 1 || t.stride(0) >= 0) {
    if (auto op = gemm_operand(t.size(1), t.size(2), t.stride(1), t.stride(2)))
      return {t, *op, t.size(0) == 1 ? 0 : t.stride(0)};
  }
  const Tensor c = contiguous_as(t, t.dtype());
  return {c, GemmOperand{false, std::max<std::int64_t>(c.size(2), 1)}, c.size(1) * c.size(2)};
}

void cuda_matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  TRIDENT_ASSERT(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(),
                 "matmul: expected 3-d a, b and a contiguous 3-d out");
  TRIDENT_CHECK(a.dtype() == kFloat32 || a.dtype() == kFloat64, "matmul: expected float32 or float64, got {}",
                a.dtype());
  TRIDENT_ASSERT(b.dtype() == a.dtype() && out.dtype() == a.dtype(), "matmul: dtypes {}, {} -> {}", a.dtype(),
                 b.dtype(), out.dtype());
  const std::int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  TRIDENT_ASSERT(b.size(0) == B && b.size(1) == K && out.size(0) == B && out.size(1) == M && out.size(2) == N,
                 "matmul: shapes {} @ {} -> {}", shape_str(a.sizes()), shape_str(b.sizes()), shape_str(out.sizes()));
  if (B == 0 || M == 0 || N == 0) return;
  const int device = out.device().index;
  DeviceGuard guard(device);
  if (K == 0) {
    TRIDENT_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, nbytes_of(out), current_stream(device)));
    return;
  }
  const std::int64_t max_int = std::numeric_limits<int>::max();
  TRIDENT_CHECK(B <= max_int && M <= max_int && N <= max_int && K <= max_int,
                "matmul: CUDA (cuBLAS) sizes must fit in int, got {} @ {}", shape_str(a.sizes()), shape_str(b.sizes()));
  const GemmInput ga = gemm_input(a), gb = gemm_input(b);
  const cublasHandle_t handle = cublas_handle(device);
  const auto op = [](const GemmOperand& o) { return o.transpose ? CUBLAS_OP_T : CUBLAS_OP_N; };
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K), batch = static_cast<int>(B);
  const int lda = static_cast<int>(gb.op.ld), ldb = static_cast<int>(ga.op.ld), ldc = m;
  const long long stride_a = gb.batch_stride, stride_b = ga.batch_stride, stride_c = M * N;
  if (a.dtype() == kFloat32) {
    const float alpha = 1.0f, beta = 0.0f;
    TRIDENT_CUBLAS_CHECK(cublasSgemmStridedBatched(
        handle, op(gb.op), op(ga.op), m, n, k, &alpha, gb.matrix.data_ptr<float>(), lda, stride_a,
        ga.matrix.data_ptr<float>(), ldb, stride_b, &beta, out.data_ptr<float>(), ldc, stride_c, batch));
  } else {
    const double alpha = 1.0, beta = 0.0;
    TRIDENT_CUBLAS_CHECK(cublasDgemmStridedBatched(
        handle, op(gb.op), op(ga.op), m, n, k, &alpha, gb.matrix.data_ptr<double>(), lda, stride_a,
        ga.matrix.data_ptr<double>(), ldb, stride_b, &beta, out.data_ptr<double>(), ldc, stride_c, batch));
  }
}

TRIDENT_REGISTER_KERNEL(kernels::copy, DeviceType::CUDA, &cuda_copy);
TRIDENT_REGISTER_KERNEL(kernels::fill, DeviceType::CUDA, &cuda_fill);
TRIDENT_REGISTER_KERNEL(kernels::unary, DeviceType::CUDA, &cuda_unary);
TRIDENT_REGISTER_KERNEL(kernels::binary, DeviceType::CUDA, &cuda_binary);
TRIDENT_REGISTER_KERNEL(kernels::where, DeviceType::CUDA, &cuda_where);
TRIDENT_REGISTER_KERNEL(kernels::reduce, DeviceType::CUDA, &cuda_reduce);
TRIDENT_REGISTER_KERNEL(kernels::softmax, DeviceType::CUDA, &cuda_softmax);
TRIDENT_REGISTER_KERNEL(kernels::softmax_backward, DeviceType::CUDA, &cuda_softmax_backward);
TRIDENT_REGISTER_KERNEL(kernels::matmul, DeviceType::CUDA, &cuda_matmul);

}  // namespace
}  // namespace trident::cuda
