// The kernel contract: every kernel trident dispatches, with what it requires and ensures.
//
// This file is the interface between ops/ (device-independent: checks, shapes, autograd) and backends/ (cpu/, cuda/,
// and reference/ as the oracle in tests). An op allocates its outputs on its inputs' device, then calls one of these
// stubs; the backend registered for that device runs. Unless a kernel says otherwise:
//   - all tensors are on the same device, and outputs are freshly allocated, contiguous and do not alias inputs;
//   - inputs may have any strides (views, including stride-0 broadcast views);
//   - kernels write (=) their outputs, never accumulate, and never throw for well-formed arguments (ops check).
#pragma once

#include <cstdint>

#include "trident/core/dispatch.h"
#include "trident/core/tensor.h"

namespace trident::kernels {

// ==== memory ==========================================================================================================
// copy: dst[i] = convert<dst.dtype>(src[i]) for every index i. Requires src.sizes == dst.sizes (src may be a
// broadcast view); dst may be any strided view that does not overlap itself; dtypes may differ.
using copy_fn = void (*)(const Tensor& src, const Tensor& dst);
extern DispatchStub<copy_fn> copy;

// fill: every element of dst (any strided view) = value converted to dst.dtype.
using fill_fn = void (*)(const Tensor& dst, double value);
extern DispatchStub<fill_fn> fill;

// ==== elementwise =====================================================================================================
enum class UnaryOp : std::uint8_t {
  Neg, Exp, Log, Sqrt, Abs, Relu, Sigmoid, Tanh, Softplus, Sign,
  PowScalar,  // x^arg0
  Clamp,      // min(max(x, arg0), arg1); use -inf / +inf for a missing bound
};
// unary: out[i] = op(in[i]) (with scalar arguments arg0/arg1 where the op takes them).
// Requires in.sizes == out.sizes, same dtype (numeric); out may be `in` itself (in-place) when in is contiguous.
using unary_fn = void (*)(UnaryOp op, const Tensor& in, const Tensor& out, double arg0, double arg1);
extern DispatchStub<unary_fn> unary;

enum class BinaryOp : std::uint8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };
// binary: out[i] = a[i] op b[i]. Requires a.sizes == b.sizes == out.sizes (a and b are broadcast views), a.dtype ==
// b.dtype; out.dtype == a.dtype for arithmetic ops and bool for comparisons. out may alias a (in-place: a is then a
// contiguous tensor of out's geometry).
using binary_fn = void (*)(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<binary_fn> binary;

// where: out[i] = cond[i] ? a[i] : b[i]. Requires cond (bool), a, b, out of out's sizes; a, b, out same dtype.
using where_fn = void (*)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<where_fn> where;

// ==== reductions ======================================================================================================
enum class ReduceOp : std::uint8_t { Sum, Max, Min, ArgMax, ArgMin };
// reduce: out = op over the dims where out.sizes[d] == 1 and in.sizes[d] != 1 (out has in's rank: the keepdim form).
// Sum accumulates float32 in float64. ArgMax/ArgMin reduce exactly one dim, write int64 indices and return the first
// index among ties. Max/Min propagate NaN. Requires in.numel() > 0 for Max/Min/ArgMax/ArgMin.
using reduce_fn = void (*)(ReduceOp op, const Tensor& in, const Tensor& out);
extern DispatchStub<reduce_fn> reduce;

// ==== softmax family (ops/softmax.cpp) ================================================================================
// (softmax, log_softmax and their backward kernels are declared here by the op family that adds them)

// ==== linear algebra (ops/matmul.cpp) =================================================================================
// matmul: a: [B, M, K], b: [B, K, N] -> out: [B, M, N]; out[i] = a[i] @ b[i] for every batch index i.
// Requires a.dtype == b.dtype == out.dtype, floating (float32 or float64); all three are 3-d with these sizes.
// a and b may have any strides: transposed or sliced matrices (read in place wherever the backend can, never copied
// just for being non-contiguous) and batch stride 0 (one matrix broadcast over the batch). out is contiguous.
// Ensures: out is written (=), never accumulated; K == 0 writes zeros; B, M or N == 0 writes nothing.
using matmul_fn = void (*)(const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<matmul_fn> matmul;

// ==== indexing (ops/index.cpp) ========================================================================================
// (index_select, gather, scatter_add are declared here by the op family that adds them)

// ==== random (ops/factory.cpp) ========================================================================================
// (random fills are declared here by the family that adds them)

}  // namespace trident::kernels
