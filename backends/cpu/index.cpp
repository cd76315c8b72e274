// CPU indexing kernels: index_select, gather, scatter_add. Contract: backends/kernels.h (indices are in range).
//
// index_select has a row path: when the elements of x after `dim` form one contiguous block (x contiguous, or any
// view whose trailing dims are contiguous), each output row is one memcpy from the row the index names -- an
// embedding lookup runs at memory speed, parallel over rows. Other layouts (and gather) use a strided walk in which
// x is viewed with stride 0 along dim, so that each element's address is "base + index * x.stride(dim)".
#include <cstdlib>
#include <cstring>

#include "trident/backends/cpu/loops.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

struct Dim {
  std::int64_t size, stride;  // stride in elements
};

// Offset (elements) of the linear position i over dims (outermost first).
inline std::int64_t offset_of(std::int64_t i, const std::vector<Dim>& dims) {
  std::int64_t off = 0;
  for (std::size_t d = dims.size(); d-- > 0;) {
    const std::int64_t q = i % dims[d].size;
    i /= dims[d].size;
    off += q * dims[d].stride;
  }
  return off;
}

// The dims of t in [begin, end), size-1 dims dropped and neighbours that are contiguous with each other merged.
std::vector<Dim> coalesced_dims(const Tensor& t, std::int64_t begin, std::int64_t end) {
  std::vector<Dim> dims;
  for (std::int64_t d = begin; d < end; ++d) {
    if (t.size(d) == 1) continue;
    if (!dims.empty() && dims.back().stride == t.stride(d) * t.size(d)) {
      dims.back().size *= t.size(d);
      dims.back().stride = t.stride(d);
    } else {
      dims.push_back({t.size(d), t.stride(d)});
    }
  }
  return dims;
}

// True when the dims of t after `dim` are laid out as one contiguous C-order block.
bool trailing_block_contiguous(const Tensor& t, std::int64_t dim) {
  std::int64_t expected = 1;
  for (std::int64_t d = t.dim(); d-- > dim + 1;) {
    if (t.size(d) == 1) continue;
    if (t.stride(d) != expected) return false;
    expected *= t.size(d);
  }
  return true;
}

// x viewed with `sizes` and x's strides, except stride 0 along dim: element p of the view is x[p with p[dim] := 0].
Tensor view_without_dim(const Tensor& x, const Shape& sizes, std::int64_t dim) {
  Shape strides = x.strides();
  strides[static_cast<std::size_t>(dim)] = 0;
  return make_view(x, sizes, strides, x.storage_offset());
}

template <typename T>
void index_select_rows(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out) {
  const std::vector<Dim> outer = coalesced_dims(x, 0, dim);
  std::int64_t n_outer = 1, block = 1;
  for (std::int64_t d = 0; d < dim; ++d) n_outer *= x.size(d);
  for (std::int64_t d = dim + 1; d < x.dim(); ++d) block *= x.size(d);
  const std::int64_t k = index.numel();
  const std::int64_t* idx = index.data_ptr<std::int64_t>();
  const std::int64_t idx_stride = index.stride(0), x_dim_stride = x.stride(dim);
  const T* xb = x.data_ptr<T>();
  T* ob = out.data_ptr<T>();
  const bool parallel = out.numel() * static_cast<std::int64_t>(sizeof(T)) >= kParallelGrain * 4 && n_outer * k > 1 &&
                        omp_get_max_threads() > 1;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (std::int64_t o = 0; o < n_outer; ++o) {
    for (std::int64_t j = 0; j < k; ++j) {
      const T* src = xb + offset_of(o, outer) + idx[j * idx_stride] * x_dim_stride;
      T* dst = ob + (o * k + j) * block;
      if (block == 1) {
        *dst = *src;
      } else {
        std::memcpy(dst, src, static_cast<std::size_t>(block) * sizeof(T));
      }
    }
  }
}

// out[p] = x_view[p] shifted by index_view[p] * x_dim_stride, walked over out's geometry.
template <typename T>
void gather_strided(const Tensor& x_view, const Tensor& index_view, std::int64_t x_dim_stride, const Tensor& out) {
  const std::int64_t dim_bytes = x_dim_stride * static_cast<std::int64_t>(sizeof(T));
  for_each_strided<3>(
      out.sizes(), {&out, &x_view, &index_view}, [dim_bytes](char** p, const std::int64_t* st, std::int64_t n) {
        for (std::int64_t i = 0; i < n; ++i) {
          const std::int64_t j = *reinterpret_cast<const std::int64_t*>(p[2] + i * st[2]);
          *reinterpret_cast<T*>(p[0] + i * st[0]) = *reinterpret_cast<const T*>(p[1] + i * st[1] + j * dim_bytes);
        }
      });
}

// x: [..., n, ...], index: [k] -> out: [..., k, ...]
void cpu_index_select(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  TRIDENT_ASSERT(index.dim() == 1 && out.is_contiguous(), "index_select: index must be 1-d and out contiguous");
  dispatch_dtype(x.dtype(), "index_select", [&]<typename T>() {
    if (trailing_block_contiguous(x, dim)) {
      index_select_rows<T>(x, dim, index, out);
      return;
    }
    // Index viewed over out's geometry: index[p[dim]] at every position p.
    Shape index_strides(out.sizes().size(), 0);
    index_strides[static_cast<std::size_t>(dim)] = index.stride(0);
    const Tensor index_view = make_view(index, out.sizes(), index_strides, index.storage_offset());
    gather_strided<T>(view_without_dim(x, out.sizes(), dim), index_view, x.stride(dim), out);
  });
}

// x: [*], index: [*] (same rank) -> out: index's shape
void cpu_gather(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out) {
  TRIDENT_ASSERT(index.dim() == x.dim() && out.sizes() == index.sizes(), "gather: bad geometry");
  if (out.numel() == 0) return;
  dispatch_dtype(x.dtype(), "gather", [&]<typename T>() {
    gather_strided<T>(view_without_dim(x, index.sizes(), dim), index, x.stride(dim), out);
  });
}

// Note [Parallel scatter_add]
// Two positions p, q of index write the same element of out only if they agree in every dim except `dim` (the
// target is p with p[dim] replaced by index[p]). So the loop is parallel over the positions of index with dim
// removed (the geometry has size 1 there), and each such position walks its whole line along dim on one thread:
// repeated indices are then added one after another, never concurrently. Within a run of the inner loop, the two
// loops (the run, and the walk along dim) are nested so that the one with the smaller stride in out is innermost:
// row by row for a scatter along dim 0 of a matrix, line by line for a scatter along its last dim.
// out: [*] (accumulated into), index: [*] (out's rank), src: index's shape
void cpu_scatter_add(const Tensor& out, std::int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  TRIDENT_ASSERT(out.is_contiguous() && index.dim() == out.dim() && src.sizes() == index.sizes(),
                 "scatter_add: bad geometry");
  const auto d = static_cast<std::size_t>(dim);
  const std::int64_t line = index.size(dim);
  Shape lines = index.sizes();
  lines[d] = 1;
  const Tensor out_view = make_view(out, lines, out.strides(), out.storage_offset());
  const Tensor index_view = make_view(index, lines, index.strides(), index.storage_offset());
  const Tensor src_view = make_view(src, lines, src.strides(), src.storage_offset());
  dispatch_numeric(out.dtype(), "scatter_add", [&]<typename T>() {
    const std::int64_t out_step = out.stride(dim) * static_cast<std::int64_t>(sizeof(T));
    const std::int64_t index_step = index.stride(dim) * static_cast<std::int64_t>(sizeof(std::int64_t));
    const std::int64_t src_step = src.stride(dim) * static_cast<std::int64_t>(sizeof(T));
    for_each_strided<3>(
        lines, {&out_view, &index_view, &src_view}, [=](char** p, const std::int64_t* st, std::int64_t n) {
          auto add = [&](std::int64_t i, std::int64_t j) {
            const std::int64_t t = *reinterpret_cast<const std::int64_t*>(p[1] + i * st[1] + j * index_step);
            *reinterpret_cast<T*>(p[0] + i * st[0] + t * out_step) +=
                *reinterpret_cast<const T*>(p[2] + i * st[2] + j * src_step);
          };
          if (std::abs(st[0]) <= std::abs(out_step)) {
            for (std::int64_t j = 0; j < line; ++j)
              for (std::int64_t i = 0; i < n; ++i) add(i, j);
          } else {
            for (std::int64_t i = 0; i < n; ++i)
              for (std::int64_t j = 0; j < line; ++j) add(i, j);
          }
        });
  });
}

TRIDENT_REGISTER_KERNEL(kernels::index_select, DeviceType::CPU, &cpu_index_select);
TRIDENT_REGISTER_KERNEL(kernels::gather, DeviceType::CPU, &cpu_gather);
TRIDENT_REGISTER_KERNEL(kernels::scatter_add, DeviceType::CPU, &cpu_scatter_add);

}  // namespace
}  // namespace trident::cpu
