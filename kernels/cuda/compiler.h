// NVRTC compilation, the module cache, and kernel launches.
//
//   // Compile (tests do this for every module, with no GPU present):
//   absl::StatusOr<std::string> cubin = cuda::CompileToCubin(source, /*arch=*/90);
//
//   // Launch entry 0 of add_f32 on cuda:0 with one argument struct:
//   EwArgs args = ...;
//   TG_RETURN_IF_ERROR(cuda::Launch(OpKind::kAdd, DType::kF32, 0, device,
//                                   cuda::GridFor(n, device), &args));
//
// A module is compiled at its first launch, for the architecture of the device it
// runs on, to a CUBIN (no JIT at load time), loaded with cudaLibraryLoadData and
// kept for the life of the process. With TAPEGRAD_CUDA_CACHE_DIR set, CUBINs are
// also kept on disk, keyed by a hash of the source, the options, the NVRTC version
// and the architecture, so a second process skips NVRTC. Compile errors come back
// as a Status holding NVRTC's log.
//
// Thread safety: any thread. Lookups after the first are one atomic load;
// compilation is serialised by a mutex.
#ifndef TAPEGRAD_KERNELS_CUDA_COMPILER_H_
#define TAPEGRAD_KERNELS_CUDA_COMPILER_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/internal/op_kind.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {

// PTX for the virtual architecture compute_<arch>.
absl::StatusOr<std::string> CompileToPtx(const KernelSource& source, int arch);
// A CUBIN for sm_<arch>.
absl::StatusOr<std::string> CompileToCubin(const KernelSource& source, int arch);

// Where the CUBIN for sm_<arch> is kept on disk: a file in TAPEGRAD_CUDA_CACHE_DIR
// named after the module and a hash of what it is compiled from; empty when the
// variable is unset. A file there that the driver rejects is recompiled and
// replaced at the module's first use.
std::string DiskCachePath(const KernelSource& source, int arch);

// Kernel `entry` of the (op, dtype) module, loaded for `device`.
absl::StatusOr<cudaKernel_t> GetKernel(OpKind op, DType dtype, int entry, Device device);

struct LaunchShape {
  unsigned grid = 1;
  unsigned block = 256;
  unsigned shared_bytes = 0;
};
// Enough blocks of `block` threads for a grid-stride loop over n elements: one
// thread per element up to a few waves of the device's SMs.
LaunchShape GridFor(int64_t n, Device device, unsigned block = 256);

// Launches the kernel on this thread's stream on `device`; `args` points to the
// kernel's single by-value argument struct.
absl::Status Launch(OpKind op, DType dtype, int entry, Device device, LaunchShape shape,
                    void* args);

}  // namespace tapegrad::cuda

#endif  // TAPEGRAD_KERNELS_CUDA_COMPILER_H_
