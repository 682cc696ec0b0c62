#include "dist/internal/device_bytes.h"

#include <algorithm>
#include <cstring>

#include "core/internal/device_memory.h"

namespace tapegrad::dist::internal {

absl::Status CopyBytes(Device device, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  if (device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  DeviceMemory* memory = DeviceMemoryFor(device.type);
  if (memory == nullptr) return NoDeviceMemory(device);
  return memory->CopyOnDevice(device, dst, device, src, bytes);
}

absl::Status ZeroBytes(Device device, void* dst, size_t bytes) {
  if (device.is_cpu()) {
    std::memset(dst, 0, bytes);
    return absl::OkStatus();
  }
  DeviceMemory* memory = DeviceMemoryFor(device.type);
  if (memory == nullptr) return NoDeviceMemory(device);
  // From a block of host zeros: a parameter that got no gradient is rare.
  static const char zeros[64 << 10] = {};
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, sizeof(zeros));
    if (absl::Status s =
            memory->CopyFromHost(device, static_cast<char*>(dst) + done, zeros, n);
        !s.ok()) {
      return s;
    }
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace tapegrad::dist::internal
