// Memory on devices other than the host: the hook through which core allocates,
// frees and copies device buffers without knowing any device API.
//
//   // A backend (kernels/cuda) installs itself at static-initialisation time:
//   static CudaMemory memory;
//   absl::Status s = tapegrad::InstallDeviceMemory(tapegrad::DeviceType::kCuda, &memory);
//
//   // Core asks for it by device type; null means "not built into this binary":
//   tapegrad::DeviceMemory* m = tapegrad::DeviceMemoryFor(tapegrad::DeviceType::kCuda);
//
// Core uses it for heap tensors on a device (Storage::NewHeap), for the data of
// tape tensors on a device (taken at record time, returned by the Rewind that
// drops the record, so a backend with a caching allocator makes a steady-state
// step free of driver allocations), for element reads on the host and for
// Tensor::To. The CPU has no DeviceMemory: host memory is core's own.
//
// Thread safety: Install is for static initialisation; lookups are lock-free.
// Implementations must be safe to call from any thread.
#ifndef TAPEGRAD_CORE_INTERNAL_DEVICE_MEMORY_H_
#define TAPEGRAD_CORE_INTERNAL_DEVICE_MEMORY_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/device.h"

namespace tapegrad {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;

  // `bytes` of uninitialised memory on `device`, aligned for any dtype. Errors:
  // no such device, out of memory (ResourceExhausted), with the device named.
  virtual absl::StatusOr<void*> Allocate(Device device, size_t bytes) = 0;
  // Gives back memory from Allocate. Work already queued by this thread that
  // reads or writes it still completes first (it may be reused only after).
  virtual void Free(Device device, void* data) = 0;
  // Copies `bytes` between host memory and `device` or within `device`. A copy to
  // the host has completed (with all work queued before it) when this returns.
  virtual absl::Status CopyToHost(void* host, Device device, const void* src,
                                  size_t bytes) = 0;
  virtual absl::Status CopyFromHost(Device device, void* dst, const void* host,
                                    size_t bytes) = 0;
  virtual absl::Status CopyOnDevice(Device dst_device, void* dst, Device src_device,
                                    const void* src, size_t bytes) = 0;
};

// Makes `memory` the allocator of `type` (not kCpu); AlreadyExists if one is.
absl::Status InstallDeviceMemory(DeviceType type, DeviceMemory* memory);
// The allocator of `type`, or null (always null for the CPU).
DeviceMemory* DeviceMemoryFor(DeviceType type);
// Unimplemented: "`device`: no memory for this device in this build ...".
absl::Status NoDeviceMemory(Device device);

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_DEVICE_MEMORY_H_
