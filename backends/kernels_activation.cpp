// The dispatch stubs of the activation kernels (declared in kernels.h, section "activations").
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<activation_fn> activation("activation");
constinit DispatchStub<activation_backward_fn> activation_backward("activation_backward");

}  // namespace trident::kernels
