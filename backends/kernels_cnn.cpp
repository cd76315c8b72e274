// The dispatch stubs of the convolution, pooling and normalisation kernels declared in kernels.h (sections
// "convolution", "pooling", "normalisation").
#include "trident/backends/kernels.h"

namespace trident::kernels {

constinit DispatchStub<conv2d_forward_fn> conv2d_forward("conv2d_forward");
constinit DispatchStub<conv2d_backward_data_fn> conv2d_backward_data("conv2d_backward_data");
constinit DispatchStub<conv2d_backward_weight_fn> conv2d_backward_weight("conv2d_backward_weight");

constinit DispatchStub<max_pool2d_forward_fn> max_pool2d_forward("max_pool2d_forward");
constinit DispatchStub<max_pool2d_backward_fn> max_pool2d_backward("max_pool2d_backward");
constinit DispatchStub<avg_pool2d_forward_fn> avg_pool2d_forward("avg_pool2d_forward");
constinit DispatchStub<avg_pool2d_backward_fn> avg_pool2d_backward("avg_pool2d_backward");
constinit DispatchStub<adaptive_avg_pool2d_forward_fn> adaptive_avg_pool2d_forward("adaptive_avg_pool2d_forward");
constinit DispatchStub<adaptive_avg_pool2d_backward_fn> adaptive_avg_pool2d_backward("adaptive_avg_pool2d_backward");

constinit DispatchStub<batch_norm_forward_fn> batch_norm_forward("batch_norm_forward");
constinit DispatchStub<batch_norm_backward_fn> batch_norm_backward("batch_norm_backward");

}  // namespace trident::kernels
