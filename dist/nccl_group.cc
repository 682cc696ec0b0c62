// The NCCL process group (ProcessGroup::Nccl), in builds with the CUDA backend:
// collectives on tensors on one GPU per rank, queued on the calling thread's
// stream on that GPU (so after the ops that produced their data and before the
// ops that read it), each waited for on the host within the group's timeout.
//
// Note [NCCL timeouts]: NCCL's collectives run as kernels that wait for the other
// ranks for as long as it takes. The group records an event after each and polls
// it (and the communicator's asynchronous error) until the deadline; past it, it
// aborts the communicator, which ends those kernels, and refuses later calls, as
// the MPI group does.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dist/process_group.h"
#include "kernels/cuda/interop.h"

namespace tapegrad::dist {
namespace {

ncclDataType_t NcclType(DType dtype) {
  return dtype == DType::kF32 ? ncclFloat32 : ncclFloat64;
}

ncclRedOp_t NcclOp(Reduce op) { return op == Reduce::kMean ? ncclAvg : ncclSum; }

}  // namespace

class NcclGroup final : public ProcessGroup {
 public:
  NcclGroup(ncclComm_t comm, int rank, int size, Device device,
            ProcessGroupOptions options, uint64_t* scratch, cudaEvent_t done)
      : ProcessGroup(rank, size, device, options),
        comm_(comm),
        scratch_(scratch),
        done_(done) {}
  ~NcclGroup() override;

  const char* backend() const override { return "nccl"; }
  absl::StatusOr<bool> AllAgree(uint64_t value, absl::string_view what) override;
  absl::Status Barrier() override;

 protected:
  absl::Status AllReduceBuffer(Buffer data, Reduce op, const Operation& what) override;
  absl::Status BroadcastBuffer(Buffer data, int root, const Operation& what) override;
  std::unique_ptr<Pending> NewPending() override;
  absl::Status StartAllReduce(Buffer data, Reduce op, Pending& pending,
                              const Operation& what) override;
  absl::Status Finish(Pending& pending) override;

 private:
  struct NcclPending : Pending {
    ~NcclPending() override {
      if (event != nullptr) cudaEventDestroy(event);
    }
    cudaEvent_t event = nullptr;
    bool started = false;
    Operation what{"allreduce"};
  };

  // This thread's stream on the group's GPU, once the group is known usable.
  absl::StatusOr<cudaStream_t> Stream(const Operation& what);
  absl::Status Check(ncclResult_t result, const Operation& what) const;
  // Queues an in-place allreduce of `data` on `stream`.
  ncclResult_t QueueAllReduce(Buffer data, Reduce op, cudaStream_t stream);
  // Queues `collective` (which takes the stream) and an event after it, then
  // waits for the event.
  template <class Collective>
  absl::Status Run(const Operation& what, const Collective& collective);
  // Waits for `event` within the timeout (Note [NCCL timeouts]).
  absl::Status Wait(cudaEvent_t event, const Operation& what);

  ncclComm_t comm_;
  uint64_t* scratch_;  // two words on the GPU, for AllAgree and Barrier
  cudaEvent_t done_;   // recorded after each blocking collective
  uint64_t host_[2] = {};
  bool aborted_ = false;
  std::string abandoned_what_;  // the collective that timed out
};

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Nccl(
    ProcessGroup& bootstrap, Device device, ProcessGroupOptions options) {
  if (!bootstrap.device().is_cpu()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dist: a NCCL group is set up over an MPI group; got a ",
                     bootstrap.backend(), " group"));
  }
  if (device.type != DeviceType::kCuda) {
    return absl::InvalidArgumentError(
        absl::StrCat("dist: a NCCL group exchanges tensors on a CUDA device; got ",
                     device.ToString()));
  }
  // Makes the device this thread's current one, as ncclCommInitRank needs.
  absl::StatusOr<cudaStream_t> stream = cuda::CurrentStream(device);
  if (!stream.ok()) return stream.status();
  // Rank 0's unique id goes to the others over the bootstrap group, a byte per
  // element (exact in f64), after a word that says whether rank 0 made one.
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  const ncclResult_t made = bootstrap.rank() == 0 ? ncclGetUniqueId(&id) : ncclSuccess;
  std::vector<double> packed(1 + sizeof id.internal);
  packed[0] = made == ncclSuccess ? 1.0 : 0.0;
  for (size_t i = 0; i < sizeof id.internal; ++i) {
    packed[1 + i] = static_cast<unsigned char>(id.internal[i]);
  }
  Tensor message = Tensor::Zeros({static_cast<int64_t>(packed.size())}, DType::kF64);
  if (absl::Status s = message.CopyFrom(packed); !s.ok()) return s;
  if (absl::Status s = bootstrap.Broadcast(message, 0); !s.ok()) return s;
  packed = message.ToVector();
  if (packed[0] != 1.0) {
    return absl::UnavailableError(
        "dist: NCCL: rank 0 could not make a communicator id (ncclGetUniqueId)");
  }
  for (size_t i = 0; i < sizeof id.internal; ++i) {
    id.internal[i] = static_cast<char>(static_cast<unsigned char>(packed[1 + i]));
  }
  ncclComm_t comm = nullptr;
  const ncclResult_t init =
      ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank());
  if (init != ncclSuccess) {
    return absl::UnavailableError(absl::StrFormat(
        "dist: NCCL: ncclCommInitRank on rank %d of %d, %s: %s", bootstrap.rank(),
        bootstrap.size(), device.ToString(), ncclGetErrorString(init)));
  }
  void* scratch = nullptr;
  cudaEvent_t done = nullptr;
  const cudaError_t e1 = cudaMalloc(&scratch, 2 * sizeof(uint64_t));
  const cudaError_t e2 = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
  if (e1 != cudaSuccess || e2 != cudaSuccess) {
    if (scratch != nullptr) cudaFree(scratch);
    if (done != nullptr) cudaEventDestroy(done);
    ncclCommDestroy(comm);
    return absl::ResourceExhaustedError(
        absl::StrCat("dist: NCCL: no memory or event on ", device.ToString(), ": ",
                     cudaGetErrorName(e1 != cudaSuccess ? e1 : e2)));
  }
  return std::unique_ptr<ProcessGroup>(
      new NcclGroup(comm, bootstrap.rank(), bootstrap.size(), device, options,
                    static_cast<uint64_t*>(scratch), done));
}

NcclGroup::~NcclGroup() {
  // A communicator that timed out was aborted, and its memory may still be the
  // target of its kernels: both stay as they are.
  if (aborted_) return;
  ncclCommDestroy(comm_);
  cudaFree(scratch_);
  cudaEventDestroy(done_);
}

absl::Status NcclGroup::Check(ncclResult_t result, const Operation& what) const {
  if (result == ncclSuccess) return absl::OkStatus();
  return Fail(absl::StatusCode::kInternal, what,
              absl::StrCat("NCCL: ", ncclGetErrorString(result)));
}

absl::StatusOr<cudaStream_t> NcclGroup::Stream(const Operation& what) {
  if (aborted_) {
    return Fail(absl::StatusCode::kFailedPrecondition, what,
                "an earlier " + abandoned_what_ + " timed out; the group is unusable");
  }
  return cuda::CurrentStream(device());
}

absl::Status NcclGroup::Wait(cudaEvent_t event, const Operation& what) {
  const auto deadline = std::chrono::steady_clock::now() + options().timeout;
  for (int polls = 0;; ++polls) {
    const cudaError_t state = cudaEventQuery(event);
    if (state == cudaSuccess) return absl::OkStatus();
    if (state != cudaErrorNotReady) {
      return Fail(absl::StatusCode::kInternal, what,
                  absl::StrCat("CUDA: ", cudaGetErrorName(state)));
    }
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async != ncclSuccess && async != ncclInProgress) return Check(async, what);
    if (std::chrono::steady_clock::now() > deadline) {
      ncclCommAbort(comm_);
      aborted_ = true;
      abandoned_what_ = what.Name();
      return TimedOut(what);
    }
    if (polls < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
}

template <class Collective>
absl::Status NcclGroup::Run(const Operation& what, const Collective& collective) {
  absl::StatusOr<cudaStream_t> stream = Stream(what);
  if (!stream.ok()) return stream.status();
  if (absl::Status s = Check(collective(*stream), what); !s.ok()) return s;
  const cudaError_t recorded = cudaEventRecord(done_, *stream);
  if (recorded != cudaSuccess) {
    return Fail(absl::StatusCode::kInternal, what,
                absl::StrCat("CUDA: ", cudaGetErrorName(recorded)));
  }
  return Wait(done_, what);
}

ncclResult_t NcclGroup::QueueAllReduce(Buffer data, Reduce op, cudaStream_t stream) {
  return ncclAllReduce(data.data, data.data, static_cast<size_t>(data.count),
                       NcclType(data.dtype), NcclOp(op), comm_, stream);
}

absl::Status NcclGroup::AllReduceBuffer(Buffer data, Reduce op, const Operation& what) {
  return Run(what, [&](cudaStream_t stream) { return QueueAllReduce(data, op, stream); });
}

absl::Status NcclGroup::BroadcastBuffer(Buffer data, int root, const Operation& what) {
  return Run(what, [&](cudaStream_t stream) {
    return ncclBroadcast(data.data, data.data, static_cast<size_t>(data.count),
                         NcclType(data.dtype), root, comm_, stream);
  });
}

std::unique_ptr<ProcessGroup::Pending> NcclGroup::NewPending() {
  auto pending = std::make_unique<NcclPending>();
  cudaEventCreateWithFlags(&pending->event, cudaEventDisableTiming);
  return pending;
}

absl::Status NcclGroup::StartAllReduce(Buffer data, Reduce op, Pending& pending,
                                       const Operation& what) {
  auto& p = static_cast<NcclPending&>(pending);
  if (p.event == nullptr) {
    return Fail(absl::StatusCode::kResourceExhausted, what, "no CUDA event for it");
  }
  absl::StatusOr<cudaStream_t> stream = Stream(what);
  if (!stream.ok()) return stream.status();
  if (absl::Status s = Check(QueueAllReduce(data, op, *stream), what); !s.ok()) {
    return s;
  }
  cudaEventRecord(p.event, *stream);
  p.started = true;
  p.what = what;
  return absl::OkStatus();
}

absl::Status NcclGroup::Finish(Pending& pending) {
  auto& p = static_cast<NcclPending&>(pending);
  if (!p.started) return absl::OkStatus();
  p.started = false;
  return Wait(p.event, p.what);
}

absl::StatusOr<bool> NcclGroup::AllAgree(uint64_t value, absl::string_view label) {
  const Operation what{"agreement", nullptr, label};
  host_[0] = value;
  host_[1] = ~value;  // the max of value and of its complement
  absl::Status s = Run(what, [&](cudaStream_t stream) {
    if (cudaMemcpyAsync(scratch_, host_, sizeof host_, cudaMemcpyHostToDevice, stream) !=
        cudaSuccess) {
      return ncclUnhandledCudaError;
    }
    const ncclResult_t r =
        ncclAllReduce(scratch_, scratch_, 2, ncclUint64, ncclMax, comm_, stream);
    if (r == ncclSuccess &&
        cudaMemcpyAsync(host_, scratch_, sizeof host_, cudaMemcpyDeviceToHost, stream) !=
            cudaSuccess) {
      return ncclUnhandledCudaError;
    }
    return r;
  });
  if (!s.ok()) return s;
  return host_[0] == value && ~host_[1] == value;  // max == min == value
}

absl::Status NcclGroup::Barrier() {
  return Run(Operation{"barrier"}, [&](cudaStream_t stream) {
    return ncclAllReduce(scratch_, scratch_, 1, ncclUint64, ncclMax, comm_, stream);
  });
}

}  // namespace tapegrad::dist
