// Devices and streams: discovery that treats "no driver" as "no device", and one
// stream per (thread, device). Internal to kernels/cuda; cuda.h is the public part.
//
//   TG_ASSIGN_OR_RETURN(cudaStream_t stream, cuda::Activate(t.device));
//   // ... launch on `stream`: it is this thread's stream on t.device's GPU, which
//   // is now the thread's current device.
//
// Thread safety: any thread; streams are thread-local.
#ifndef TAPEGRAD_KERNELS_CUDA_RUNTIME_H_
#define TAPEGRAD_KERNELS_CUDA_RUNTIME_H_

#include <cuda_runtime.h>

#include "absl/status/statusor.h"
#include "core/device.h"

namespace tapegrad::cuda {

inline constexpr int kMaxDevices = 16;

// OK if `device` is a CUDA device that exists; otherwise FailedPrecondition
// naming the device and why ("no CUDA driver", "2 devices", ...).
absl::Status CheckDevice(Device device);
// Makes `device` this thread's current GPU and returns this thread's stream on
// it (created at first use, destroyed when the thread exits).
absl::StatusOr<cudaStream_t> Activate(Device device);
// This thread's stream on device `index` if it has made one, else nullptr (it
// has queued no work there). Creates nothing.
cudaStream_t ExistingStream(int index);
// Defined by the caching allocator (memory.cc): a thread's stream on `device`
// has been synchronised and is about to be destroyed, so the blocks filed under
// it become free for any stream.
void RetireStream(int device, cudaStream_t stream);
// Properties of an existing device (CheckDevice first), read once.
int Arch(int index);             // 90 for sm_90
int Multiprocessors(int index);  // SM count

}  // namespace tapegrad::cuda

#endif  // TAPEGRAD_KERNELS_CUDA_RUNTIME_H_
