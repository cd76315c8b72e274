// The dispatch stubs of the random kernels declared in kernels.h (section "random").
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<random_fill_fn> random_fill("random_fill");

}  // namespace trident::kernels
