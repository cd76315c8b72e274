// The dispatch stubs of the fused optimizer updates (declared in kernels.h, section "optimizers").
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<sgd_step_fn> sgd_step("sgd_step");
constinit DispatchStub<adam_step_fn> adam_step("adam_step");

}  // namespace trident::kernels
