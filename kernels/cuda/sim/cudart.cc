// The CUDA runtime calls the backend makes, for the simulator: devices that
// answer, device memory in host memory, streams that run their work in order
// on a thread each (so that work on two streams overlaps as on a GPU and
// missing orderings between them show), events, and kernels from the modules
// compiled into the simulator (module_registry.h).
//
// Device memory is filled with 0xff bytes (a NaN in every float type) when it
// is allocated, so that reading what no kernel wrote shows.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "kernels/cuda/sim/block_scheduler.h"
#include "kernels/cuda/sim/cubin.h"
#include "kernels/cuda/sim/module_registry.h"
#include "kernels/cuda/sim/streams.h"

namespace tapegrad::cuda::sim {
namespace {

constexpr int kDefaultDevices = 2;
constexpr int kMultiprocessors = 2;

int DeviceCount() {
  static const int count = [] {
    const char* env = std::getenv("TAPEGRAD_CUDASIM_DEVICES");
    return env != nullptr && *env != '\0' ? std::atoi(env) : kDefaultDevices;
  }();
  return count;
}

thread_local int current_device = 0;
thread_local cudaError_t last_error = cudaSuccess;

cudaError_t Fail(cudaError_t error) {
  last_error = error;
  return error;
}

struct Event {
  std::mutex mu;
  std::condition_variable changed;
  uint64_t recorded = 0, completed = 0;
};

// cudaEvent_t points to one of these: a destroyed event's operations still
// queued keep the Event alive.
struct EventHandle {
  std::shared_ptr<Event> event = std::make_shared<Event>();
};

}  // namespace
}  // namespace tapegrad::cuda::sim

namespace sim = tapegrad::cuda::sim;
using sim::DeviceCount;
using sim::Fail;
using sim::Stream;

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = DeviceCount();
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device < 0 || device >= DeviceCount()) return Fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "tapegrad CUDA simulator %d", device);
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = sim::kMultiprocessors;
  prop->totalGlobalMem = size_t{8} << 30;
  prop->sharedMemPerBlock = 48 << 10;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= DeviceCount()) return Fail(cudaErrorInvalidDevice);
  sim::current_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = sim::last_error;
  sim::last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorInvalidKernelImage:
      return "cudaErrorInvalidKernelImage";
    case cudaErrorSymbolNotFound:
      return "cudaErrorSymbolNotFound";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorMemoryAllocation:
      return "out of memory (simulated device)";
    case cudaErrorInvalidKernelImage:
      return "the CUDA simulator has no such kernel module";
    default:
      return cudaGetErrorName(error);
  }
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  const size_t rounded = (std::max<size_t>(size, 1) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded);
  if (p == nullptr) return Fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, rounded);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  *stream = reinterpret_cast<cudaStream_t>(new Stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<Stream*>(stream);  // runs what is queued first
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream == nullptr) return cudaDeviceSynchronize();
  reinterpret_cast<Stream*>(stream)->Drain();
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  Stream::DrainAll();
  return cudaSuccess;
}

// Work on the legacy default stream (stream 0) runs at once on the caller.
static void Enqueue(cudaStream_t stream, std::function<void()> work) {
  if (stream == nullptr) {
    work();
  } else {
    reinterpret_cast<Stream*>(stream)->Enqueue(std::move(work));
  }
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (kind == cudaMemcpyHostToDevice) {
    // Pageable host memory is staged before the call returns, as on a GPU.
    auto staged = std::make_shared<std::vector<char>>(
        static_cast<const char*>(src), static_cast<const char*>(src) + count);
    Enqueue(stream, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); });
  } else {
    Enqueue(stream, [dst, src, count] { std::memcpy(dst, src, count); });
  }
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, count, kind, nullptr);
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src,
                                int src_device, size_t count, cudaStream_t stream) {
  if (dst_device < 0 || dst_device >= DeviceCount() || src_device < 0 ||
      src_device >= DeviceCount()) {
    return Fail(cudaErrorInvalidDevice);
  }
  return cudaMemcpyAsync(dst, src, count, cudaMemcpyDeviceToDevice, stream);
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t stream) {
  Enqueue(stream, [dst, value, count] { std::memset(dst, value, count); });
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  *event = reinterpret_cast<cudaEvent_t>(new sim::EventHandle);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<sim::EventHandle*>(event);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t handle, cudaStream_t stream) {
  std::shared_ptr<sim::Event> event = reinterpret_cast<sim::EventHandle*>(handle)->event;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(event->mu);
    generation = ++event->recorded;
  }
  Enqueue(stream, [event, generation] {
    std::lock_guard<std::mutex> lock(event->mu);
    event->completed = std::max(event->completed, generation);
    event->changed.notify_all();
  });
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t handle) {
  auto& event = *reinterpret_cast<sim::EventHandle*>(handle)->event;
  std::lock_guard<std::mutex> lock(event.mu);
  return event.completed >= event.recorded ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t handle,
                                unsigned int flags) {
  std::shared_ptr<sim::Event> event = reinterpret_cast<sim::EventHandle*>(handle)->event;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(event->mu);
    generation = event->recorded;
  }
  Enqueue(stream, [event, generation] {
    std::unique_lock<std::mutex> lock(event->mu);
    event->changed.wait(lock, [&] { return event->completed >= generation; });
  });
  return cudaSuccess;
}

cudaError_t cudaLibraryLoadData(cudaLibrary_t* library, const void* code,
                                cudaJitOption* jit_options, void** jit_option_values,
                                unsigned int num_jit_options,
                                cudaLibraryOption* library_options,
                                void** library_option_values,
                                unsigned int num_library_options) {
  const sim::Module* module = sim::ModuleOfCubin(static_cast<const char*>(code));
  if (module == nullptr) return Fail(cudaErrorInvalidKernelImage);
  *library = reinterpret_cast<cudaLibrary_t>(const_cast<sim::Module*>(module));
  return cudaSuccess;
}

cudaError_t cudaLibraryGetKernel(cudaKernel_t* kernel, cudaLibrary_t library,
                                 const char* name) {
  const auto* module = reinterpret_cast<const sim::Module*>(library);
  const sim::Entry* entry = module->Find(name);
  if (entry == nullptr) return Fail(cudaErrorSymbolNotFound);
  *kernel = reinterpret_cast<cudaKernel_t>(const_cast<sim::Entry*>(entry));
  return cudaSuccess;
}

cudaError_t cudaLaunchKernel(const void* func, dim3 grid, dim3 block, void** args,
                             size_t shared_bytes, cudaStream_t stream) {
  const auto* entry = static_cast<const sim::Entry*>(func);
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > 1024 ||
      grid.y > 65535 || grid.z > 65535 || shared_bytes > (48 << 10)) {
    return Fail(cudaErrorInvalidConfiguration);
  }
  sim::NoteLaunch(*entry);
  // Arguments are copied at launch, as the driver does.
  auto copy = std::make_shared<std::vector<char>>(
      static_cast<const char*>(args[0]),
      static_cast<const char*>(args[0]) + entry->arg_size);
  const sim::Dim g{grid.x, grid.y, grid.z}, b{block.x, block.y, block.z};
  Enqueue(stream, [entry, g, b, copy] { sim::RunGrid(*entry, g, b, copy->data()); });
  return cudaSuccess;
}

}  // extern "C"
