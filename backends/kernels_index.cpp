// The dispatch stubs of the indexing kernels declared in kernels.h (kept out of kernels.cpp so that op families
// add their stubs without touching a shared file). Constant-initialised: backends may register in any order.
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<index_select_fn> index_select("index_select");
constinit DispatchStub<gather_fn> gather("gather");
constinit DispatchStub<scatter_add_fn> scatter_add("scatter_add");

}  // namespace trident::kernels
