// The kernel contract: every kernel trident dispatches, with what it requires and ensures.
//
// This file is the interface between ops/ (device-independent: checks, shapes, autograd) and backends/ (cpu/, cuda/,
// and reference/ as the oracle in tests). An op allocates its outputs on its inputs' device, then calls one of these
// stubs; the backend registered for that device runs. Unless a kernel says otherwise:
//   - all tensors are on the same device, and outputs are freshly allocated, contiguous and do not alias inputs;
//   - inputs may have any strides (views, including stride-0 broadcast views);
//   - kernels write (=) their outputs, never accumulate, and never throw for well-formed arguments (ops check).
#pragma once

#include <array>
#include <cstdint>

#include "trident/core/dispatch.h"
#include "trident/core/tensor.h"

namespace trident::kernels {

// ==== memory ==========================================================================================================
// copy: dst[i] = convert<dst.dtype>(src[i]) for every index i. Requires src.sizes == dst.sizes (src may be a
// broadcast view); dst may be any strided view that does not overlap itself; dtypes may differ. The one kernel whose
// tensors may lie on different devices: Tensor::to(Device) calls the non-CPU side's copy (e.g. the CUDA kernel with
// src on the CPU), which moves the data between the devices.
using copy_fn = void (*)(const Tensor& src, const Tensor& dst);
extern DispatchStub<copy_fn> copy;

// fill: every element of dst (any strided view) = value converted to dst.dtype.
using fill_fn = void (*)(const Tensor& dst, double value);
extern DispatchStub<fill_fn> fill;

// ==== elementwise =====================================================================================================
enum class UnaryOp : std::uint8_t {
  Neg, Exp, Log, Sqrt, Abs, Relu, Sigmoid, Tanh, Softplus, Sign,
  PowScalar,  // x^arg0 (for int64, arg0 is an integer)
  Clamp,      // min(max(x, arg0), arg1); use -inf / +inf for a missing bound
};
// unary: out[i] = op(in[i]) (with scalar arguments arg0/arg1 where the op takes them).
// Requires in.sizes == out.sizes, same dtype (numeric); out may be `in` itself (in-place) when in is contiguous.
// int64 supports Neg, Abs, Relu, Sign, PowScalar and Clamp only. NaN in gives NaN out (Relu, Sign and Clamp
// included), except x^0 = 1. float32 Exp/Log/Sigmoid/Tanh/Softplus may be a few ulp from correctly rounded (CPU: <= 3).
using unary_fn = void (*)(UnaryOp op, const Tensor& in, const Tensor& out, double arg0, double arg1);
extern DispatchStub<unary_fn> unary;

enum class BinaryOp : std::uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge,
  LogicalAnd, LogicalOr,  // (a != 0) and/or (b != 0)
};
// binary: out[i] = a[i] op b[i]. Requires a.sizes == b.sizes == out.sizes (a and b are broadcast views), a.dtype ==
// b.dtype; out.dtype == a.dtype for arithmetic ops and bool for comparisons and logical ops. out may alias a
// (in-place: a is then a contiguous tensor of out's geometry). Arithmetic is not defined for bool. Integer Div
// truncates toward zero (x / 0 = 0); integer Pow is exact repeated multiplication (wrapping on overflow; a negative
// exponent gives 0 unless |x| = 1). Maximum/Minimum propagate NaN.
using binary_fn = void (*)(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<binary_fn> binary;

// where: out[i] = cond[i] ? a[i] : b[i]. Requires cond (bool), a, b, out of out's sizes; a, b, out same dtype.
using where_fn = void (*)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<where_fn> where;

// ==== activations (ops/activation.cpp) ================================================================================
// Activation functions with a scalar parameter or a special function, beyond the UnaryOps above.
enum class ActivationOp : std::uint8_t {
  Gelu,       // x * Phi(x) = x (1 + erf(x / sqrt(2))) / 2: the exact form (not the tanh approximation); arg unused
  LeakyRelu,  // x > 0 ? x : arg * x (arg: the negative slope)
};
// activation: out[i] = op(in[i]). Requires in.sizes == out.sizes, same floating dtype (float32 or float64); in any
// strides, out contiguous. NaN in gives NaN out.
using activation_fn = void (*)(ActivationOp op, const Tensor& in, const Tensor& out, double arg);
extern DispatchStub<activation_fn> activation;

// activation_backward: grad_in[i] = grad_out[i] * op'(in[i]), with
//   Gelu:      op'(x) = Phi(x) + x phi(x)  (phi the standard normal density)
//   LeakyRelu: op'(x) = x > 0 ? 1 : arg   (arg at x = 0, as PyTorch)
// Requires grad_out, in, grad_in of the same sizes and floating dtype; grad_out and in any strides, grad_in
// contiguous. Writes (=) grad_in.
using activation_backward_fn = void (*)(ActivationOp op, const Tensor& grad_out, const Tensor& in,
                                        const Tensor& grad_in, double arg);
extern DispatchStub<activation_backward_fn> activation_backward;

// ==== reductions ======================================================================================================
enum class ReduceOp : std::uint8_t { Sum, Max, Min, ArgMax, ArgMin };
// reduce: out = op over the dims where out.sizes[d] == 1 and in.sizes[d] != 1 (out has in's rank: the keepdim form).
// out is contiguous; its dtype is in's for Max/Min, int64 for ArgMax/ArgMin, and for Sum in's (int64 for bool).
// Sum accumulates float32 in float64. ArgMax/ArgMin reduce exactly one dim, write int64 indices and return the first
// index among ties (a NaN counts as the extremum: the first NaN wins). Max/Min propagate NaN and are not defined for
// bool (an error). Requires in.numel() > 0 for Max/Min/ArgMax/ArgMin unless out.numel() == 0.
using reduce_fn = void (*)(ReduceOp op, const Tensor& in, const Tensor& out);
extern DispatchStub<reduce_fn> reduce;

// ==== softmax family (ops/softmax.cpp) ================================================================================
// softmax: out = softmax(in) along dim, or log_softmax(in) when log is true:
//   softmax:     out[..., i, ...] = exp(in_i - m) / sum_j exp(in_j - m),   m = max_j in_j (stable for large inputs)
//   log_softmax: out[..., i, ...] = in_i - m - log(sum_j exp(in_j - m))
// Requires in, out floating of the same dtype and sizes, in.dim() >= 1, 0 <= dim < in.dim(); in any strides, out
// contiguous. -inf entries give 0 (softmax) / -inf (log_softmax); a slice that is all -inf, or holds a NaN or +inf,
// gives NaN.
using softmax_fn = void (*)(const Tensor& in, const Tensor& out, std::int64_t dim, bool log);
extern DispatchStub<softmax_fn> softmax;

// softmax_backward: the gradient w.r.t. the input of softmax / log_softmax along dim, from the forward's OUTPUT y:
//   softmax:     grad_in = y * (grad_out - sum_dim(grad_out * y))
//   log_softmax: grad_in = grad_out - exp(y) * sum_dim(grad_out)
// Requires grad_out, out, grad_in floating of the same dtype and sizes, 0 <= dim < out.dim(); grad_out and out any
// strides; grad_in contiguous. Writes (=) grad_in.
using softmax_backward_fn = void (*)(const Tensor& grad_out, const Tensor& out, const Tensor& grad_in,
                                     std::int64_t dim, bool log);
extern DispatchStub<softmax_backward_fn> softmax_backward;

// ==== linear algebra (ops/matmul.cpp) =================================================================================
// matmul: a: [B, M, K], b: [B, K, N] -> out: [B, M, N]; out[i] = a[i] @ b[i] for every batch index i.
// Requires a.dtype == b.dtype == out.dtype, floating (float32 or float64); all three are 3-d with these sizes.
// a and b may have any strides: transposed or sliced matrices (read in place wherever the backend can, never copied
// just for being non-contiguous) and batch stride 0 (one matrix broadcast over the batch). out is contiguous.
// Ensures: out is written (=), never accumulated; K == 0 writes zeros; B, M or N == 0 writes nothing.
using matmul_fn = void (*)(const Tensor& a, const Tensor& b, const Tensor& out);
extern DispatchStub<matmul_fn> matmul;

// ==== indexing (ops/index.cpp) ========================================================================================
// Index tensors are int64 (any strides, stride-0 views included) and every index value is already in range: the op
// checks (Note [Index validation] in ops/index.cpp), so kernels never see a bad index and never bounds-check.

// index_select: out[..., j, ...] = x[..., index[j], ...] along `dim`.
// x: [..., n, ...] any strides, any dtype; index: [k] int64, values in [0, n); out: [..., k, ...] (x's sizes with
// size k at dim), contiguous, x's dtype; dim already wrapped into [0, x.dim()). Writes out.
using index_select_fn = void (*)(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out);
extern DispatchStub<index_select_fn> index_select;

// gather: out[p] = x[p with p[dim] := index[p]] for every position p of index.
// x: any strides, any dtype; index: int64 of x's rank with index.size(d) <= x.size(d) for d != dim, values in
// [0, x.size(dim)); out: index's sizes, contiguous, x's dtype. Writes out.
using gather_fn = void (*)(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out);
extern DispatchStub<gather_fn> gather;

// scatter_add: out[p with p[dim] := index[p]] += src[p] for every position p of index.
// THE EXCEPTION to "kernels write": out is already initialised (the op copies x into it; a backward passes zeros)
// and the kernel accumulates (+=) into it. Repeated indices accumulate: every src element that names the same
// target is added to it (none is lost to a race).
// out: contiguous, numeric dtype (not bool); index: int64 of out's rank with index.size(d) <= out.size(d) for
// d != dim, values in [0, out.size(dim)); src: index's sizes, out's dtype. index and src may have any strides.
using scatter_add_fn = void (*)(const Tensor& out, std::int64_t dim, const Tensor& index, const Tensor& src);
extern DispatchStub<scatter_add_fn> scatter_add;

// ==== random (ops/factory.cpp) ========================================================================================
// Note [Random streams]
// A random fill is a pure function of (seed, offset): element i of dst (in C order) is computed from Philox block
// offset + i / E of the stream `seed` (core/philox.h), with E elements per block:
//   Uniform, Normal    float32: E = 4, one 32-bit word per uniform (24 bits used);
//                      float64: E = 2, two words per uniform (53 bits used);
//                      Normal: Box-Muller turns the block's two uniform pairs into E normals (z0, z1 of the first
//                      pair, then of the second; float64: one pair (w0:w1, w2:w3) -> elements 2k, 2k+1).
//   Randint            E = 2: words (w0, w1) and (w2, w3) each give 64 bits, mapped into [a, b) by multiply-high.
//   Bernoulli          E = 4: word w -> 1 when w * 2^-32 < a.
// Every element's numbers thus depend only on its index, never on how the work is split between threads or GPU
// blocks: each backend reproduces the same stream (up to the last ulp of log/cos/sin for Normal). The op reserves
// random_blocks(kind, dtype, numel) blocks from the Generator before calling the kernel.
enum class RandomKind : std::uint8_t {
  Uniform,    // U[a, b); floating dst; every value < b (a value that rounds up to b is nudged below it)
  Normal,     // N(mean a, std b); floating dst
  Randint,    // integers in [a, b); a < b, both integral with |a|, |b| <= 2^53; any numeric dst dtype
  Bernoulli,  // 1 with probability a (0 <= a <= 1), else 0; any dst dtype
};

constexpr std::int64_t random_elements_per_block(RandomKind kind, DType dtype) {
  switch (kind) {
    case RandomKind::Uniform:
    case RandomKind::Normal: return dtype == DType::Float64 ? 2 : 4;
    case RandomKind::Randint: return 2;
    case RandomKind::Bernoulli: return 4;
  }
  return 1;
}
constexpr std::uint64_t random_blocks(RandomKind kind, DType dtype, std::int64_t numel) {
  const std::int64_t e = random_elements_per_block(kind, dtype);
  return static_cast<std::uint64_t>((numel + e - 1) / e);
}

// random_fill: dst[i] = sample i of the stream (seed, offset) as in Note [Random streams], converted to dst.dtype.
// Requires dst contiguous (a fresh tensor) and the dtype/argument conditions of `kind` above (the op checks them).
using random_fill_fn = void (*)(const Tensor& dst, RandomKind kind, std::uint64_t seed, std::uint64_t offset, double a,
                                double b);
extern DispatchStub<random_fill_fn> random_fill;

// ==== convolution (ops/conv.cpp) ======================================================================================
// Unlike the rest of this file, the convolution, pooling and normalisation kernels require every tensor argument to
// be contiguous (plain NCHW / OIHW row-major; the ops make them so): oneDNN reads them as nchw / goihw buffers.
// Kernels of a backend must agree with each other on float32 and float64 alike; the CPU backend runs float32 on
// oneDNN and float64 on the reference loops (backends/reference/), for gradient checks.

// Geometry shared by the three convolution kernels: x [N, C_in, H, W], weight [C_out, C_in / groups, kH, kW],
// out [N, C_out, H_out, W_out] with H_out = (H + 2 padding[0] - dilation[0] (kH - 1) - 1) / stride[0] + 1 (floor;
// the op checks H_out >= 1) and the same for W; stride, dilation, groups >= 1, padding >= 0; groups divides C_in and
// C_out. Dilation is PyTorch's (1 = dense), not oneDNN's (0 = dense).
struct Conv2dParams {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

// conv2d_forward: out[n, o, i, j] = bias[o] + sum_{c, p, q} x[n, g C_in/G + c, i s0 - p0 + p d0, j s1 - p1 + q d1]
// * weight[o, c, p, q] (g = o / (C_out / G); out-of-range x reads 0). bias: [C_out] or undefined (no bias).
// All of x's dtype (float32 or float64). Writes out.
using conv2d_forward_fn = void (*)(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                                   const Conv2dParams& params);
extern DispatchStub<conv2d_forward_fn> conv2d_forward;

// conv2d_backward_data: grad_x = d(sum out * grad_out)/dx for the forward above (the transposed convolution).
// grad_out: out's shape; weight; grad_x: x's shape. Writes grad_x (zero where no output reads an input pixel).
using conv2d_backward_data_fn = void (*)(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                         const Conv2dParams& params);
extern DispatchStub<conv2d_backward_data_fn> conv2d_backward_data;

// conv2d_backward_weight: grad_weight[o, c, p, q] = sum_{n, i, j} grad_out[n, o, i, j] x[n, ..., ...] (the forward's
// x element that met weight[o, c, p, q]); grad_bias[o] = sum_{n, i, j} grad_out[n, o, i, j] when grad_bias is
// defined (undefined: not computed). Writes grad_weight (weight's shape) and grad_bias ([C_out]).
using conv2d_backward_weight_fn = void (*)(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight,
                                           const Tensor& grad_bias, const Conv2dParams& params);
extern DispatchStub<conv2d_backward_weight_fn> conv2d_backward_weight;

// ==== pooling (ops/pool.cpp) ==========================================================================================
// Contiguous tensors (see "convolution"). x [N, C, H, W] -> out [N, C, H_out, W_out] with
// H_out = (H + 2 padding[0] - kernel[0]) / stride[0] + 1 (floor; the op checks H_out >= 1, stride >= 1,
// 0 <= padding <= kernel / 2, so every window holds at least one real pixel).
struct Pool2dParams {
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{2, 2};
  std::array<std::int64_t, 2> padding{0, 0};
};

// max_pool2d_forward: out[n, c, i, j] = max of x over the window rows [i s0 - p0, i s0 - p0 + k0) and columns
// likewise, clipped to the image (padding never wins). Writes out; returns the workspace, an opaque tensor that
// only this backend's max_pool2d_backward reads (which pixel won each window; among ties the first in row-major
// window order). The caller keeps it, unchanged, from forward to backward.
using max_pool2d_forward_fn = Tensor (*)(const Tensor& x, const Tensor& out, const Pool2dParams& params);
extern DispatchStub<max_pool2d_forward_fn> max_pool2d_forward;

// max_pool2d_backward: grad_x[winner of window (n, c, i, j)] += grad_out[n, c, i, j] summed over windows; 0 for
// pixels that won no window. Writes grad_x (x's shape).
using max_pool2d_backward_fn = void (*)(const Tensor& grad_out, const Tensor& workspace, const Tensor& grad_x,
                                        const Pool2dParams& params);
extern DispatchStub<max_pool2d_backward_fn> max_pool2d_backward;

// avg_pool2d_forward: out = sum of x over the window (padding counts as zeros) / (k0 k1): PyTorch's
// count_include_pad=True. Writes out.
using avg_pool2d_forward_fn = void (*)(const Tensor& x, const Tensor& out, const Pool2dParams& params);
extern DispatchStub<avg_pool2d_forward_fn> avg_pool2d_forward;

// avg_pool2d_backward: grad_x[pixel] = sum over the windows w that hold the pixel of grad_out[w] / (k0 k1).
// Writes grad_x.
using avg_pool2d_backward_fn = void (*)(const Tensor& grad_out, const Tensor& grad_x, const Pool2dParams& params);
extern DispatchStub<avg_pool2d_backward_fn> avg_pool2d_backward;

// Adaptive average pooling, x [N, C, H, W] -> out [N, C, OH, OW] (sizes from out, OH, OW >= 1): window i covers rows
// [floor(i H / OH), ceil((i + 1) H / OH)), columns likewise; out = mean over the window. Writes out.
using adaptive_avg_pool2d_forward_fn = void (*)(const Tensor& x, const Tensor& out);
extern DispatchStub<adaptive_avg_pool2d_forward_fn> adaptive_avg_pool2d_forward;
// grad_x[pixel] = sum over windows w holding the pixel of grad_out[w] / |w|. Writes grad_x.
using adaptive_avg_pool2d_backward_fn = void (*)(const Tensor& grad_out, const Tensor& grad_x);
extern DispatchStub<adaptive_avg_pool2d_backward_fn> adaptive_avg_pool2d_backward;

// ==== normalisation (ops/norm.cpp) ====================================================================================
// Batch normalisation over dim 1. Contiguous tensors (see "convolution"): x [N, C] or [N, C, H, W]; weight, bias,
// mean, var: [C], x's dtype; weight undefined means 1, bias undefined means 0. M = numel / C values per channel.

// batch_norm_forward: out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c].
// training: first writes mean[c] and var[c] = the batch mean and the biased batch variance (sum (x - mean)^2 / M) of
//   channel c, then uses them (requires M >= 1);
// inference: reads mean and var (the running statistics).
// Writes out (and mean, var when training).
using batch_norm_forward_fn = void (*)(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                       const Tensor& var, bool training, double eps, const Tensor& out);
extern DispatchStub<batch_norm_forward_fn> batch_norm_forward;

// batch_norm_backward, with xhat = (x - mean) / sqrt(var + eps) (mean, var as the forward used them):
//   grad_bias[c] = sum g, grad_weight[c] = sum g xhat (sums over the M values of channel c);
//   training:  grad_x = weight / sqrt(var + eps) (g - grad_bias / M - xhat grad_weight / M) (the statistics depend
//              on x; Note [Batch norm backward] in ops/norm.cpp);
//   inference: grad_x = weight / sqrt(var + eps) g (the statistics are constants).
// Each of grad_x, grad_weight, grad_bias may be undefined (not wanted); writes those that are defined.
using batch_norm_backward_fn = void (*)(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                        const Tensor& mean, const Tensor& var, bool training, double eps,
                                        const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
extern DispatchStub<batch_norm_backward_fn> batch_norm_backward;

// ==== optimizers (optim/) =============================================================================================
// Fused parameter updates: one pass over the elements, reading and writing each once, in place. The optimizers call
// them for parameters whose device has the kernel and whose tensors are all contiguous; otherwise they compose the
// same update from in-place tensor ops (optim/sgd.cpp, optim/adam.cpp), which the tests compare them against.
// Arithmetic is in the parameter's dtype, with the scalar coefficients converted to it, in the order the formulas
// below are written (the order of the composed version), so the two agree to rounding.

// sgd_step: PyTorch's SGD for one parameter. For every element i, with d = grad[i] + weight_decay * param[i]
// (d = grad[i] when weight_decay == 0):
//   momentum == 0:  param[i] -= lr * d                                   (momentum_buffer is undefined)
//   otherwise:      buf[i] = first_step ? d : momentum * buf[i] + (1 - dampening) * d
//                   param[i] -= lr * (nesterov ? d + momentum * buf[i] : buf[i])
// Requires param, grad (and momentum_buffer when momentum != 0) floating of one dtype and one sizes, contiguous, not
// overlapping each other. On the first step momentum_buffer holds anything (it is written, never read).
struct SGDStepArgs {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;
};
using sgd_step_fn = void (*)(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                             const SGDStepArgs& args);
extern DispatchStub<sgd_step_fn> sgd_step;

// adam_step: PyTorch 1.13's Adam / AdamW for one parameter at update number `step` (1 for the first). For every i:
//   AdamW (decoupled):  param[i] *= 1 - lr * weight_decay;  g = grad[i]
//   Adam:               g = grad[i] + weight_decay * param[i]  (g = grad[i] when weight_decay == 0)
//   exp_avg[i]    = beta1 * exp_avg[i] + (1 - beta1) * g
//   exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1 - beta2) * g * g
//   param[i]     -= (lr / (1 - beta1^step)) * exp_avg[i] / (sqrt(exp_avg_sq[i]) / sqrt(1 - beta2^step) + eps)
// Requires param, grad, exp_avg, exp_avg_sq floating of one dtype and one sizes, contiguous, not overlapping; step
// >= 1. exp_avg and exp_avg_sq are read (zeros before the first step) and written.
struct AdamStepArgs {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  std::int64_t step = 1;
};
using adam_step_fn = void (*)(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                              const Tensor& exp_avg_sq, const AdamStepArgs& args);
extern DispatchStub<adam_step_fn> adam_step;

}  // namespace trident::kernels
