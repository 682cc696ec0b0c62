// ProcessGroup: the processes of one training job and the collectives between
// them, over MPI (Debian's Open MPI; start the job with mpirun).
//
//   absl::StatusOr<std::unique_ptr<tapegrad::dist::ProcessGroup>> group =
//       tapegrad::dist::ProcessGroup::Mpi();
//   if (!group.ok()) return group.status();
//   TG_RETURN_IF_ERROR((*group)->AllReduce(grad, tapegrad::dist::Reduce::kMean));
//
// Collectives work in place on contiguous CPU tensors of f32 or f64, or on spans.
// Every rank must make the same collectives in the same order. Each waits at most
// options.timeout: past it, the call returns DeadlineExceeded naming the
// collective, the operand and the ranks, and the group refuses every later call
// (an MPI collective cannot be cancelled). A rank that died, hung or took another
// path therefore makes the others fail with a clear error instead of hanging.
//
// MPI is initialised by the first group (MPI_THREAD_SERIALIZED) and finalised at
// exit. Each group works on a duplicate of MPI_COMM_WORLD, so groups never see
// each other's messages.
//
// Thread safety: one thread at a time per group; groups may be used from
// different threads, one call at a time.
#ifndef TAPEGRAD_DIST_PROCESS_GROUP_H_
#define TAPEGRAD_DIST_PROCESS_GROUP_H_

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/tensor.h"

namespace tapegrad::dist {

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
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Copies root's values of `t` into every rank's `t` (same shape and dtype).
  absl::Status Broadcast(Tensor& t, int root);
  // Replaces `t` on every rank by the sum (or mean) over ranks.
  absl::Status AllReduce(Tensor& t, Reduce op);
  absl::Status AllReduce(absl::Span<float> data, Reduce op, absl::string_view what);
  absl::Status AllReduce(absl::Span<double> data, Reduce op, absl::string_view what);
  // Non-blocking allreduce (a sum over ranks), for work that overlaps it:
  // StartAllReduce posts `data` in chunks, one request each in `requests`
  // (ChunkCount(data.size(), sizeof(element)) of them, which the caller owns);
  // Progress lets MPI move them on without waiting (Open MPI advances a
  // non-blocking collective only inside an MPI call); Finish waits for them all,
  // each within the timeout. Every rank must start the same allreduces in the same
  // order. `what` names the data in errors.
  static size_t ChunkCount(size_t elements, size_t element_bytes);
  absl::Status StartAllReduce(absl::Span<float> data, absl::Span<MPI_Request> requests,
                              absl::string_view what);
  absl::Status StartAllReduce(absl::Span<double> data, absl::Span<MPI_Request> requests,
                              absl::string_view what);
  void Progress(absl::Span<MPI_Request> requests);
  absl::Status Finish(absl::Span<MPI_Request> requests, absl::string_view what);
  // Whether every rank passed the same value (a model's fingerprint, say).
  absl::StatusOr<bool> AllAgree(uint64_t value, absl::string_view what);
  absl::Status Barrier();

 private:
  ProcessGroup(MPI_Comm comm, ProcessGroupOptions options);

  // What a collective works on, for messages: formatted only when one is needed,
  // so that a step's collectives allocate nothing.
  struct Operation {
    const char* collective;          // "allreduce"
    const Tensor* tensor = nullptr;  // its operand, or
    absl::string_view label = {};    // a description of it
    std::string Name() const;
  };

  template <class T>
  absl::Status AllReduceSpan(absl::Span<T> data, Reduce op, const Operation& what);
  template <class T>
  absl::Status StartAllReduceSpan(absl::Span<T> data, absl::Span<MPI_Request> requests,
                                  const Operation& what);
  // Usable: no collective of this group timed out.
  absl::Status CheckUsable(const Operation& what) const;
  // Checks that the group is usable, then runs `start` (which posts a
  // non-blocking collective into *request) and waits for it.
  template <class Start>
  absl::Status Run(const Operation& what, const Start& start);
  absl::Status Wait(MPI_Request* request, const Operation& what);
  absl::Status Fail(absl::StatusCode code, const Operation& what,
                    absl::string_view why) const;

  MPI_Comm comm_;
  ProcessGroupOptions options_;
  int rank_ = 0;
  int size_ = 1;
  // A collective that timed out: still posted, so the group refuses new ones.
  MPI_Request abandoned_ = MPI_REQUEST_NULL;
  std::string abandoned_what_;
};

}  // namespace tapegrad::dist

#endif  // TAPEGRAD_DIST_PROCESS_GROUP_H_
