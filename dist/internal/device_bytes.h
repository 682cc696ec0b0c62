// Byte copies and zero fills on a tensor's device, for DataParallel's buckets:
// plain memcpy and memset on the CPU, the device's DeviceMemory elsewhere (queued
// on the calling thread's stream, so in order with its ops). Internal to //dist.
//
// Thread safety: any thread; the work is ordered with the caller's own.
#ifndef TAPEGRAD_DIST_INTERNAL_DEVICE_BYTES_H_
#define TAPEGRAD_DIST_INTERNAL_DEVICE_BYTES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "core/device.h"

namespace tapegrad::dist::internal {

// Copies `bytes` from `src` to `dst`, both on `device`.
absl::Status CopyBytes(Device device, void* dst, const void* src, size_t bytes);
// Writes `bytes` zero bytes at `dst` on `device`.
absl::Status ZeroBytes(Device device, void* dst, size_t bytes);

}  // namespace tapegrad::dist::internal

#endif  // TAPEGRAD_DIST_INTERNAL_DEVICE_BYTES_H_
