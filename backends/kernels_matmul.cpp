// The dispatch stub of the linear-algebra kernels declared in backends/kernels.h.
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<matmul_fn> matmul("matmul");

}  // namespace trident::kernels
