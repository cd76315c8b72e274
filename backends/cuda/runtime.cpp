// The CUDA runtime side of the backend: error messages, device discovery and guards, cuBLAS handles, and the
// registration that makes core/cuda_runtime.h answer for CUDA.
#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "trident/backends/cuda/allocator.h"
#include "trident/backends/cuda/context.h"
#include "trident/backends/cuda/cuda_check.h"
#include "trident/core/cuda_runtime.h"

namespace trident::cuda {

namespace detail {
namespace {
// "/home/x/trident/backends/cuda/copy.cu" -> "backends/cuda/copy.cu": messages name the file as it sits in the repo.
std::string_view short_path(std::string_view file) {
  const auto pos = file.rfind("backends/");
  return pos == std::string_view::npos ? file : file.substr(pos);
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* statement, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so that later calls do not report it again
  trident::detail::throw_error(fmt::format("CUDA error: {} failed at {}:{}: {} ({})", statement, short_path(file), line,
                                           cudaGetErrorString(status), cudaGetErrorName(status)));
}

void throw_cublas_error(cublasStatus_t status, const char* statement, const char* file, int line) {
  trident::detail::throw_error(fmt::format("cuBLAS error: {} failed at {}:{}: {} ({})", statement, short_path(file),
                                           line, cublasGetStatusString(status), static_cast<int>(status)));
}
}  // namespace detail

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: CUDA is simply unavailable
      n = 0;
    }
    return n;
  }();
  return count;
}

void check_device(Device device) {
  TRIDENT_CHECK(device.is_cuda(), "{}: not a CUDA device", device);
  const int n = device_count();
  TRIDENT_CHECK(n > 0, "{}: no CUDA device is available (trident was built with CUDA, but the driver reports no GPU)",
                device);
  TRIDENT_CHECK(device.index >= 0 && device.index < n, "{}: device index out of range ({} CUDA device(s))", device, n);
}

DeviceGuard::DeviceGuard(int device) {
  TRIDENT_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) TRIDENT_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) (void)cudaSetDevice(previous_);
}

namespace {
struct PerDevice {
  std::once_flag cublas_once;
  cublasHandle_t cublas = nullptr;
  std::atomic<int> sm_count{0};
};

// Sized once to the device count; never destroyed (handles stay valid during static destruction, and the driver may
// already be shutting down at exit, when destroying them could fail).
std::vector<PerDevice>& per_device() {
  static auto* v = new std::vector<PerDevice>(static_cast<std::size_t>(device_count()));
  return *v;
}
}  // namespace

cublasHandle_t cublas_handle(int device) {
  check_device(Device::cuda(device));
  PerDevice& d = per_device()[static_cast<std::size_t>(device)];
  std::call_once(d.cublas_once, [&] {
    DeviceGuard guard(device);
    TRIDENT_CUBLAS_CHECK(cublasCreate(&d.cublas));
    TRIDENT_CUBLAS_CHECK(cublasSetStream(d.cublas, current_stream(device)));
  });
  return d.cublas;
}

int multiprocessor_count(int device) {
  PerDevice& d = per_device()[static_cast<std::size_t>(device)];
  if (d.sm_count == 0) {  // a benign race: every thread writes the same value
    int n = 0;
    TRIDENT_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    d.sm_count = n;
  }
  return d.sm_count;
}

namespace {
void synchronize_device(int device) {
  if (device_count() == 0) return;  // nothing can have been queued
  check_device(Device::cuda(device));
  DeviceGuard guard(device);
  TRIDENT_CUDA_CHECK(cudaDeviceSynchronize());
}

[[maybe_unused]] const bool registered = [] {
  trident::detail::CudaRuntimeHooks hooks;
  hooks.device_count = &device_count;
  hooks.empty_cache = &empty_cache_all_devices;
  hooks.memory_stats = &allocator_stats;
  hooks.synchronize = &synchronize_device;
  trident::detail::register_cuda_runtime(hooks);
  return true;
}();
}  // namespace

}  // namespace trident::cuda
