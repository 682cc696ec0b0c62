// For libraries that queue their own work on a GPU in order with tapegrad's ops
// (NCCL's collectives in //dist): the CUDA stream on which this thread's ops on
// a device run. Only in builds with the CUDA backend (--config=cuda or cudasim).
//
//   absl::StatusOr<cudaStream_t> stream = tapegrad::cuda::CurrentStream(t.device());
//   if (!stream.ok()) return stream.status();
//   ncclAllReduce(p, p, n, ncclFloat32, ncclSum, comm, *stream);
//   // runs after the ops this thread queued on t's device, before the later ones
//
// Thread safety: any thread; each thread has its own stream per device.
#ifndef TAPEGRAD_KERNELS_CUDA_INTEROP_H_
#define TAPEGRAD_KERNELS_CUDA_INTEROP_H_

#include <cuda_runtime.h>

#include "absl/status/statusor.h"
#include "core/device.h"

namespace tapegrad::cuda {

// This thread's stream on `device`, which becomes the thread's current device;
// an error naming the device if it is not a CUDA device that exists.
absl::StatusOr<cudaStream_t> CurrentStream(Device device);

}  // namespace tapegrad::cuda

#endif  // TAPEGRAD_KERNELS_CUDA_INTEROP_H_
