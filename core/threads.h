// The CPU thread count. trident's own loops and oneDNN share one OpenMP pool; its size follows OMP_NUM_THREADS at
// start-up, or set_num_threads.
#pragma once

namespace trident {

void set_num_threads(int n);  // n >= 1
int get_num_threads();

}  // namespace trident
