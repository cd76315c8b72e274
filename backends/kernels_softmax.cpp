// The dispatch stubs of the softmax family (declared in kernels.h).
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<softmax_fn> softmax("softmax");
constinit DispatchStub<softmax_backward_fn> softmax_backward("softmax_backward");

}  // namespace trident::kernels
