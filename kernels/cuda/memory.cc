// The caching allocator behind core's DeviceMemory for CUDA devices.
//
// Why cache: cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, and a training step frees every tape tensor at its Rewind and asks
// for the same sizes again in the next step. Blocks freed here go to a free list
// keyed by (device, stream, rounded size); the next request for that size on that
// stream takes one back with no driver call. After the first step, a step makes no
// cudaMalloc at all (GetMemoryStats().driver_allocations stops growing).
//
// Why per stream: a freed block may still be read by work queued on the stream
// that used it. Reuse by the same stream is ordered after that work; another
// stream could overtake it, so blocks never change streams.
//
// Thread safety: one mutex around the lists (uncontended in the common case of
// one tape per thread); device calls are made outside it where possible.
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "core/internal/device_memory.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/status.h"

namespace tapegrad::cuda {
namespace {

// Sizes round up to 512 bytes below 1 MiB and to 2 MiB above, so that nearby
// sizes share blocks without wasting much.
size_t RoundSize(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20;
  if (bytes <= (size_t{1} << 20))
    return (std::max<size_t>(bytes, 1) + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

struct ListKey {
  int device;
  cudaStream_t stream;
  size_t size;
  template <typename H>
  friend H AbslHashValue(H h, const ListKey& k) {
    return H::combine(std::move(h), k.device, k.stream, k.size);
  }
  friend bool operator==(const ListKey& a, const ListKey& b) {
    return a.device == b.device && a.stream == b.stream && a.size == b.size;
  }
};

struct Block {
  ListKey key;
  bool in_use;
};

class CachingAllocator final : public DeviceMemory {
 public:
  absl::StatusOr<void*> Allocate(Device device, size_t bytes) override {
    absl::StatusOr<cudaStream_t> stream = Activate(device);
    if (!stream.ok()) return stream.status();
    const ListKey key{device.index, *stream, RoundSize(bytes)};
    {
      absl::MutexLock lock(&mu_);
      auto it = free_.find(key);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        blocks_[p].in_use = true;
        stats_.bytes_in_use += key.size;
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t error = cudaMalloc(&p, key.size);
    if (error == cudaErrorMemoryAllocation) {  // give the cache back and try again
      cudaGetLastError();
      if (absl::Status s = EmptyCache(); !s.ok()) return s;
      error = cudaMalloc(&p, key.size);
    }
    if (error != cudaSuccess) {
      cudaGetLastError();
      return CudaStatus(error, absl::StrFormat("%s: cudaMalloc of %d bytes",
                                               device.ToString(), key.size)
                                   .c_str());
    }
    absl::MutexLock lock(&mu_);
    blocks_[p] = Block{key, true};
    ++stats_.driver_allocations;
    stats_.bytes_reserved += key.size;
    stats_.bytes_in_use += key.size;
    return p;
  }

  void Free(Device device, void* data) override {
    absl::MutexLock lock(&mu_);
    auto it = blocks_.find(data);
    if (it == blocks_.end() || !it->second.in_use) return;  // not ours: ignore
    it->second.in_use = false;
    stats_.bytes_in_use -= it->second.key.size;
    free_[it->second.key].push_back(data);
  }

  absl::Status CopyToHost(void* host, Device device, const void* src,
                          size_t bytes) override {
    absl::StatusOr<cudaStream_t> stream = Activate(device);
    if (!stream.ok()) return stream.status();
    TG_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, *stream),
        "copy to host: cudaMemcpyAsync");
    return CudaStatus(cudaStreamSynchronize(*stream),
                      "copy to host: cudaStreamSynchronize");
  }

  absl::Status CopyFromHost(Device device, void* dst, const void* host,
                            size_t bytes) override {
    absl::StatusOr<cudaStream_t> stream = Activate(device);
    if (!stream.ok()) return stream.status();
    // From pageable memory this returns once `host` has been staged, so the
    // caller may reuse it at once.
    return CudaStatus(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, *stream),
                      "copy from host: cudaMemcpyAsync");
  }

  absl::Status CopyOnDevice(Device dst_device, void* dst, Device src_device,
                            const void* src, size_t bytes) override {
    absl::StatusOr<cudaStream_t> stream = Activate(dst_device);
    if (!stream.ok()) return stream.status();
    if (dst_device == src_device) {
      return CudaStatus(
          cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, *stream),
          "device copy: cudaMemcpyAsync");
    }
    // The source's own queued work must finish first: it is on another stream.
    if (absl::Status s = Synchronize(src_device); !s.ok()) return s;
    if (absl::Status s = Activate(dst_device).status(); !s.ok()) return s;
    return CudaStatus(
        cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, bytes, *stream),
        "device copy: cudaMemcpyPeerAsync");
  }

  MemoryStats Stats() {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  absl::Status EmptyCache() {
    std::vector<void*> idle;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [key, list] : free_) {
        for (void* p : list) {
          idle.push_back(p);
          stats_.bytes_reserved -= key.size;
          blocks_.erase(p);
        }
        list.clear();
      }
    }
    absl::Status status;
    for (void* p : idle) status.Update(CudaStatus(cudaFree(p), "cudaFree"));
    return status;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<ListKey, std::vector<void*>> free_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<void*, Block> blocks_ ABSL_GUARDED_BY(mu_);
  MemoryStats stats_ ABSL_GUARDED_BY(mu_);
};

CachingAllocator& Allocator() {
  static CachingAllocator* allocator = new CachingAllocator;  // never destroyed
  return *allocator;
}

const absl::Status installed = InstallDeviceMemory(DeviceType::kCuda, &Allocator());

}  // namespace

MemoryStats GetMemoryStats() { return Allocator().Stats(); }
absl::Status EmptyCache() { return Allocator().EmptyCache(); }

}  // namespace tapegrad::cuda
