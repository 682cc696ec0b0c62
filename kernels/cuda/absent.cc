// kernels/cuda/cuda.h in a build without --config=cuda: no backend, no devices.
#include "kernels/cuda/cuda.h"

namespace tapegrad::cuda {
namespace {
absl::Status NotBuilt() {
  return absl::UnimplementedError(
      "the CUDA backend is not built (build with --config=cuda)");
}
}  // namespace

bool IsBuilt() { return false; }
bool IsAvailable() { return false; }
int DeviceCount() { return 0; }
std::string UnavailableReason() {
  return "the CUDA backend is not built (--config=cuda)";
}
absl::StatusOr<DeviceInfo> GetDeviceInfo(int) { return NotBuilt(); }
absl::Status Synchronize(Device) { return NotBuilt(); }
MemoryStats GetMemoryStats() { return {}; }
absl::Status EmptyCache() { return absl::OkStatus(); }

}  // namespace tapegrad::cuda
