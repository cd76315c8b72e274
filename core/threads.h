// The CPU thread count. trident's own loops and oneDNN share one OpenMP pool; its size follows OMP_NUM_THREADS at
// start-up, or set_num_threads.
#pragma once

namespace trident {

// n >= 1. Like omp_set_num_threads (and torch.set_num_threads), it sets the count for parallel regions started from
// the calling thread: call it on the thread that runs the model. oneDNN primitives keep the count they were created
// with, so trident's primitive caches include it in their keys (Note [oneDNN and the thread count]).
void set_num_threads(int n);
int get_num_threads();

}  // namespace trident
