// Matrix products and their backward node. Shape contract: ops/matmul.h.
//   a: [..., M, K] or [K],  b: [..., K, N] or [K]  ->  [broadcast(...), M, N], without M when a is 1-d and
//   without N when b is 1-d (so [K] @ [K] -> [], the dot product).
#include "trident/ops/matmul.h"

#include <algorithm>

#include "trident/backends/kernels.h"
#include "trident/core/autograd/node.h"
#include "trident/ops/checks.h"
#include "trident/ops/reduce.h"
#include "trident/ops/shape.h"

namespace trident {

using autograd::Node;

namespace {

// Note [matmul shapes]
// PyTorch's rules, which trident follows: a 1-d a is promoted to a row [1, K] and a 1-d b to a column [K, 1]; the
// promoted operands are [..., M, K] @ [..., K, N] with the leading ("batch") dims broadcast against each other; the
// dims added by the promotion are removed from the result. Internally every product is run as a batch of matrices,
// which is what kernels::matmul computes.
struct MatmulShapes {
  Shape batch;  // the broadcast batch dims
  std::int64_t M = 0, K = 0, N = 0;
  Shape a_promoted;  // a's shape after promotion: [..., M, K]
  Shape b_promoted;  // b's shape after promotion: [..., K, N]
  Shape out;         // the result's shape
};

// Batch dims of a promoted shape (all but the last two).
Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

MatmulShapes matmul_shapes(const Tensor& a, const Tensor& b) {
  TRIDENT_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dimension, got shapes {} @ {}",
                shape_str(a.sizes()), shape_str(b.sizes()));
  MatmulShapes s;
  s.a_promoted = a.dim() == 1 ? Shape{1, a.size(0)} : a.sizes();
  s.b_promoted = b.dim() == 1 ? Shape{b.size(0), 1} : b.sizes();
  s.M = s.a_promoted.end()[-2];
  s.K = s.a_promoted.end()[-1];
  s.N = s.b_promoted.end()[-1];
  TRIDENT_CHECK(s.K == s.b_promoted.end()[-2], "matmul: inner dimensions differ: {} @ {}", shape_str(a.sizes()),
                shape_str(b.sizes()));
  // Broadcast the batch dims (aligned from the right; equal sizes or one of them 1).
  const Shape ba = batch_of(s.a_promoted), bb = batch_of(s.b_promoted);
  const std::size_t nd = std::max(ba.size(), bb.size());
  s.batch.assign(nd, 1);
  for (std::size_t i = 0; i < nd; ++i) {
    const std::int64_t x = i < nd - ba.size() ? 1 : ba[i - (nd - ba.size())];
    const std::int64_t y = i < nd - bb.size() ? 1 : bb[i - (nd - bb.size())];
    TRIDENT_CHECK(x == y || x == 1 || y == 1, "matmul: batch dimensions cannot be broadcast: {} @ {}",
                  shape_str(a.sizes()), shape_str(b.sizes()));
    s.batch[i] = x == 1 ? y : x;
  }
  s.out = s.batch;
  if (a.dim() > 1) s.out.push_back(s.M);
  if (b.dim() > 1) s.out.push_back(s.N);
  return s;
}

// Strides of `t` (of shape `promoted`, possibly 1-d underneath) seen as the full [batch..., rows, cols] geometry:
// a promoted 1-d operand gets a size-1 dim, broadcast batch dims get stride 0.
Shape expanded_strides(const Tensor& t, const Shape& promoted, const Shape& batch, bool is_a) {
  Shape mat_strides;
  if (t.dim() == 1) {
    mat_strides = is_a ? Shape{t.numel() * t.stride(0), t.stride(0)} : Shape{t.stride(0), 1};
  } else {
    mat_strides = {t.stride(-2), t.stride(-1)};
  }
  const std::size_t nd = batch.size(), tb = promoted.size() - 2;
  Shape strides(nd + 2, 0);
  for (std::size_t i = 0; i < tb; ++i) {
    const std::size_t d = nd - tb + i;
    strides[d] = promoted[i] == 1 ? 0 : t.stride(static_cast<std::int64_t>(i));
  }
  strides[nd] = mat_strides[0];
  strides[nd + 1] = mat_strides[1];
  return strides;
}

// One batch dim after merging: its size and the stride of a, b and out along it.
struct BatchDim {
  std::int64_t size, sa, sb, so;
};

// Run the kernel for C = A @ B where A, B are [batch..., M, K] / [batch..., K, N] given by strides into a's and
// b's storage, and out is contiguous [batch..., M, N]. Batch dims that are contiguous with respect to each other in
// all three operands are merged, so that a contiguous (or uniformly broadcast) batch is one kernel call.
void run_batched(const Tensor& a, const Shape& a_strides, const Tensor& b, const Shape& b_strides, const Tensor& out,
                 const MatmulShapes& s) {
  const std::size_t nd = s.batch.size();
  const std::int64_t M = s.M, K = s.K, N = s.N;
  std::vector<BatchDim> dims;
  std::int64_t out_stride = M * N;
  std::vector<std::int64_t> out_strides(nd);
  for (std::size_t d = nd; d-- > 0;) {
    out_strides[d] = out_stride;
    out_stride *= s.batch[d];
  }
  for (std::size_t d = 0; d < nd; ++d) {
    if (s.batch[d] == 1) continue;
    const BatchDim cur{s.batch[d], a_strides[d], b_strides[d], out_strides[d]};
    if (!dims.empty()) {
      BatchDim& prev = dims.back();
      if (prev.sa == cur.sa * cur.size && prev.sb == cur.sb * cur.size && prev.so == cur.so * cur.size) {
        prev = {prev.size * cur.size, cur.sa, cur.sb, cur.so};
        continue;
      }
    }
    dims.push_back(cur);
  }
  const std::int64_t sam = a_strides[nd], sak = a_strides[nd + 1];
  const std::int64_t sbk = b_strides[nd], sbn = b_strides[nd + 1];

  if (dims.empty()) {
    kernels::matmul(a.device(), make_view(a, {1, M, K}, {M * K, sam, sak}, a.storage_offset()),
                    make_view(b, {1, K, N}, {K * N, sbk, sbn}, b.storage_offset()),
                    make_view(out, {1, M, N}, {M * N, N, 1}, 0));
    return;
  }
  const BatchDim inner = dims.back();
  if (dims.size() == 1 && inner.sb == 0 && (inner.sa == M * sam || M == 1)) {
    // b is one matrix for the whole batch and a's batch and row dims merge: one [batch*M, K] @ [K, N] product
    // (a bigger matrix is faster than a batch of small ones).
    const std::int64_t rows = inner.size * M, row_stride = M == 1 ? inner.sa : sam;
    kernels::matmul(a.device(), make_view(a, {1, rows, K}, {rows * K, row_stride, sak}, a.storage_offset()),
                    make_view(b, {1, K, N}, {K * N, sbk, sbn}, b.storage_offset()),
                    make_view(out, {1, rows, N}, {rows * N, N, 1}, 0));
    return;
  }
  // The innermost merged dim is the kernel's batch; any outer ones (rare: a broadcast in the middle of the batch
  // dims) are a loop here.
  std::int64_t outer = 1;
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) outer *= dims[i].size;
  for (std::int64_t o = 0; o < outer; ++o) {
    std::int64_t rem = o, off_a = a.storage_offset(), off_b = b.storage_offset(), off_o = 0;
    for (std::size_t i = dims.size() - 1; i-- > 0;) {
      const std::int64_t idx = rem % dims[i].size;
      rem /= dims[i].size;
      off_a += idx * dims[i].sa;
      off_b += idx * dims[i].sb;
      off_o += idx * dims[i].so;
    }
    kernels::matmul(a.device(), make_view(a, {inner.size, M, K}, {inner.sa, sam, sak}, off_a),
                    make_view(b, {inner.size, K, N}, {inner.sb, sbk, sbn}, off_b),
                    make_view(out, {inner.size, M, N}, {inner.so, N, 1}, off_o));
  }
}

// The product without autograd: shapes checked by matmul_shapes.
Tensor matmul_forward(const Tensor& a, const Tensor& b, const MatmulShapes& s) {
  Shape full = s.batch;
  full.push_back(s.M);
  full.push_back(s.N);
  Tensor out = empty(full, {.dtype = a.dtype(), .device = a.device()});
  if (out.numel() > 0) {
    run_batched(a, expanded_strides(a, s.a_promoted, s.batch, true), b,
                expanded_strides(b, s.b_promoted, s.batch, false), out, s);
  }
  // Dropping the size-1 dims of promoted vectors keeps the data contiguous.
  return make_view(out, s.out, contiguous_strides(s.out), 0);
}

// Note [Gradient of matmul]
// Per batch entry C = A B with A: [M, K], B: [K, N]; for a loss L with G = dL/dC,
//   dL/dA = G B^T   ([M, N] @ [N, K] -> [M, K])    and    dL/dB = A^T G   ([K, M] @ [M, N] -> [K, N]).
// An operand broadcast over batch dims was used by every entry of the broadcast, so its gradient is the sum of the
// per-entry gradients over those dims (sum_to). A 1-d operand was promoted to [1, K] or [K, 1]; its gradient is
// computed for the promoted shape and reshaped back to [K]. Common case: b is one matrix ([K, N]) and a is batched
// (a Linear layer over [B, T, K]): then sum_b A_b^T G_b = A'^T G' with A' = A as [B*M, K] and G' = G as [B*M, N],
// one product instead of a batch of them followed by a sum.
// grad: s.out -> dA: a's shape, dB: b's shape (both written, not accumulated).
struct MatmulBackward final : Node {
  std::size_t a = 0;  // saved only when b needs a gradient: dL/dB = A^T G
  std::size_t b = 0;  // saved only when a needs a gradient: dL/dA = G B^T
  MatmulShapes shapes;
  std::string name() const override { return "MatmulBackward"; }
  std::vector<Tensor> apply(const Tensor& grad) override {
    const MatmulShapes& s = shapes;
    Shape full = s.batch;
    full.push_back(s.M);
    full.push_back(s.N);
    const Tensor g = grad.reshape(full);
    Tensor ga, gb;
    if (needs_input_grad(0)) {
      const Tensor b2 = saved(b).reshape(s.b_promoted);
      ga = sum_to(matmul(g, b2.transpose(-1, -2)), s.a_promoted).reshape(input_shapes[0]);
    }
    if (needs_input_grad(1)) {
      const Tensor a2 = saved(a).reshape(s.a_promoted);
      Tensor gb2;
      if (s.b_promoted.size() == 2 && !s.batch.empty()) {
        Shape a_full = s.batch;
        a_full.push_back(s.M);
        a_full.push_back(s.K);
        gb2 = matmul(a2.expand(a_full).reshape({-1, s.K}).t(), g.reshape({-1, s.N}));
      } else {
        gb2 = sum_to(matmul(a2.transpose(-1, -2), g), s.b_promoted);
      }
      gb = gb2.reshape(input_shapes[1]);
    }
    return {ga, gb};
  }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a);
  check_defined("matmul", b);
  check_same_dtype("matmul", a, b);
  check_same_device("matmul", a, b);
  check_floating("matmul", a);
  const MatmulShapes s = matmul_shapes(a, b);
  Tensor out = matmul_forward(a, b, s);
  if (auto node = autograd::make_node<MatmulBackward>({&a, &b})) {
    if (node->needs_input_grad(1)) node->a = node->save(a);
    if (node->needs_input_grad(0)) node->b = node->save(b);
    node->shapes = s;
    autograd::set_history(out, node);
  }
  return out;
}

Tensor Tensor::matmul(const Tensor& other) const { return trident::matmul(*this, other); }

}  // namespace trident
