// The dispatch stubs declared in kernels.h. Constant-initialised, so backends may register into them from their
// own static initialisers in any order.
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<copy_fn> copy("copy");
constinit DispatchStub<fill_fn> fill("fill");
constinit DispatchStub<unary_fn> unary("unary");
constinit DispatchStub<binary_fn> binary("binary");
constinit DispatchStub<where_fn> where("where");
constinit DispatchStub<reduce_fn> reduce("reduce");

}  // namespace trident::kernels
