// The NCCL calls //dist makes, for the simulator: a communicator of processes on
// one machine that meet in a shared-memory segment. Collectives run as work on the
// stream they are given (a thread, streams.h), like NCCL's kernels, so the order
// between them and the kernels around them is the one a GPU would see.
//
// The segment holds a barrier and one slot per rank. A collective goes through
// the data in slot-sized pieces: each rank copies its piece into its slot, all
// meet, each combines the slots in rank order (so every rank computes the same
// bits), all meet again. A rank that never arrives leaves the others waiting, as
// NCCL's kernels would; ncclCommAbort releases this process's waiters with an
// error, which is how //dist ends a collective that timed out.
#include <fcntl.h>
#include <nccl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "kernels/cuda/sim/streams.h"

namespace tapegrad::cuda::sim {
namespace {

constexpr size_t kSlotBytes = size_t{1} << 20;

struct Segment {
  std::atomic<uint32_t> joined;   // ranks that have mapped the segment
  std::atomic<uint32_t> waiting;  // ranks at the barrier
  std::atomic<uint32_t> rounds;   // barriers passed
  // The slots follow, kSlotBytes each, 64-byte aligned.
};
constexpr size_t kSlotsOffset = 64;
static_assert(sizeof(Segment) <= kSlotsOffset);

// ncclComm_t points to a handle on one of these; work queued on streams keeps
// it alive after ncclCommDestroy or ncclCommAbort.
struct Communicator {
  int ranks = 0, rank = 0;
  Segment* segment = nullptr;
  size_t bytes = 0;
  std::atomic<bool> aborted{false};
  std::atomic<ncclResult_t> error{ncclSuccess};

  ~Communicator() {
    if (segment != nullptr) munmap(segment, bytes);
  }
  char* Slot(int r) const {
    return reinterpret_cast<char*>(segment) + kSlotsOffset + size_t(r) * kSlotBytes;
  }
  // Waits for every rank; false once the communicator is aborted.
  bool Barrier() {
    const uint32_t round = segment->rounds.load(std::memory_order_acquire);
    if (segment->waiting.fetch_add(1, std::memory_order_acq_rel) + 1 == uint32_t(ranks)) {
      segment->waiting.store(0, std::memory_order_relaxed);
      segment->rounds.fetch_add(1, std::memory_order_acq_rel);
      return true;
    }
    for (int spins = 0; segment->rounds.load(std::memory_order_acquire) == round;
         ++spins) {
      if (aborted.load(std::memory_order_relaxed)) {
        error.store(ncclSystemError);
        return false;
      }
      if (spins < 1000) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    return true;
  }
};

struct CommHandle {
  std::shared_ptr<Communicator> comm;
};

std::shared_ptr<Communicator> Of(ncclComm_t comm) {
  return reinterpret_cast<CommHandle*>(comm)->comm;
}

// Calls f with a value of the C++ type of `type`; false for a type it lacks.
template <class F>
bool WithType(ncclDataType_t type, const F& f) {
  switch (type) {
    case ncclFloat32:
      f(float{});
      break;
    case ncclFloat64:
      f(double{});
      break;
    case ncclInt64:
      f(int64_t{});
      break;
    case ncclUint64:
      f(uint64_t{});
      break;
    case ncclInt32:
      f(int32_t{});
      break;
    case ncclUint32:
      f(uint32_t{});
      break;
    case ncclInt8:
      f(int8_t{});
      break;
    case ncclUint8:
      f(uint8_t{});
      break;
    default:
      return false;
  }
  return true;
}

// Bytes per element of `type`; 0 for a type it lacks.
size_t TypeBytes(ncclDataType_t type) {
  size_t bytes = 0;
  WithType(type, [&](auto zero) { bytes = sizeof(zero); });
  return bytes;
}

// out[i] = op over the ranks' slots of element i, combined in rank order.
void Combine(void* out, ncclDataType_t type, const Communicator& c, size_t n,
             ncclRedOp_t op) {
  WithType(type, [&](auto zero) {
    using T = decltype(zero);
    const auto slot = [&](int r) { return reinterpret_cast<const T*>(c.Slot(r)); };
    for (size_t i = 0; i < n; ++i) {
      T acc = slot(0)[i];
      for (int r = 1; r < c.ranks; ++r) {
        const T x = slot(r)[i];
        switch (op) {
          case ncclMax:
            acc = std::max(acc, x);
            break;
          case ncclMin:
            acc = std::min(acc, x);
            break;
          case ncclProd:
            acc *= x;
            break;
          default:
            acc += x;
        }
      }
      if (op == ncclAvg) acc /= T(c.ranks);
      static_cast<T*>(out)[i] = acc;
    }
  });
}

// Runs `work` on `stream` (the caller, for the legacy default stream).
template <class Work>
void Enqueue(cudaStream_t stream, Work work) {
  if (stream == nullptr) {
    work();
  } else {
    reinterpret_cast<Stream*>(stream)->Enqueue(std::move(work));
  }
}

}  // namespace
}  // namespace tapegrad::cuda::sim

namespace sim = tapegrad::cuda::sim;

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclSystemError:
      return "unhandled system error (simulated NCCL: communicator aborted)";
    case ncclInvalidArgument:
      return "invalid argument";
    case ncclInvalidUsage:
      return "invalid usage";
    default:
      return "simulated NCCL error";
  }
}

const char* ncclGetLastError(ncclComm_t) { return ""; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id->internal, 0, sizeof id->internal);
  std::random_device random;
  std::snprintf(id->internal, sizeof id->internal, "/tapegrad-ncclsim-%d-%08x%08x",
                static_cast<int>(getpid()), random(), random());
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* out, int nranks, ncclUniqueId id, int rank) {
  if (nranks < 1 || rank < 0 || rank >= nranks || id.internal[0] != '/') {
    return ncclInvalidArgument;
  }
  auto comm = std::make_shared<sim::Communicator>();
  comm->ranks = nranks;
  comm->rank = rank;
  comm->bytes = sim::kSlotsOffset + size_t(nranks) * sim::kSlotBytes;
  const std::string name(id.internal, strnlen(id.internal, sizeof id.internal));
  const int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) return ncclSystemError;
  // Every rank sizes it alike; the new bytes read as zero.
  void* mapped =
      ftruncate(fd, static_cast<off_t>(comm->bytes)) == 0
          ? mmap(nullptr, comm->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
          : MAP_FAILED;
  close(fd);
  if (mapped == MAP_FAILED) return ncclSystemError;
  comm->segment = static_cast<sim::Segment*>(mapped);
  // Meet the others, as NCCL's init does; then the name is no longer needed.
  comm->segment->joined.fetch_add(1, std::memory_order_acq_rel);
  while (comm->segment->joined.load(std::memory_order_acquire) < uint32_t(nranks)) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (rank == 0) shm_unlink(name.c_str());
  *out = reinterpret_cast<ncclComm_t>(new sim::CommHandle{std::move(comm)});
  return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  *count = sim::Of(comm)->ranks;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  *rank = sim::Of(comm)->rank;
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* error) {
  *error = sim::Of(comm)->error.load();
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  delete reinterpret_cast<sim::CommHandle*>(comm);
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  sim::Of(comm)->aborted.store(true);
  delete reinterpret_cast<sim::CommHandle*>(comm);
  return ncclSuccess;
}

ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count,
                           ncclDataType_t type, ncclRedOp_t op, ncclComm_t handle,
                           cudaStream_t stream) {
  const size_t element = sim::TypeBytes(type);
  if (element == 0 || op < ncclSum || op > ncclAvg) return ncclInvalidArgument;
  std::shared_ptr<sim::Communicator> comm = sim::Of(handle);
  sim::Enqueue(stream, [=] {
    const size_t piece = sim::kSlotBytes / element;
    for (size_t begin = 0; begin < count; begin += piece) {
      const size_t n = std::min(piece, count - begin);
      std::memcpy(comm->Slot(comm->rank),
                  static_cast<const char*>(send) + begin * element, n * element);
      if (!comm->Barrier()) return;
      sim::Combine(static_cast<char*>(recv) + begin * element, type, *comm, n, op);
      if (!comm->Barrier()) return;
    }
  });
  return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count,
                           ncclDataType_t type, int root, ncclComm_t handle,
                           cudaStream_t stream) {
  const size_t element = sim::TypeBytes(type);
  std::shared_ptr<sim::Communicator> comm = sim::Of(handle);
  if (element == 0 || root < 0 || root >= comm->ranks) return ncclInvalidArgument;
  sim::Enqueue(stream, [=] {
    const size_t piece = sim::kSlotBytes / element;
    for (size_t begin = 0; begin < count; begin += piece) {
      const size_t bytes = std::min(piece, count - begin) * element;
      const size_t at = begin * element;
      if (comm->rank == root) {
        std::memcpy(comm->Slot(root), static_cast<const char*>(send) + at, bytes);
      }
      if (!comm->Barrier()) return;
      std::memmove(static_cast<char*>(recv) + at, comm->Slot(root), bytes);
      if (!comm->Barrier()) return;
    }
  });
  return ncclSuccess;
}

}  // extern "C"
