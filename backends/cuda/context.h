// Per-device CUDA state: device checks, the current-device guard, the stream kernels run on, cuBLAS handles.
//
// Streams: every trident kernel and copy for cuda:<i> is queued on current_stream(i), which is for now CUDA's legacy
// default stream (stream 0). That stream orders all work on the device and synchronises with the host on blocking
// copies, so a to(kCPU) sees every earlier kernel's result and the caching allocator may hand a freed block to the
// next allocation at once (any later kernel using it runs after the earlier ones that used it). When trident grows
// several streams, the allocator must record the stream each block was last used on (PyTorch's record_stream).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "trident/core/device.h"

namespace trident::cuda {

// Number of visible devices, asked from the driver once (0 when there is no driver or no GPU).
int device_count();
// Throws "cuda:3: device index out of range (1 CUDA device(s))" or "cuda:0: no CUDA device is available ...".
void check_device(Device device);

// Makes `device` the current CUDA device for the lifetime of the guard, restoring the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The stream trident's work for `device` is queued on (see the note at the top).
inline cudaStream_t current_stream(int /*device*/) { return nullptr; }

// One cuBLAS handle per device, created on first use (bound to current_stream(device)) and kept for the process.
cublasHandle_t cublas_handle(int device);

// Number of streaming multiprocessors of `device` (cached): sizes grids for reductions.
int multiprocessor_count(int device);

}  // namespace trident::cuda
