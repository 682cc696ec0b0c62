// The CUDA backend's public face: is there a GPU, and the few controls a user of
// tensors on Device::Cuda(i) needs beyond the Tensor API.
//
//   if (tapegrad::cuda::IsAvailable()) {
//     tapegrad::Tensor x = tapegrad::Tensor::Ones({1024}, tapegrad::DType::kF32,
//                                                 tapegrad::Device::Cuda(0));
//     tapegrad::Tensor y = tapegrad::Exp(x);       // queued on this thread's stream
//     absl::Status s = tapegrad::cuda::Synchronize(tapegrad::Device::Cuda(0));
//   }
//
// Built with --config=cuda, the backend registers a kernel for every registry op
// (f32 and f64; copy and fill for i64 too) on DeviceType::kCuda and installs a
// caching allocator as core's DeviceMemory. Without --config=cuda these functions
// still exist and report no devices, so code that checks IsAvailable() builds and
// runs either way.
//
// Execution model: every thread gets one stream per GPU (created at its first use
// there); a tape belongs to one thread at a time, so a tape's work is ordered on
// one stream, and tapes on different threads overlap. Ops return once their work
// is queued; reading elements on the host (Tensor::item, at, ToVector, Cpu())
// waits for it. Memory a thread frees is reused only by work on that thread's
// stream, which runs after everything already queued there, and, when another
// thread's stream used it before, only once that stream's queued work is done
// (the caching allocator records an event there). A tensor written on one
// thread and read on another needs Synchronize in between; a thread that reads
// a tensor whose last reference another thread drops synchronises before it
// lets go of its own. Memory of a thread that has exited is reused by any.
//
// Thread safety: all functions may be called from any thread.
#ifndef TAPEGRAD_KERNELS_CUDA_CUDA_H_
#define TAPEGRAD_KERNELS_CUDA_CUDA_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/device.h"

namespace tapegrad::cuda {

// True if this build has the CUDA backend (--config=cuda).
bool IsBuilt();
// True if the backend is built and a CUDA device answers. A machine without a
// driver or without a GPU is "no device", never an error.
bool IsAvailable();
// The number of CUDA devices (0 without a driver, a GPU or the backend).
int DeviceCount();
// Why there is no device ("not built", "no CUDA driver", ...), for messages.
std::string UnavailableReason();

struct DeviceInfo {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  int arch = 0;      // compute capability as 10*major + minor: 90
  int multiprocessors = 0;
  int64_t memory_bytes = 0;
};
absl::StatusOr<DeviceInfo> GetDeviceInfo(int index);

// Waits until the work this thread queued on `device` has finished; reports the
// first asynchronous error of that work.
absl::Status Synchronize(Device device);

// The caching allocator behind tensors on CUDA devices (all devices together).
struct MemoryStats {
  int64_t driver_allocations = 0;  // cudaMalloc calls so far
  int64_t bytes_reserved = 0;      // held from the driver, in use or cached
  int64_t bytes_in_use = 0;        // handed out and not yet freed
};
MemoryStats GetMemoryStats();
// Returns every cached (unused) block to the driver.
absl::Status EmptyCache();

}  // namespace tapegrad::cuda

#endif  // TAPEGRAD_KERNELS_CUDA_CUDA_H_
