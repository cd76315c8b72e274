// The oneDNN engine and stream every CPU primitive in trident runs on.
//
// One engine (cpu, 0) and one stream for the whole process, created on first use (thread-safe static
// initialisation). oneDNN is built with the OpenMP runtime, so its primitives run on the same OpenMP pool as
// trident's own loops and follow set_num_threads (core/threads.h) -- see Note [oneDNN and the thread count].
#pragma once

#include <dnnl.hpp>

namespace trident::cpu {

dnnl::engine& dnnl_engine();
// A CPU stream with the OpenMP runtime is in-order and synchronous: execute() returns when the primitive is done.
dnnl::stream& dnnl_stream();

// Note [oneDNN and the thread count]
// oneDNN's CPU primitives decide their work split when the primitive is created, from omp_get_max_threads() at
// that moment, and never use more threads than that afterwards: measured with oneDNN 2.6's matmul, a primitive
// created under 1 thread stays single-threaded after set_num_threads(2) (and one created under 2 threads runs a
// split made for 2 on 1 thread after set_num_threads(1)). Every cache of oneDNN primitives in trident therefore
// keys on the thread count, so that after set_num_threads a primitive made for the new count is built (or found).

}  // namespace trident::cpu
