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
// oneDNN's CPU primitives decide their work split (and with it their scratchpad) when the primitive is created,
// from omp_get_max_threads() at that moment, and then run with exactly that many threads: a primitive created under
// 2 threads keeps using 2 after set_num_threads(1). Every cache of oneDNN primitives in trident therefore keys on
// the thread count, so a change of set_num_threads builds (or finds) a primitive made for the new count.

}  // namespace trident::cpu
