// CPU matrix product. Contract: backends/kernels.h (matmul). a: [B, M, K], b: [B, K, N] -> out: [B, M, N].
//
//   float32: oneDNN's matmul primitive, described with the operands' own strides (a transposed or row-sliced matrix
//            is read in place) and cached per geometry: Note [The matmul primitive cache].
//   float64: oneDNN has no f64 matmul, so trident has its own packed, cache-blocked, OpenMP-parallel loop:
//            Note [Blocked float64 matmul].
#include "trident/backends/cpu/matmul.h"

#include <omp.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "trident/backends/cpu/dnnl_context.h"
#include "trident/backends/kernels.h"

namespace trident::cpu {
namespace {

// One operand as the kernel sees it: `batch` matrices of rows x cols, with element strides.
struct Operand {
  std::int64_t batch, rows, cols;
  std::int64_t sb, sr, sc;
};

// The operand in canonical form. A batch stride of 0 (one matrix broadcast over the batch) becomes a batch of 1,
// which is how oneDNN spells broadcasting. Dims of size 1 get the strides of a plain row- or column-major layout
// (their stride is never used to address anything), so that layouts which differ only there -- an unsqueezed
// vector, one row sliced out of a matrix -- share a cache entry and oneDNN recognises them as plain.
Operand canonical(const Tensor& t) {
  Operand o{t.size(0), t.size(1), t.size(2), t.stride(0), t.stride(1), t.stride(2)};
  if (o.batch > 1 && o.sb == 0) o.batch = 1;
  if (o.rows == 1 && o.cols == 1) {
    o.sr = 1;
    o.sc = 1;
  } else if (o.rows == 1) {
    o.sr = o.sc == 1 ? o.cols : 1;
  } else if (o.cols == 1) {
    o.sc = o.sr == 1 ? o.rows : 1;
  }
  if (o.batch == 1) o.sb = std::max(o.rows * o.sr, o.cols * o.sc);
  return o;
}

// Row-major or column-major with a leading dimension that does not overlap: the layouts BLAS-like kernels (and
// oneDNN's fast matmul implementations) read directly. Anything else (a row stride of 2, a stride-0 row) is copied.
bool blas_layout(const Operand& o) { return (o.sc == 1 && o.sr >= o.cols) || (o.sr == 1 && o.sc >= o.rows); }

Operand contiguous_operand(Operand o) {
  o.sc = 1;
  o.sr = o.cols;
  o.sb = o.rows * o.cols;
  return o;
}

// The operand's data as a contiguous [batch, rows, cols] tensor (batch 1 when broadcast).
Tensor materialize(const Tensor& t, const Operand& o) {
  return make_view(t, {o.batch, o.rows, o.cols}, t.strides(), t.storage_offset()).contiguous();
}

// ==== float32: oneDNN ==============================================================================================

// Note [The matmul primitive cache]
// Creating a oneDNN primitive (descriptor, implementation search, JIT code generation) costs from tens of
// microseconds to milliseconds; executing a cached one costs a hash lookup. trident keeps one primitive per
// geometry -- every size and stride of both operands (in canonical form, see `canonical`), the batch of the output,
// and the OpenMP thread count (Note [oneDNN and the thread count]). The output is always contiguous, so its
// geometry follows. The map is guarded by a shared_mutex: lookups (the hit path) take it shared and run in
// parallel; a miss creates the primitive outside the lock and inserts it exclusively (two threads missing on the
// same geometry both build one; the first insert wins). Entries are immutable once inserted. A program that
// cycles through more than kMaxEntries geometries (variable batch sizes, say) empties the cache when it is full,
// which bounds memory; oneDNN's own primitive cache still makes a re-creation cheaper than the first one.
// Measured hit path (bench_core on the 2-core development machine, OMP_NUM_THREADS=2, quiet): a whole trident
// matmul of 8 x 8 matrices -- argument checks, output allocation, key, lookup, re-pointing the memory handles
// (Note [oneDNN memory handles and scratchpad per thread]), execute -- takes 1.2 us, where the same primitive
// executed directly takes 0.3 us; so trident adds about 0.9 us per call, nothing next to any product worth
// threading (a 256^3 product takes 72 us).
constexpr std::size_t kMaxEntries = 1024;

using PlanKey = std::array<std::int64_t, 15>;

struct PlanKeyHash {
  std::size_t operator()(const PlanKey& k) const {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::int64_t v : k) {
      h ^= static_cast<std::uint64_t>(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    }
    return static_cast<std::size_t>(h);
  }
};

struct Plan {
  dnnl::matmul primitive;
  dnnl::memory::desc a_md, b_md, out_md;
  dnnl::memory::desc scratchpad_md;     // the primitive's temporary buffer (user-managed, see bind_memories)
  bool copy_a = false, copy_b = false;  // operand copied to a contiguous buffer first
  std::string implementation;
};

class PlanCache {
 public:
  std::shared_ptr<const Plan> find(const PlanKey& key) {
    std::shared_lock lock(mutex_);
    auto it = plans_.find(key);
    if (it == plans_.end()) return nullptr;
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second;
  }
  std::shared_ptr<const Plan> insert(const PlanKey& key, std::shared_ptr<const Plan> plan) {
    std::unique_lock lock(mutex_);
    misses_.fetch_add(1, std::memory_order_relaxed);
    if (plans_.size() >= kMaxEntries) plans_.clear();
    return plans_.try_emplace(key, std::move(plan)).first->second;
  }
  MatmulCacheStats stats() {
    std::shared_lock lock(mutex_);
    return {hits_.load(), misses_.load(), plans_.size()};
  }
  void clear() {
    std::unique_lock lock(mutex_);
    plans_.clear();
    hits_ = 0;
    misses_ = 0;
  }

 private:
  std::shared_mutex mutex_;
  std::unordered_map<PlanKey, std::shared_ptr<const Plan>, PlanKeyHash> plans_;
  std::atomic<std::uint64_t> hits_{0}, misses_{0};
};

PlanCache& plan_cache() {
  static PlanCache cache;
  return cache;
}

dnnl::memory::desc f32_desc(const Operand& o) {
  return dnnl::memory::desc({o.batch, o.rows, o.cols}, dnnl::memory::data_type::f32, {o.sb, o.sr, o.sc});
}

std::shared_ptr<const Plan> create_plan(const Operand& a, const Operand& b, std::int64_t batch) {
  const std::int64_t M = a.rows, N = b.cols;
  const dnnl::memory::desc out_md({batch, M, N}, dnnl::memory::data_type::f32, {M * N, N, 1});
  auto build = [&](bool copy_a, bool copy_b) {
    auto plan = std::make_shared<Plan>();
    plan->copy_a = copy_a;
    plan->copy_b = copy_b;
    plan->a_md = f32_desc(copy_a ? contiguous_operand(a) : a);
    plan->b_md = f32_desc(copy_b ? contiguous_operand(b) : b);
    plan->out_md = out_md;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(plan->a_md, plan->b_md, plan->out_md), attr,
                                          dnnl_engine());
    plan->scratchpad_md = pd.scratchpad_desc();
    plan->implementation = pd.impl_info_str();
    plan->primitive = dnnl::matmul(pd);
    return plan;
  };
  auto plan = build(!blas_layout(a), !blas_layout(b));
  // oneDNN's only kernel for some layouts is its reference loop (e.g. an unusual batch stride); contiguous copies
  // are much cheaper than that.
  if (plan->implementation.starts_with("ref") && !(plan->copy_a && plan->copy_b)) plan = build(true, true);
  return plan;
}

std::shared_ptr<const Plan> find_or_create_plan(const Operand& a, const Operand& b, std::int64_t batch) {
  // clang-format off
  const PlanKey key{static_cast<std::int64_t>(kFloat32), omp_get_max_threads(), batch,  // dtype, threads, batch
                    a.batch, a.rows, a.cols, a.sb, a.sr, a.sc,                          // a
                    b.batch, b.rows, b.cols, b.sb, b.sr, b.sc};                         // b
  // clang-format on
  PlanCache& cache = plan_cache();
  if (auto plan = cache.find(key)) return plan;
  return cache.insert(key, create_plan(a, b, batch));
}

[[noreturn]] void rethrow_dnnl(const dnnl::error& e) {
  TRIDENT_ASSERT(false, "matmul: oneDNN failed: {} (status {})", e.what(), static_cast<int>(e.status));
  std::abort();  // unreachable: TRIDENT_ASSERT(false) throws
}

// Note [oneDNN memory handles and scratchpad per thread]
// A primitive runs on dnnl::memory handles (descriptor + pointer) for its arguments. Creating three of them costs
// about a microsecond, more than executing a small product, while pointing existing ones at new data
// (set_data_handle) costs tens of nanoseconds; so each calling thread keeps the handles of the last few plans it
// ran (holding the plan keeps their descriptors alive after the cache has dropped it).
// Some implementations need a temporary buffer (scratchpad). oneDNN's default ("library") scratchpad is shared by
// all primitives created on one thread and makes a primitive unsafe to run on another thread than the one that
// created it -- which a process-wide cache cannot promise. trident therefore asks for user-managed scratchpads and
// passes each call a buffer of the calling thread, grown to the largest size asked for; executions on different
// threads never share one.
struct BoundMemories {
  std::shared_ptr<const Plan> plan;
  dnnl::memory a, b, out, scratchpad;
};

void* thread_scratchpad(std::size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    std::size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (bytes > buffer.size) {
    std::free(buffer.data);
    buffer.size = 0;
    buffer.data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    TRIDENT_CHECK(buffer.data != nullptr, "matmul: out of memory allocating a {}-byte scratchpad", bytes);
    buffer.size = bytes;
  }
  return buffer.data;
}

BoundMemories& bind_memories(const std::shared_ptr<const Plan>& plan, void* a, void* b, void* out) {
  constexpr std::size_t kSlots = 8;
  thread_local std::array<BoundMemories, kSlots> slots;
  thread_local std::size_t next_slot = 0;
  const std::size_t scratch_bytes = plan->scratchpad_md.get_size();
  void* scratch = scratch_bytes > 0 ? thread_scratchpad(scratch_bytes) : nullptr;
  for (BoundMemories& m : slots) {
    if (m.plan == plan) {
      m.a.set_data_handle(a);
      m.b.set_data_handle(b);
      m.out.set_data_handle(out);
      if (scratch != nullptr) m.scratchpad.set_data_handle(scratch);
      return m;
    }
  }
  BoundMemories& m = slots[next_slot++ % kSlots];
  dnnl::engine& engine = dnnl_engine();
  m = {plan, dnnl::memory(plan->a_md, engine, a), dnnl::memory(plan->b_md, engine, b),
       dnnl::memory(plan->out_md, engine, out), dnnl::memory(plan->scratchpad_md, engine, scratch)};
  return m;
}

void matmul_f32(const Tensor& a, const Tensor& b, const Tensor& out) {
  const Operand oa = canonical(a), ob = canonical(b);
  const std::int64_t batch = out.size(0);
  try {
    const std::shared_ptr<const Plan> plan = find_or_create_plan(oa, ob, batch);
    // Copies, when the plan needs them, live until the primitive has run.
    const Tensor a_data = plan->copy_a ? materialize(a, oa) : a;
    const Tensor b_data = plan->copy_b ? materialize(b, ob) : b;
    const BoundMemories& m = bind_memories(plan, a_data.raw_data(), b_data.raw_data(), out.raw_data());
    // The C API takes the arguments as an array; the C++ execute() would build a std::unordered_map per call.
    const dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, m.a.get()},
                                     {DNNL_ARG_WEIGHTS, m.b.get()},
                                     {DNNL_ARG_DST, m.out.get()},
                                     {DNNL_ARG_SCRATCHPAD, m.scratchpad.get()}};
    dnnl::error::wrap_c_api(dnnl_primitive_execute(plan->primitive.get(), dnnl_stream().get(), 4, args),
                            "could not execute the matmul primitive");
    dnnl_stream().wait();
  } catch (const dnnl::error& e) {
    rethrow_dnnl(e);
  }
}

// ==== float64: packed, blocked loop ================================================================================

// Note [Blocked float64 matmul]
// The classic structure of an optimised GEMM (Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication", 2008), kept small:
//   - C is cut into tiles of up to kMC x kNC; the tiles of every batch entry are the parallel tasks (OpenMP,
//     dynamic schedule). Tiles shrink for products too small to give each thread a few of them.
//   - For each tile, K is walked in slices of kKC. A's mc x kc block and B's kc x nc panel are copied ("packed")
//     into buffers of the calling thread, laid out so that the micro-kernel reads both with unit stride: A in
//     micro-panels of kMR rows (k-major), B in micro-panels of kNR columns (k-major). Packing reads the operands
//     through their strides, which is how transposed, sliced and broadcast (stride 0) operands are handled at no
//     extra cost; edges are padded with zeros.
//   - The micro-kernel keeps a kMR x kNR block of C in vector registers for a whole kKC slice: each step loads kNR
//     values of B (two vectors), broadcasts kMR values of A, and does 2*kMR fused multiply-adds. The first K slice
//     writes C, the later ones add to it.
// Sizes (AVX-512): the packed A block (192 x 128 doubles, 192 KiB) stays in L2 and is reused across the whole
// tile; a B micro-panel (128 x 16 doubles, 16 KiB) and the A micro-panel it meets (12 x 128, 12 KiB) fit in L1
// together. The vector width follows the compile flags (AVX-512, AVX2+FMA, or scalar code elsewhere).
// Measured on the 2-core AVX-512 development machine (2 threads, quiet): 1024^3 in 13.7 ms (157 GFLOP/s), where
// oneDNN's float32 matmul takes 5.0 ms (433 GFLOP/s); float64 does half the work per instruction, so this is about
// 70% of oneDNN's efficiency.
#if defined(__AVX512F__)
struct F64Vec {
  using V = __m512d;
  static constexpr int kLanes = 8, kMR = 12;  // 24 accumulators + 2 B vectors + 1 broadcast of 32 registers
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_load_pd(p); }  // packed buffers are 64-byte aligned
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
};
#elif defined(__AVX2__) && defined(__FMA__)
struct F64Vec {
  using V = __m256d;
  static constexpr int kLanes = 4, kMR = 6;  // 12 accumulators + 2 B vectors + 1 broadcast of 16 registers
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_load_pd(p); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
};
#else
struct F64Vec {
  using V = double;
  static constexpr int kLanes = 1, kMR = 4;
  static V zero() { return 0.0; }
  static V load(const double* p) { return *p; }
  static V loadu(const double* p) { return *p; }
  static void storeu(double* p, V v) { *p = v; }
  static V set1(double x) { return x; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
};
#endif

constexpr std::int64_t kMR = F64Vec::kMR;
constexpr std::int64_t kNR = 2 * F64Vec::kLanes;
// Largest tile of C (shrunk by halves when a product has too few tiles to keep every thread busy) and K slice.
constexpr std::int64_t kMC = 192;  // a multiple of kMR (12, 6, 4), also after halving twice
constexpr std::int64_t kNC = 512;  // a multiple of kNR (16, 8, 2), also after halving twice
constexpr std::int64_t kKC = 128;
static_assert(kMC % (4 * kMR) == 0 && kNC % (4 * kNR) == 0);

// c[0:kMR, 0:kNR] (row stride ldc) = (accumulate ? c : 0) + a_panel @ b_panel over kc steps.
void micro_kernel(std::int64_t kc, const double* __restrict ap, const double* __restrict bp, double* c,
                  std::int64_t ldc, bool accumulate) {
  using W = F64Vec;
  W::V acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = W::zero();
  for (std::int64_t k = 0; k < kc; ++k) {
    const W::V b0 = W::load(bp), b1 = W::load(bp + W::kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < kMR; ++i) {
      const W::V ai = W::set1(ap[i]);
      acc[i][0] = W::fma(ai, b0, acc[i][0]);
      acc[i][1] = W::fma(ai, b1, acc[i][1]);
    }
    ap += kMR;
    bp += kNR;
  }
  for (int i = 0; i < kMR; ++i) {
    double* ci = c + i * ldc;
    if (accumulate) {
      acc[i][0] = W::add(acc[i][0], W::loadu(ci));
      acc[i][1] = W::add(acc[i][1], W::loadu(ci + W::kLanes));
    }
    W::storeu(ci, acc[i][0]);
    W::storeu(ci + W::kLanes, acc[i][1]);
  }
}

// Pack rows [0, mc) x cols [0, kc) of A (strides sr, sc) into micro-panels of kMR rows, k-major, zero-padded:
// dst[panel][k][i] = A[panel * kMR + i][k].
void pack_a(const double* a, std::int64_t sr, std::int64_t sc, std::int64_t mc, std::int64_t kc, double* dst) {
  for (std::int64_t i0 = 0; i0 < mc; i0 += kMR) {
    const std::int64_t mr = std::min(kMR, mc - i0);
    for (std::int64_t k = 0; k < kc; ++k, dst += kMR) {
      const double* src = a + i0 * sr + k * sc;
      std::int64_t i = 0;
      for (; i < mr; ++i) dst[i] = src[i * sr];
      for (; i < kMR; ++i) dst[i] = 0.0;
    }
  }
}

// Pack rows [0, kc) x cols [0, nc) of B (strides sr, sc) into micro-panels of kNR columns, k-major, zero-padded:
// dst[panel][k][j] = B[k][panel * kNR + j].
void pack_b(const double* b, std::int64_t sr, std::int64_t sc, std::int64_t kc, std::int64_t nc, double* dst) {
  for (std::int64_t j0 = 0; j0 < nc; j0 += kNR) {
    const std::int64_t nr = std::min(kNR, nc - j0);
    for (std::int64_t k = 0; k < kc; ++k, dst += kNR) {
      const double* src = b + k * sr + j0 * sc;
      std::int64_t j = 0;
      if (nr == kNR && sc == 1) {  // whole rows of kNR contiguous values: a fixed-size vector copy
        for (; j < kNR; ++j) dst[j] = src[j];
      } else {
        for (; j < nr; ++j) dst[j] = src[j * sc];
      }
      for (; j < kNR; ++j) dst[j] = 0.0;
    }
  }
}

// The packing buffers of the calling thread (an OpenMP worker keeps them between calls: kMC x kKC + kKC x kNC
// doubles, 704 KiB per thread), allocated on first use, so that a call allocates nothing. Null if out of memory.
struct PackingBuffers {
  double* a = nullptr;
  double* b = nullptr;
  ~PackingBuffers() {
    std::free(a);
    std::free(b);
  }
};

PackingBuffers& thread_packing_buffers() {
  thread_local PackingBuffers buffers;
  if (buffers.a == nullptr) buffers.a = static_cast<double*>(std::aligned_alloc(64, kMC * kKC * sizeof(double)));
  if (buffers.b == nullptr) buffers.b = static_cast<double*>(std::aligned_alloc(64, kKC * kNC * sizeof(double)));
  return buffers;
}

void matmul_f64(const Tensor& a, const Tensor& b, const Tensor& out) {
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const std::int64_t sab = a.stride(0), sam = a.stride(1), sak = a.stride(2);
  const std::int64_t sbb = b.stride(0), sbk = b.stride(1), sbn = b.stride(2);
  const double* pa = a.data_ptr<double>();
  const double* pb = b.data_ptr<double>();
  double* pc = out.data_ptr<double>();
  // Tile size: as large as kMC x kNC (packing costs less per multiply-add in larger tiles), but small enough to
  // give every thread about four tiles (dynamic scheduling evens out the rest).
  const std::int64_t want_tasks = 4 * static_cast<std::int64_t>(omp_get_max_threads());
  std::int64_t mc_max = kMC, nc_max = kNC;
  auto count_tasks = [&] { return B * ((M + mc_max - 1) / mc_max) * ((N + nc_max - 1) / nc_max); };
  while (count_tasks() < want_tasks && nc_max > kNC / 4) nc_max /= 2;
  while (count_tasks() < want_tasks && mc_max > kMC / 4) mc_max /= 2;
  const std::int64_t m_tiles = (M + mc_max - 1) / mc_max, n_tiles = (N + nc_max - 1) / nc_max;
  const std::int64_t tasks = B * m_tiles * n_tiles;
  // A parallel region costs a few microseconds: worth it from about 32^3 multiply-adds.
  const bool parallel =
      tasks > 1 &&
      static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) * static_cast<double>(B) >= 32768.0;

  // An exception must not leave an OpenMP region: a thread without buffers flags it and the error is raised after.
  std::atomic<bool> out_of_memory{false};
#pragma omp parallel if (parallel)
  {
    const PackingBuffers& buffers = thread_packing_buffers();
    double* const a_pack = buffers.a;
    double* const b_pack = buffers.b;
    if (a_pack == nullptr || b_pack == nullptr) out_of_memory = true;
    alignas(64) double edge[kMR * kNR];
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      if (out_of_memory) continue;
      const std::int64_t bi = task / (m_tiles * n_tiles);
      const std::int64_t i0 = (task / n_tiles) % m_tiles * mc_max;
      const std::int64_t j0 = task % n_tiles * nc_max;
      const std::int64_t mc = std::min(mc_max, M - i0), nc = std::min(nc_max, N - j0);
      double* c_tile = pc + bi * M * N + i0 * N + j0;
      for (std::int64_t p0 = 0; p0 < K; p0 += kKC) {
        const std::int64_t kc = std::min(kKC, K - p0);
        const bool accumulate = p0 > 0;
        pack_a(pa + bi * sab + i0 * sam + p0 * sak, sam, sak, mc, kc, a_pack);
        pack_b(pb + bi * sbb + p0 * sbk + j0 * sbn, sbk, sbn, kc, nc, b_pack);
        for (std::int64_t jr = 0; jr < nc; jr += kNR) {
          const std::int64_t nr = std::min(kNR, nc - jr);
          const double* bp = b_pack + jr * kc;
          for (std::int64_t ir = 0; ir < mc; ir += kMR) {
            const std::int64_t mr = std::min(kMR, mc - ir);
            const double* ap = a_pack + ir * kc;
            double* c = c_tile + ir * N + jr;
            if (mr == kMR && nr == kNR) {
              micro_kernel(kc, ap, bp, c, N, accumulate);
            } else {
              micro_kernel(kc, ap, bp, edge, kNR, false);
              for (std::int64_t i = 0; i < mr; ++i)
                for (std::int64_t j = 0; j < nr; ++j)
                  c[i * N + j] = (accumulate ? c[i * N + j] : 0.0) + edge[i * kNR + j];
            }
          }
        }
      }
    }
  }
  TRIDENT_CHECK(!out_of_memory, "matmul: out of memory allocating packing buffers");
}

// ==== entry point ==================================================================================================

void cpu_matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  TRIDENT_ASSERT(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(),
                 "matmul kernel: expected 3-d operands and a contiguous output");
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  if (B == 0 || M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum
    std::memset(out.raw_data(), 0, static_cast<std::size_t>(out.numel()) * out.itemsize());
    return;
  }
  const bool a_broadcast = B > 1 && a.stride(0) == 0, b_broadcast = B > 1 && b.stride(0) == 0;
  if (a_broadcast && b_broadcast) {
    // Every batch entry is the same product: compute it once and repeat it.
    cpu_matmul(make_view(a, {1, M, K}, a.strides(), a.storage_offset()),
               make_view(b, {1, K, N}, b.strides(), b.storage_offset()),
               make_view(out, {1, M, N}, out.strides(), out.storage_offset()));
    const std::size_t bytes = static_cast<std::size_t>(M * N) * out.itemsize();
    auto* base = static_cast<char*>(out.raw_data());
    for (std::int64_t i = 1; i < B; ++i) std::memcpy(base + static_cast<std::size_t>(i) * bytes, base, bytes);
    return;
  }
  if (a.dtype() == kFloat32) {
    matmul_f32(a, b, out);
  } else {
    TRIDENT_ASSERT(a.dtype() == kFloat64, "matmul kernel: unsupported dtype {}", a.dtype());
    matmul_f64(a, b, out);
  }
}

TRIDENT_REGISTER_KERNEL(kernels::matmul, DeviceType::CPU, &cpu_matmul);

}  // namespace

MatmulCacheStats matmul_cache_stats() { return plan_cache().stats(); }

void clear_matmul_cache() { plan_cache().clear(); }

MatmulPlanInfo matmul_plan_info(const Tensor& a, const Tensor& b, const Tensor& out) {
  TRIDENT_CHECK(a.dtype() == kFloat32, "matmul_plan_info: float32 only, got {}", a.dtype());
  try {
    const auto plan = find_or_create_plan(canonical(a), canonical(b), out.size(0));
    return {plan->implementation, plan->copy_a, plan->copy_b, plan->scratchpad_md.get_size()};
  } catch (const dnnl::error& e) {
    rethrow_dnnl(e);
  }
}

}  // namespace trident::cpu
