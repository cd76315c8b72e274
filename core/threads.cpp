#include "trident/core/threads.h"

#include <omp.h>

#include "trident/core/error.h"

namespace trident {

void set_num_threads(int n) {
  TRIDENT_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got {}", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace trident
