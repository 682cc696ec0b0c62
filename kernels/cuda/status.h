// CUDA, NVRTC and cuBLAS results as absl::Status, with the library's own error
// string. Internal to kernels/cuda.
//
//   TG_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(p, 0, n, stream), "memset");
//
// Thread safety: pure functions.
#ifndef TAPEGRAD_KERNELS_CUDA_STATUS_H_
#define TAPEGRAD_KERNELS_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nvrtc.h>

#include "absl/status/status.h"

namespace tapegrad::cuda {

// OK for cudaSuccess; otherwise "<what>: <cudaGetErrorName>: <cudaGetErrorString>",
// ResourceExhausted for out-of-memory and Internal for the rest.
absl::Status CudaStatus(cudaError_t error, const char* what);
absl::Status NvrtcStatus(nvrtcResult result, const char* what);
absl::Status CublasStatus(cublasStatus_t status, const char* what);

}  // namespace tapegrad::cuda

#define TG_CUDA_RETURN_IF_ERROR(expr, what)                                     \
  do {                                                                          \
    if (absl::Status tg_cuda_status = ::tapegrad::cuda::CudaStatus(expr, what); \
        !tg_cuda_status.ok()) {                                                 \
      return tg_cuda_status;                                                    \
    }                                                                           \
  } while (0)

#endif  // TAPEGRAD_KERNELS_CUDA_STATUS_H_
