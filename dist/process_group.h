// ProcessGroup: the processes of one training job and the collectives between
// them: over MPI for tensors on the CPU (Debian's Open MPI; start the job with
// mpirun), over NCCL for tensors on a GPU (builds with --config=cuda).
//
//   absl::StatusOr<std::unique_ptr<tapegrad::dist::ProcessGroup>> group =
//       tapegrad::dist::ProcessGroup::Mpi();
//   if (!group.ok()) return group.status();
//   TG_RETURN_IF_ERROR((*group)->AllReduce(grad, tapegrad::dist::Reduce::kMean));
//
//   // GPU training: one GPU per rank, NCCL's communicator set up over MPI.
//   auto gpus = tapegrad::dist::ProcessGroup::Nccl(**group, Device::Cuda(local_rank));
//
// Collectives work in place on contiguous tensors of f32 or f64 on the group's
// device() (the CPU for MPI, the group's GPU for NCCL), or, for MPI, on spans of
// host memory. Every rank must make the same collectives in the same order. Each
// waits at most options.timeout: past it, the call returns DeadlineExceeded naming
// the collective, the operand and the ranks, and the group refuses every later
// call (an MPI collective cannot be cancelled; a NCCL communicator is aborted).
// A rank that died, hung or took another path therefore makes the others fail
// with a clear error instead of hanging.
//
// MPI is initialised by the first MPI group (MPI_THREAD_SERIALIZED) and finalised
// at exit. Each MPI group works on a duplicate of MPI_COMM_WORLD, so groups never
// see each other's messages. A NCCL group queues its collectives on the calling
// thread's stream on its GPU, after the ops that thread queued there, and waits
// for them before it returns.
//
// Thread safety: one thread at a time per group; groups may be used from
// different threads, one call at a time.
#ifndef TAPEGRAD_DIST_PROCESS_GROUP_H_
#define TAPEGRAD_DIST_PROCESS_GROUP_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace tapegrad::dist {

class DataParallel;

struct ProcessGroupOptions {
  // How long one collective may wait for the other ranks.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
};

enum class Reduce { kSum, kMean };

class ProcessGroup {
 public:
  // The job's processes (MPI_COMM_WORLD), initialising MPI on first use. Outside
  // mpirun this is a group of one.
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Mpi(
      ProcessGroupOptions options = {});
  // The same ranks as `bootstrap` (an MPI group, which carries NCCL's set-up),
  // exchanging tensors on `device`, this rank's GPU, through NCCL. Needs a build
  // with --config=cuda (FailedPrecondition otherwise) and a device that exists.
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Nccl(
      ProcessGroup& bootstrap, Device device, ProcessGroupOptions options = {});
  virtual ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Where the group's tensors live: the CPU (MPI) or its GPU (NCCL).
  Device device() const { return device_; }
  // "mpi" or "nccl".
  virtual const char* backend() const = 0;

  // Copies root's values of `t` into every rank's `t` (same shape and dtype).
  absl::Status Broadcast(Tensor& t, int root);
  // Replaces `t` on every rank by the sum (or mean) over ranks.
  absl::Status AllReduce(Tensor& t, Reduce op);
  // The same for host memory (an MPI group's; other groups refuse). `what` names
  // the data in errors.
  absl::Status AllReduce(absl::Span<float> data, Reduce op, absl::string_view what);
  absl::Status AllReduce(absl::Span<double> data, Reduce op, absl::string_view what);
  // Whether every rank passed the same value (a model's fingerprint, say).
  virtual absl::StatusOr<bool> AllAgree(uint64_t value, absl::string_view what) = 0;
  virtual absl::Status Barrier() = 0;

 protected:
  ProcessGroup(int rank, int size, Device device, ProcessGroupOptions options);

  // What a collective works on, for messages: formatted only when one is needed,
  // so that a step's collectives allocate nothing.
  struct Operation {
    const char* collective;          // "allreduce"
    const Tensor* tensor = nullptr;  // its operand, or
    absl::string_view label = {};    // a description of it
    std::string Name() const;
  };
  // `count` elements of `dtype` (f32 or f64) at `data`, on device().
  struct Buffer {
    void* data;
    int64_t count;
    DType dtype;
  };
  // A non-blocking allreduce in flight, for DataParallel: each backend's own
  // (requests, an event). Made once by NewPending, reused by every start.
  class Pending {
   public:
    virtual ~Pending() = default;
  };

  virtual absl::Status AllReduceBuffer(Buffer data, Reduce op, const Operation& what) = 0;
  virtual absl::Status BroadcastBuffer(Buffer data, int root, const Operation& what) = 0;
  virtual std::unique_ptr<Pending> NewPending() = 0;
  // Starts an allreduce of `data` into `pending`, which must be idle; Finish waits
  // for it within the timeout. Progress moves it on without waiting, where the
  // backend needs that (Open MPI advances a collective only inside an MPI call).
  virtual absl::Status StartAllReduce(Buffer data, Reduce op, Pending& pending,
                                      const Operation& what) = 0;
  virtual void Progress(Pending& pending) {}
  virtual absl::Status Finish(Pending& pending) = 0;

  // "dist: <collective> of <operand> on rank r of n: <why>".
  absl::Status Fail(absl::StatusCode code, const Operation& what,
                    absl::string_view why) const;
  // DeadlineExceeded for `what` after the timeout; the group is then unusable.
  absl::Status TimedOut(const Operation& what) const;
  const ProcessGroupOptions& options() const { return options_; }

 private:
  friend class DataParallel;

  // The tensor's data as a Buffer, if it is a contiguous f32 or f64 tensor on
  // device(); else an error naming the collective and the tensor.
  absl::StatusOr<Buffer> Operand(const Operation& what, const Tensor& t) const;
  template <class T>
  absl::Status AllReduceHost(absl::Span<T> data, Reduce op, absl::string_view what);

  int rank_;
  int size_;
  Device device_;
  ProcessGroupOptions options_;
};

}  // namespace tapegrad::dist

#endif  // TAPEGRAD_DIST_PROCESS_GROUP_H_
