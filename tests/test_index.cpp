// Indexing ops: index_select, gather, scatter_add, one_hot -- forward values, CPU kernels against the reference,
// gradients (repeated indices included), errors.
#include <random>

#include "gradcheck.h"
#include "trident/backends/kernels.h"
#include "trident/backends/reference/index.h"

using namespace trident;
using trident::testing::gradcheck;
using trident::testing::random_tensor;

namespace {

using I64 = std::vector<std::int64_t>;

Tensor idx(std::initializer_list<std::int64_t> v, const Shape& shape = {-1}) { return tensor(I64(v), shape); }

// n int64 values uniform in [0, high), deterministic in seed.
Tensor random_index(const Shape& shape, std::int64_t high, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(0, high - 1);
  I64 v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return tensor(v, shape);
}

// Same shape, dtype and values (exactly).
::testing::AssertionResult same_values(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.sizes()) << " vs " << shape_str(b.sizes());
  if (a.dtype() != b.dtype()) return ::testing::AssertionFailure() << "dtypes differ";
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (std::size_t i = 0; i < va.size(); ++i)
    if (va[i] != vb[i]) return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  return ::testing::AssertionSuccess();
}

// Layouts of one logical [4, 5, 6] tensor: contiguous, transposed, sliced with a step, and broadcast. Values are
// integers, so that float32 sums are exact and the kernels must match the reference exactly (no tolerance).
std::vector<Tensor> layouts(DType dtype, std::uint32_t seed) {
  Tensor base = random_tensor({4, 5, 6}, seed, -50, 50).to(kInt64).to(dtype);
  Tensor transposed = random_tensor({6, 5, 4}, seed + 1, -50, 50).to(kInt64).to(dtype).permute({2, 1, 0});
  Tensor stepped =
      random_tensor({8, 5, 13}, seed + 2, -50, 50).to(kInt64).to(dtype).slice(0, 0, 8, 2).slice(2, 1, 13, 2);
  Tensor broadcast = random_tensor({4, 1, 6}, seed + 3, -50, 50).to(kInt64).to(dtype).expand({4, 5, 6});
  return {base, transposed, stepped, broadcast};
}

}  // namespace

// ---- forward values ---------------------------------------------------------------------------------------------

TEST(IndexSelect, ForwardValues) {
  Tensor x = tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f}, {3, 3});
  Tensor rows = index_select(x, 0, idx({2, 0, 2}));
  EXPECT_EQ(rows.sizes(), (Shape{3, 3}));
  EXPECT_EQ(rows.to_vector<float>(), (std::vector<float>{7, 8, 9, 1, 2, 3, 7, 8, 9}));
  Tensor cols = x.index_select(-1, idx({1, 1}));
  EXPECT_EQ(cols.sizes(), (Shape{3, 2}));
  EXPECT_EQ(cols.to_vector<float>(), (std::vector<float>{2, 2, 5, 5, 8, 8}));
  // A 0-d index selects one row and keeps the dim (size 1); an empty index gives size 0.
  EXPECT_EQ(index_select(x, 0, tensor(I64{1}, {})).to_vector<float>(), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(index_select(x, 0, tensor(I64{1}, {})).sizes(), (Shape{1, 3}));
  EXPECT_EQ(index_select(x, 1, tensor(I64{}, {0})).sizes(), (Shape{3, 0}));
  // From a transposed view (the strided path) and of int64 / bool data.
  EXPECT_EQ(x.t().index_select(0, idx({0})).to_vector<float>(), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(index_select(idx({10, 20, 30}), 0, idx({2, 2, 0})).to_vector<std::int64_t>(), (I64{30, 30, 10}));
  EXPECT_EQ(index_select(tensor({true, false}), 0, idx({1, 0})).to_vector<bool>(), (std::vector<bool>{false, true}));
}

TEST(Gather, ForwardValues) {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, {2, 2});
  // out[i][j] = x[i][index[i][j]]
  EXPECT_EQ(gather(x, 1, idx({0, 0, 1, 0}, {2, 2})).to_vector<double>(), (std::vector<double>{1, 1, 4, 3}));
  // out[i][j] = x[index[i][j]][j]
  EXPECT_EQ(x.gather(0, idx({1, 0, 0, 0}, {2, 2})).to_vector<double>(), (std::vector<double>{3, 2, 1, 2}));
  // index smaller than x in the other dim, larger along dim; negative dim.
  Tensor y = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0}, {3, 3});
  Tensor g = gather(y, -1, idx({2, 2, 2, 2, 0, 1, 0, 1}, {2, 4}));
  EXPECT_EQ(g.sizes(), (Shape{2, 4}));
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{3, 3, 3, 3, 4, 5, 4, 5}));
  EXPECT_EQ(gather(y, 0, tensor(I64{}, {0, 3})).sizes(), (Shape{0, 3}));
}

TEST(ScatterAdd, ForwardValues) {
  // out[index[i][j]][j] += src[i][j]
  Tensor x = zeros({2, 3});
  Tensor out = scatter_add(x, 0, idx({0, 1, 0}, {1, 3}), tensor({1.f, 2.f, 3.f}, {1, 3}));
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 0, 3, 0, 2, 0}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>(6, 0.f)));  // x itself is untouched
  // Repeated indices accumulate.
  Tensor r = ones({4}, {.dtype = kFloat64}).scatter_add(0, idx({0, 0, 3, 0}), tensor({1.0, 2.0, 3.0, 4.0}));
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{8, 1, 1, 4}));
  // Along the last dim (negative), int64 data.
  Tensor s = scatter_add(zeros({2, 2}, {.dtype = kInt64}), -1, idx({1, 1, 1, 0, 0, 0}, {2, 3}),
                         idx({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_EQ(s.to_vector<std::int64_t>(), (I64{0, 6, 15, 0}));
}

TEST(OneHot, Values) {
  Tensor oh = one_hot(idx({2, 0, 1, 2}), 3);
  EXPECT_EQ(oh.dtype(), kFloat32);
  EXPECT_EQ(oh.sizes(), (Shape{4, 3}));
  EXPECT_EQ(oh.to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Tensor oh2 = one_hot(idx({3, 0, 1, 1}, {2, 2}), 4, kInt64);
  EXPECT_EQ(oh2.dtype(), kInt64);
  EXPECT_EQ(oh2.sizes(), (Shape{2, 2, 4}));
  EXPECT_EQ(oh2.to_vector<std::int64_t>(), (I64{0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}));
  Tensor ohb = one_hot(idx({1, 0}), 2, kBool);
  EXPECT_EQ(ohb.dtype(), kBool);
  EXPECT_EQ(ohb.to_vector<bool>(), (std::vector<bool>{false, true, true, false}));
  Tensor oh0 = one_hot(tensor(I64{1}, {}), 3, kFloat64);
  EXPECT_EQ(oh0.sizes(), (Shape{3}));
  EXPECT_EQ(oh0.to_vector<double>(), (std::vector<double>{0, 1, 0}));
  EXPECT_EQ(one_hot(tensor(I64{}, {0}), 5).sizes(), (Shape{0, 5}));
  // Transposed labels (a strided index).
  EXPECT_EQ(one_hot(idx({0, 1, 1, 0}, {2, 2}).t(), 2, kInt64).to_vector<std::int64_t>(), (I64{1, 0, 0, 1, 0, 1, 1, 0}));
}

// ---- CPU kernels against the reference ----------------------------------------------------------------------------

TEST(IndexKernels, IndexSelectMatchesReference) {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const Tensor& x : layouts(dtype, 10)) {
      for (std::int64_t dim = 0; dim < 3; ++dim) {
        const Tensor index = random_index({7}, x.size(dim), 100 + static_cast<std::uint32_t>(dim));
        Shape shape = x.sizes();
        shape[static_cast<std::size_t>(dim)] = 7;
        Tensor out = empty(shape, {.dtype = dtype});
        kernels::index_select(kCPU, x, dim, index, out);
        EXPECT_TRUE(same_values(out, reference::index_select(x, dim, index))) << dtype_name(dtype) << " dim " << dim;
        // A strided index (every other element of a longer one).
        const Tensor strided = random_index({14}, x.size(dim), 200).slice(0, 0, 14, 2);
        kernels::index_select(kCPU, x, dim, strided, out);
        EXPECT_TRUE(same_values(out, reference::index_select(x, dim, strided))) << dtype_name(dtype) << " dim " << dim;
      }
    }
  }
}

TEST(IndexKernels, IndexSelectLargeTableMatchesReference) {
  // Large enough for the parallel row path: an embedding-style lookup with repeated rows.
  Tensor table = random_tensor({1000, 128}, 3).to(kFloat32);
  Tensor index = random_index({4096}, 1000, 4);
  Tensor out = index_select(table, 0, index);
  EXPECT_TRUE(same_values(out, reference::index_select(table, 0, index)));
  // Rows of a column slice: trailing block contiguous, rows strided.
  Tensor part = table.slice(1, 32, 96);
  EXPECT_TRUE(same_values(index_select(part, 0, index), reference::index_select(part, 0, index)));
  // Columns of a tall matrix (block of one element per row).
  Tensor cols = random_index({300}, 128, 5);
  EXPECT_TRUE(same_values(index_select(table, 1, cols), reference::index_select(table, 1, cols)));
}

TEST(IndexKernels, GatherMatchesReference) {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const Tensor& x : layouts(dtype, 20)) {
      for (std::int64_t dim = 0; dim < 3; ++dim) {
        Shape ishape = {3, 4, 5};                   // <= x's [4, 5, 6] in the other dims
        ishape[static_cast<std::size_t>(dim)] = 9;  // larger along dim
        const Tensor index = random_index(ishape, x.size(dim), 300 + static_cast<std::uint32_t>(dim));
        Tensor out = empty(ishape, {.dtype = dtype});
        kernels::gather(kCPU, x, dim, index, out);
        EXPECT_TRUE(same_values(out, reference::gather(x, dim, index))) << dtype_name(dtype) << " dim " << dim;
        // A transposed index.
        Shape tshape = ishape;
        std::swap(tshape[0], tshape[2]);
        const Tensor tindex = random_index(tshape, x.size(dim), 400).transpose(0, 2);
        kernels::gather(kCPU, x, dim, tindex, out);
        EXPECT_TRUE(same_values(out, reference::gather(x, dim, tindex))) << dtype_name(dtype) << " dim " << dim;
      }
    }
  }
}

TEST(IndexKernels, ScatterAddMatchesReference) {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const Tensor& x : layouts(dtype, 30)) {
      for (std::int64_t dim = 0; dim < 3; ++dim) {
        Shape ishape = {3, 4, 5};
        ishape[static_cast<std::size_t>(dim)] = 11;  // more positions than x.size(dim): repeats are certain
        const Tensor index = random_index(ishape, x.size(dim), 500 + static_cast<std::uint32_t>(dim));
        const Tensor src = random_tensor(ishape, 600, -30, 30).to(kInt64).to(dtype);
        Tensor out = x.contiguous().clone();
        kernels::scatter_add(kCPU, out, dim, index, src);
        EXPECT_TRUE(same_values(out, reference::scatter_add(x, dim, index, src)))
            << dtype_name(dtype) << " dim " << dim;
        // Strided index and src.
        const Tensor tsrc =
            random_tensor(ishape, 700, -30, 30).to(kInt64).to(dtype).transpose(0, 2).contiguous().transpose(0, 2);
        const Tensor tindex = random_index(ishape, x.size(dim), 800).transpose(0, 2).contiguous().transpose(0, 2);
        out = x.contiguous().clone();
        kernels::scatter_add(kCPU, out, dim, tindex, tsrc);
        EXPECT_TRUE(same_values(out, reference::scatter_add(x, dim, tindex, tsrc)))
            << dtype_name(dtype) << " dim " << dim;
      }
    }
  }
}

TEST(IndexKernels, ScatterAddParallelWithRepeatedIndices) {
  // Many lines (parallel loop) and few targets per line (heavy repetition): any race would lose additions. int64
  // data makes the check exact.
  for (std::int64_t dim : {0, 1}) {
    const Shape shape = dim == 0 ? Shape{3, 50000} : Shape{50000, 3};
    const Shape ishape = dim == 0 ? Shape{40, 50000} : Shape{50000, 40};
    const Tensor x = zeros(shape, {.dtype = kInt64});
    const Tensor index = random_index(ishape, 3, 900);
    const Tensor src = random_index(ishape, 1000, 901);
    Tensor out = x.clone();
    kernels::scatter_add(kCPU, out, dim, index, src);
    EXPECT_TRUE(same_values(out, reference::scatter_add(x, dim, index, src))) << "dim " << dim;
    EXPECT_EQ(out.sum().item<std::int64_t>(), src.sum().item<std::int64_t>());
  }
}

// ---- gradients ----------------------------------------------------------------------------------------------------

TEST(IndexSelect, Gradcheck) {
  const Tensor rep = idx({2, 0, 2, 2, 1});  // repeated rows accumulate
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, rep); },
                        {random_tensor({3, 4}, 1)}));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], -1, rep); },
                        {random_tensor({2, 3, 3}, 2)}));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0].transpose(0, 1), 1, rep); },
                        {random_tensor({3, 4, 2}, 3)}));
}

TEST(IndexSelect, RepeatedIndicesAccumulateInBackward) {
  Tensor x = zeros({2, 3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = index_select(x, 0, idx({0, 0, 0}));
  EXPECT_EQ(y.grad_fn()->name(), "IndexSelectBackward");
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 3, 3, 0, 0, 0}));
}

TEST(Gather, Gradcheck) {
  const Tensor rep = idx({0, 0, 2, 1, 1, 1, 2, 2}, {2, 4});  // along dim 1 of [3, 3]: repeats within rows
  EXPECT_TRUE(
      gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 1, rep); }, {random_tensor({3, 3}, 4)}));
  const Tensor rep0 = idx({0, 0, 0, 0, 2, 2, 0, 1, 2}, {3, 3});  // along dim 0
  EXPECT_TRUE(
      gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0].t(), 0, rep0); }, {random_tensor({3, 3}, 5)}));
  Tensor x = ones({3}, {.dtype = kFloat64, .requires_grad = true});
  gather(x, 0, idx({1, 1, 1, 0})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 3, 0}));
}

TEST(ScatterAdd, Gradcheck) {
  const Tensor rep = idx({1, 1, 0, 1, 0, 0}, {2, 3});  // dim 0 of [2, 3]: repeated targets
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, rep, in[1]); },
                        {random_tensor({2, 3}, 6), random_tensor({2, 3}, 7)}));
  const Tensor rep1 = idx({2, 2, 2, 2, 0, 1, 0, 1}, {2, 4});  // dim -1 of [3, 3], index [2, 4]
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return scatter_add(in[0], -1, rep1, in[1]); },
                        {random_tensor({3, 3}, 8), random_tensor({2, 4}, 9)}));
}

TEST(ScatterAdd, GradientOnlyWhereNeeded) {
  Tensor x = zeros({3}, {.dtype = kFloat64});
  Tensor src = tensor({1.0, 2.0, 3.0}).set_requires_grad();
  Tensor out = scatter_add(x, 0, idx({2, 2, 0}), src);
  EXPECT_EQ(out.grad_fn()->name(), "ScatterAddBackward");
  (out * tensor({10.0, 20.0, 30.0})).sum().backward();
  EXPECT_EQ(src.grad().to_vector<double>(), (std::vector<double>{30, 30, 10}));
  EXPECT_FALSE(x.grad().defined());
  {
    NoGradGuard guard;
    EXPECT_EQ(scatter_add(x, 0, idx({0}), tensor({1.0}).set_requires_grad()).grad_fn(), nullptr);
  }
}

// ---- errors -------------------------------------------------------------------------------------------------------

TEST(Index, Errors) {
  Tensor x = zeros({5, 3});
  // Range: the largest index when too large, else the smallest.
  EXPECT_THROW_MSG(gather(x, 0, idx({1, 7, 2}, {3, 1})), "gather: index 7 out of range for dim 0 of size 5");
  EXPECT_THROW_MSG(gather(x, 1, idx({-1, 0}, {2, 1})), "gather: index -1 out of range for dim 1 of size 3");
  EXPECT_THROW_MSG(index_select(x, 0, idx({0, 5})), "index_select: index 5 out of range for dim 0 of size 5");
  EXPECT_THROW_MSG(index_select(x, -1, idx({-2})), "index_select: index -2 out of range for dim 1 of size 3");
  EXPECT_THROW_MSG(scatter_add(x, 0, idx({9}, {1, 1}), zeros({1, 1})),
                   "scatter_add: index 9 out of range for dim 0 of size 5");
  // dtype of the index.
  EXPECT_THROW_MSG(gather(x, 0, zeros({1, 1})), "gather: index must be int64, got float32");
  EXPECT_THROW_MSG(index_select(x, 0, zeros({1}, {.dtype = kFloat64})),
                   "index_select: index must be int64, got float64");
  EXPECT_THROW_MSG(scatter_add(x, 0, zeros({1, 1}, {.dtype = kBool}), zeros({1, 1})),
                   "scatter_add: index must be int64, got bool");
  // Geometry.
  EXPECT_THROW_MSG(index_select(x, 0, idx({0, 1}, {1, 2})), "index_select: index must be 1-d, got shape [1, 2]");
  EXPECT_THROW_MSG(gather(x, 0, idx({0, 1})), "gather: index must have the input's number of dims (2), got shape [2]");
  EXPECT_THROW_MSG(gather(x, 0, idx({0, 0, 0, 0}, {1, 4})),
                   "gather: index shape [1, 4] exceeds input shape [5, 3] in dim 1 (only dim 0 may be larger)");
  EXPECT_THROW_MSG(scatter_add(x, 0, idx({0, 0}, {2, 1}), zeros({1, 1})),
                   "scatter_add: src shape [1, 1] must equal index shape [2, 1]");
  EXPECT_THROW_MSG(gather(x, 2, idx({0}, {1, 1})), "gather: dim 2 out of range for a 2-d tensor");
  EXPECT_THROW_MSG(gather(scalar_tensor(1.0), 0, tensor(I64{0}, {})), "gather: input must have at least 1 dim");
  // dtypes of the data.
  EXPECT_THROW_MSG(scatter_add(x, 0, idx({0}, {1, 1}), zeros({1, 1}, {.dtype = kFloat64})),
                   "scatter_add: dtype mismatch: float32 and float64");
  EXPECT_THROW_MSG(scatter_add(zeros({2}, {.dtype = kBool}), 0, idx({0}), zeros({1}, {.dtype = kBool})),
                   "scatter_add: not defined for bool tensors");
  // one_hot.
  EXPECT_THROW_MSG(one_hot(zeros({2}), 3), "one_hot: labels must be int64, got float32");
  EXPECT_THROW_MSG(one_hot(idx({0, 3, 1}), 3), "one_hot: label 3 out of range [0, 3)");
  EXPECT_THROW_MSG(one_hot(idx({0, -1}), 3), "one_hot: label -1 out of range [0, 3)");
  EXPECT_THROW_MSG(one_hot(idx({0}), 0), "one_hot: num_classes must be positive, got 0");
}
