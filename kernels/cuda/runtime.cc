#include "kernels/cuda/runtime.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/status.h"

namespace tapegrad::cuda {
namespace {

struct Devices {
  int count = 0;
  std::string reason;  // why count is 0
  cudaDeviceProp props[kMaxDevices] = {};
};

const Devices& Discover() {
  static const Devices* devices = [] {
    auto* d = new Devices;
    const cudaError_t error = cudaGetDeviceCount(&d->count);
    if (error != cudaSuccess) {
      // cudaErrorInsufficientDriver (no driver), cudaErrorNoDevice, ...: no device.
      d->count = 0;
      d->reason = absl::StrFormat("no CUDA device (%s: %s)", cudaGetErrorName(error),
                                  cudaGetErrorString(error));
      cudaGetLastError();  // clear it
    } else if (d->count == 0) {
      d->reason = "no CUDA device";
    }
    d->count = std::min(d->count, kMaxDevices);
    for (int i = 0; i < d->count; ++i) cudaGetDeviceProperties(&d->props[i], i);
    return d;
  }();
  return *devices;
}

// This thread's streams, one per device; synchronised and destroyed at exit so
// that memory cached for them is idle.
struct ThreadStreams {
  cudaStream_t streams[kMaxDevices] = {};
  int current = -1;
  ~ThreadStreams() {
    for (int i = 0; i < kMaxDevices; ++i) {
      cudaStream_t stream = streams[i];
      if (stream == nullptr) continue;
      cudaSetDevice(i);
      cudaStreamSynchronize(stream);
      // Before the handle dies: no other thread then records on it.
      RetireStream(i, stream);
      streams[i] = nullptr;
      cudaStreamDestroy(stream);
    }
    current = -1;
  }
};
thread_local ThreadStreams thread_streams;

}  // namespace

bool IsBuilt() { return true; }
int DeviceCount() { return Discover().count; }
bool IsAvailable() { return DeviceCount() > 0; }
std::string UnavailableReason() { return Discover().reason; }

absl::Status CheckDevice(Device device) {
  const Devices& d = Discover();
  if (device.type == DeviceType::kCuda && device.index >= 0 && device.index < d.count) {
    return absl::OkStatus();
  }
  if (d.count == 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: %s", device.ToString(), d.reason));
  }
  return absl::FailedPreconditionError(absl::StrFormat(
      "%s: no such CUDA device (this machine has %d)", device.ToString(), d.count));
}

absl::StatusOr<cudaStream_t> Activate(Device device) {
  ThreadStreams& t = thread_streams;
  const int index = device.index;
  if (ABSL_PREDICT_TRUE(index == t.current && device.type == DeviceType::kCuda)) {
    return t.streams[index];
  }
  if (absl::Status s = CheckDevice(device); !s.ok()) return s;
  TG_CUDA_RETURN_IF_ERROR(cudaSetDevice(index), "cudaSetDevice");
  if (t.streams[index] == nullptr) {
    TG_CUDA_RETURN_IF_ERROR(
        cudaStreamCreateWithFlags(&t.streams[index], cudaStreamNonBlocking),
        "cudaStreamCreateWithFlags");
  }
  t.current = index;
  return t.streams[index];
}

cudaStream_t ExistingStream(int index) {
  if (index < 0 || index >= kMaxDevices) return nullptr;
  return thread_streams.streams[index];
}

int Arch(int index) {
  const cudaDeviceProp& p = Discover().props[index];
  return p.major * 10 + p.minor;
}

int Multiprocessors(int index) { return Discover().props[index].multiProcessorCount; }

absl::StatusOr<DeviceInfo> GetDeviceInfo(int index) {
  if (absl::Status s = CheckDevice(Device::Cuda(index)); !s.ok()) return s;
  const cudaDeviceProp& p = Discover().props[index];
  DeviceInfo info;
  info.name = p.name;
  info.arch = Arch(index);
  info.multiprocessors = p.multiProcessorCount;
  info.memory_bytes = static_cast<int64_t>(p.totalGlobalMem);
  return info;
}

absl::Status Synchronize(Device device) {
  absl::StatusOr<cudaStream_t> stream = Activate(device);
  if (!stream.ok()) return stream.status();
  return CudaStatus(cudaStreamSynchronize(*stream), "cudaStreamSynchronize");
}

}  // namespace tapegrad::cuda
