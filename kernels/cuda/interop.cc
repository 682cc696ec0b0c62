#include "kernels/cuda/interop.h"

#include "kernels/cuda/runtime.h"

namespace tapegrad::cuda {

absl::StatusOr<cudaStream_t> CurrentStream(Device device) { return Activate(device); }

}  // namespace tapegrad::cuda
