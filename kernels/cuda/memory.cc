// The caching allocator behind core's DeviceMemory for CUDA devices.
//
// Why cache: cudaMalloc and cudaFree synchronise the device and cost tens of
// microseconds, and a training step frees every tape tensor at its Rewind and asks
// for the same sizes again in the next step. Blocks freed here go to a free list
// of their (device, stream), ordered by rounded size; the next request on that
// stream takes the smallest block that fits and is less than twice its size, with
// no driver call. After the first step, a step makes no cudaMalloc at all
// (GetMemoryStats().driver_allocations stops growing).
//
// Why per stream: a freed block may still be read by work queued on the stream
// that used it. Reuse by the same stream is ordered after that work; another
// stream could overtake it. A block is filed under the stream of the thread that
// frees it (that thread's queued work is what may still touch it). When that is
// not the stream it was filed under, the other stream's queued work must finish
// too: an event recorded there holds the block back until it has. A thread's
// stream dies with the thread after a synchronize, so its blocks then become
// idle: any stream may take them.
//
#include <cstdint>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "core/internal/device_memory.h"
#include "core/status_macros.h"
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
  cudaStream_t stream;  // nullptr: idle, no stream has work on it
  size_t size;
  template <typename H>
  friend H AbslHashValue(H h, const ListKey& k) {
    return H::combine(std::move(h), k.device, k.stream, k.size);
  }
  friend bool operator==(const ListKey& a, const ListKey& b) {
    return a.device == b.device && a.stream == b.stream && a.size == b.size;
  }
};

// The free blocks of one (device, stream), by size.
struct StreamKey {
  int device;
  cudaStream_t stream;
  template <typename H>
  friend H AbslHashValue(H h, const StreamKey& k) {
    return H::combine(std::move(h), k.device, k.stream);
  }
  friend bool operator==(const StreamKey& a, const StreamKey& b) {
    return a.device == b.device && a.stream == b.stream;
  }
};

struct Block {
  ListKey key;  // its size, and the stream whose work last touched it
  bool in_use;
};

// A block freed on another stream than its own, reusable by `key.stream` once
// `done` (recorded on its previous stream) has completed.
struct Pending {
  void* data;
  ListKey key;
  cudaEvent_t done;
};

class CachingAllocator final : public DeviceMemory {
 public:
  absl::StatusOr<void*> Allocate(Device device, size_t bytes) override {
    absl::StatusOr<cudaStream_t> stream = Activate(device);
    if (!stream.ok()) return stream.status();
    const ListKey key{device.index, *stream, RoundSize(bytes)};
    {
      absl::MutexLock lock(&mu_);
      if (void* p = TakeFree(key)) return p;
      if (!pending_.empty()) {
        ReapPending();
        if (void* p = TakeFree(key)) return p;
      }
      if (void* p = TakeFree(ListKey{key.device, nullptr, key.size})) {
        blocks_[p].key.stream = key.stream;
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
    // nullptr: this thread has queued no work on the device.
    const cudaStream_t freeing = ExistingStream(device.index);
    absl::MutexLock lock(&mu_);
    auto it = blocks_.find(data);
    if (it == blocks_.end() || !it->second.in_use) return;  // not ours: ignore
    Block& block = it->second;
    block.in_use = false;
    stats_.bytes_in_use -= block.key.size;
    const cudaStream_t previous = block.key.stream;
    if (freeing == nullptr || freeing == previous || previous == nullptr) {
      if (freeing != nullptr) block.key.stream = freeing;
      File(data, block.key);
      return;
    }
    block.key.stream = freeing;
    cudaEvent_t done = nullptr;
    if (RecordOn(device, previous, &done)) {
      pending_.push_back(Pending{data, block.key, done});
      return;
    }
    // No event to be had: wait for the previous stream here instead.
    cudaStreamSynchronize(previous);
    cudaGetLastError();
    File(data, block.key);
  }

  // The thread that owned `stream` has synchronised and destroyed it: its blocks
  // have no work queued and become idle.
  void RetireStream(int device, cudaStream_t stream) {
    absl::MutexLock lock(&mu_);
    for (auto& [data, block] : blocks_) {
      if (block.key.device == device && block.key.stream == stream) {
        block.key.stream = nullptr;
      }
    }
    for (Pending& p : pending_) {
      if (p.key.device == device && p.key.stream == stream) p.key.stream = nullptr;
    }
    auto retired = free_.find(StreamKey{device, stream});
    if (retired == free_.end()) return;
    auto& idle = free_[StreamKey{device, nullptr}];
    retired = free_.find(StreamKey{device, stream});  // the insertion may rehash
    idle.merge(retired->second);
    free_.erase(retired);
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
    if (dst_device == src_device) {
      absl::StatusOr<cudaStream_t> stream = Activate(dst_device);
      if (!stream.ok()) return stream.status();
      return CudaStatus(
          cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, *stream),
          "device copy: cudaMemcpyAsync");
    }
    // Between devices, on the destination's stream, ordered both ways without
    // blocking the host: after the work queued on the source's stream (which
    // wrote `src`), and before any later work there (which may reuse `src` once
    // the caller frees it).
    TG_ASSIGN_OR_RETURN(cudaStream_t src_stream, Activate(src_device));
    TG_ASSIGN_OR_RETURN(cudaEvent_t written, NewEvent(src_stream, "source written"));
    TG_ASSIGN_OR_RETURN(cudaStream_t dst_stream, Activate(dst_device));
    absl::Status status = CudaStatus(cudaStreamWaitEvent(dst_stream, written, 0),
                                     "device copy: cudaStreamWaitEvent");
    cudaEventDestroy(written);  // released once it completes
    if (status.ok()) {
      status = CudaStatus(cudaMemcpyPeerAsync(dst, dst_device.index, src,
                                              src_device.index, bytes, dst_stream),
                          "device copy: cudaMemcpyPeerAsync");
    }
    if (!status.ok()) return status;
    TG_ASSIGN_OR_RETURN(cudaEvent_t copied, NewEvent(dst_stream, "copy queued"));
    status = Activate(src_device).status();
    if (status.ok()) {
      status = CudaStatus(cudaStreamWaitEvent(src_stream, copied, 0),
                          "device copy: cudaStreamWaitEvent");
    }
    cudaEventDestroy(copied);
    return status;
  }

  MemoryStats Stats() {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  absl::Status EmptyCache() {
    std::vector<void*> idle;
    {
      absl::MutexLock lock(&mu_);
      ReapPending();
      for (auto& [key, by_size] : free_) {
        for (const auto& [size, p] : by_size) {
          idle.push_back(p);
          stats_.bytes_reserved -= size;
          blocks_.erase(p);
        }
      }
      free_.clear();
    }
    absl::Status status;
    for (void* p : idle) status.Update(CudaStatus(cudaFree(p), "cudaFree"));
    return status;
  }

 private:
  // The smallest free block of `key`'s device and stream that holds key.size
  // bytes and is less than twice that (blocks are never split: a small request
  // must not pin a large block), now in use; or null.
  void* TakeFree(const ListKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto list = free_.find(StreamKey{key.device, key.stream});
    if (list == free_.end()) return nullptr;
    auto fit = list->second.lower_bound(key.size);
    if (fit == list->second.end() || fit->first >= 2 * key.size) return nullptr;
    void* p = fit->second;
    list->second.erase(fit);
    Block& block = blocks_[p];
    block.in_use = true;
    block.key.stream = key.stream;
    stats_.bytes_in_use += block.key.size;
    return p;
  }

  void File(void* data, const ListKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    free_[StreamKey{key.device, key.stream}].emplace(key.size, data);
  }

  // Files the pending blocks whose previous stream has finished with them.
  void ReapPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t kept = 0;
    for (Pending& p : pending_) {
      const cudaError_t state = cudaEventQuery(p.done);
      if (state == cudaErrorNotReady) {
        pending_[kept++] = p;
        continue;
      }
      if (state != cudaSuccess) cudaGetLastError();  // an earlier kernel's error
      spare_events_[p.key.device].push_back(p.done);
      blocks_[p.data].key = p.key;
      File(p.data, p.key);
    }
    pending_.resize(kept);
  }

  // Records a spare (or new) event of `device` on `stream`, one of its streams.
  bool RecordOn(Device device, cudaStream_t stream, cudaEvent_t* event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!Activate(device).ok()) return false;
    std::vector<cudaEvent_t>& spare = spare_events_[device.index];
    if (!spare.empty()) {
      *event = spare.back();
      spare.pop_back();
    } else if (cudaEventCreateWithFlags(event, cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    if (cudaEventRecord(*event, stream) != cudaSuccess) {
      cudaGetLastError();
      spare.push_back(*event);
      return false;
    }
    return true;
  }

  // A new event recorded on `stream` (of the current device), for one ordering.
  static absl::StatusOr<cudaEvent_t> NewEvent(cudaStream_t stream, const char* what) {
    cudaEvent_t event = nullptr;
    TG_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&event, cudaEventDisableTiming),
                            "device copy: cudaEventCreate");
    if (absl::Status s =
            CudaStatus(cudaEventRecord(event, stream), "device copy: cudaEventRecord");
        !s.ok()) {
      cudaEventDestroy(event);
      return absl::Status(s.code(), absl::StrCat(s.message(), " (", what, ")"));
    }
    return event;
  }

  absl::Mutex mu_;
  absl::flat_hash_map<StreamKey, std::multimap<size_t, void*>> free_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<void*, Block> blocks_ ABSL_GUARDED_BY(mu_);
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<cudaEvent_t> spare_events_[kMaxDevices] ABSL_GUARDED_BY(mu_);
  MemoryStats stats_ ABSL_GUARDED_BY(mu_);
};

CachingAllocator& Allocator() {
  static CachingAllocator* allocator = new CachingAllocator;  // never destroyed
  return *allocator;
}

const absl::Status installed = InstallDeviceMemory(DeviceType::kCuda, &Allocator());

}  // namespace

void RetireStream(int device, cudaStream_t stream) {
  Allocator().RetireStream(device, stream);
}

MemoryStats GetMemoryStats() { return Allocator().Stats(); }
absl::Status EmptyCache() { return Allocator().EmptyCache(); }

}  // namespace tapegrad::cuda
