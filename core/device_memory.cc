#include "core/internal/device_memory.h"

#include <atomic>

#include "absl/strings/str_format.h"

namespace tapegrad {
namespace {
std::atomic<DeviceMemory*> installed[kNumDeviceTypes];
}  // namespace

absl::Status InstallDeviceMemory(DeviceType type, DeviceMemory* memory) {
  if (type == DeviceType::kCpu) {
    return absl::InvalidArgumentError("the cpu's memory is core's own");
  }
  DeviceMemory* expected = nullptr;
  if (!installed[static_cast<int>(type)].compare_exchange_strong(
          expected, memory, std::memory_order_acq_rel)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("memory for %s is installed already", DeviceTypeName(type)));
  }
  return absl::OkStatus();
}

DeviceMemory* DeviceMemoryFor(DeviceType type) {
  return installed[static_cast<int>(type)].load(std::memory_order_acquire);
}

absl::Status NoDeviceMemory(Device device) {
  return absl::UnimplementedError(absl::StrFormat(
      "%s: no memory for this device in this build (build with --config=cuda for "
      "the CUDA backend)",
      device.ToString()));
}

}  // namespace tapegrad
