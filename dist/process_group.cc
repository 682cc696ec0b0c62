#include "dist/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/internal/tensor_impl.h"
#include "dist/internal/allreduce_algorithm.h"

namespace tapegrad::dist {
namespace {

// MPI's message for an error code.
std::string MpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, length);
}

// Groups that still own a posted collective at exit: MPI_Finalize would wait for
// it, so the process exits without finalising (mpirun then reports the job failed,
// which it has).
int abandoned_groups = 0;

void FinalizeAtExit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && abandoned_groups == 0) MPI_Finalize();
}

absl::Status InitializeMpi() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return absl::OkStatus();
  int provided = 0;
  const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  if (rc != MPI_SUCCESS) {
    return absl::UnavailableError("dist: MPI_Init_thread failed: " + MpiError(rc));
  }
  std::atexit(FinalizeAtExit);
  return absl::OkStatus();
}

template <class T>
MPI_Datatype MpiType();
template <>
MPI_Datatype MpiType<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype MpiType<double>() {
  return MPI_DOUBLE;
}

// The tensor's elements, if it is a contiguous CPU tensor of f32 or f64; else an
// error naming the collective and the tensor.
absl::Status CheckOperand(const char* what, const Tensor& t) {
  if (!t.ok()) return t.status();
  if (t.device().type != DeviceType::kCpu || !t.is_contiguous() ||
      (t.dtype() != DType::kF32 && t.dtype() != DType::kF64)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: needs a contiguous f32 or f64 tensor on the cpu, got %s",
                        what, Describe(t)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Mpi(
    ProcessGroupOptions options) {
  if (absl::Status s = InitializeMpi(); !s.ok()) return s;
  MPI_Comm comm;
  const int rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  if (rc != MPI_SUCCESS) {
    return absl::UnavailableError("dist: MPI_Comm_dup failed: " + MpiError(rc));
  }
  // Errors come back as codes, never as an abort of the job.
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(comm, options));
}

ProcessGroup::ProcessGroup(MPI_Comm comm, ProcessGroupOptions options)
    : comm_(comm), options_(options) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

ProcessGroup::~ProcessGroup() {
  if (abandoned_ != MPI_REQUEST_NULL) {
    // Give the late ranks one more timeout to arrive; past it, leave the request
    // (and MPI) as they are rather than hang the process.
    if (!Wait(&abandoned_, Operation{abandoned_what_.c_str()}).ok()) {
      ++abandoned_groups;
      return;
    }
  }
  MPI_Comm_free(&comm_);
}

std::string ProcessGroup::Operation::Name() const {
  if (tensor != nullptr) return absl::StrCat(collective, " of ", Describe(*tensor));
  if (label.empty()) return collective;
  return absl::StrCat(collective, " of ", label);
}

absl::Status ProcessGroup::Fail(absl::StatusCode code, const Operation& what,
                                absl::string_view why) const {
  return absl::Status(code, absl::StrFormat("dist: %s on rank %d of %d: %s", what.Name(),
                                            rank_, size_, why));
}

absl::Status ProcessGroup::Wait(MPI_Request* request, const Operation& what) {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (int polls = 0;; ++polls) {
    int done = 0;
    const int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
    if (done) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(absl::StatusCode::kDeadlineExceeded, what,
                  absl::StrFormat("the other ranks did not join within %d ms (one "
                                  "may have failed, exited or taken another path); "
                                  "this group refuses further collectives",
                                  options_.timeout.count()));
    }
    // Open MPI advances a non-blocking collective only inside MPI_Test: a sleep
    // between tests stalls every round of it (a 4 MB allreduce ran at half the
    // speed of a blocking MPI_Allreduce). So test continuously, as a blocking
    // call would, but let other runnable threads have the core in between.
    if (polls > 1000) std::this_thread::yield();
  }
}

absl::Status ProcessGroup::CheckUsable(const Operation& what) const {
  if (abandoned_ == MPI_REQUEST_NULL) return absl::OkStatus();
  return Fail(absl::StatusCode::kFailedPrecondition, what,
              "an earlier " + abandoned_what_ + " timed out; the group is unusable");
}

template <class Start>
absl::Status ProcessGroup::Run(const Operation& what, const Start& start) {
  if (absl::Status s = CheckUsable(what); !s.ok()) return s;
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = start(&request);
  if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
  absl::Status s = Wait(&request, what);
  if (absl::IsDeadlineExceeded(s)) {
    abandoned_ = request;
    abandoned_what_ = what.Name();
  }
  return s;
}

// Large allreduces go in chunks, which bounds the temporary buffer Open MPI
// takes for each (as large as the call) and keeps counts within an int. With
// the algorithm chosen by size (Note [Allreduce algorithm]), one call of 16 MB
// runs as fast as a blocking MPI_Allreduce.
constexpr size_t kChunkBytes = size_t{64} << 20;

template <class T>
absl::Status ProcessGroup::AllReduceSpan(absl::Span<T> data, Reduce op,
                                         const Operation& what) {
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Fail(absl::StatusCode::kInvalidArgument, what,
                "more than 2^31 - 1 elements in one call");
  }
  const size_t chunk = std::max<size_t>(1, kChunkBytes / sizeof(T));
  absl::Status s;
  for (size_t begin = 0; begin < data.size() && s.ok(); begin += chunk) {
    const int count = static_cast<int>(std::min(chunk, data.size() - begin));
    s = Run(what, [&](MPI_Request* r) {
      internal::ChooseAllreduceAlgorithm(count * sizeof(T));
      return MPI_Iallreduce(MPI_IN_PLACE, data.data() + begin, count, MpiType<T>(),
                            MPI_SUM, comm_, r);
    });
  }
  if (!s.ok() || op == Reduce::kSum) return s;
  const T scale = T(1) / static_cast<T>(size_);
  for (T& v : data) v *= scale;
  return absl::OkStatus();
}

size_t ProcessGroup::ChunkCount(size_t elements, size_t element_bytes) {
  const size_t chunk = std::max<size_t>(1, kChunkBytes / element_bytes);
  return (elements + chunk - 1) / chunk;
}

template <class T>
absl::Status ProcessGroup::StartAllReduceSpan(absl::Span<T> data,
                                              absl::Span<MPI_Request> requests,
                                              const Operation& what) {
  if (absl::Status s = CheckUsable(what); !s.ok()) return s;
  if (data.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      requests.size() != ChunkCount(data.size(), sizeof(T))) {
    return Fail(absl::StatusCode::kInvalidArgument, what,
                "more than 2^31 - 1 elements, or not one request per chunk");
  }
  const size_t chunk = std::max<size_t>(1, kChunkBytes / sizeof(T));
  for (size_t begin = 0, k = 0; begin < data.size(); begin += chunk, ++k) {
    const int count = static_cast<int>(std::min(chunk, data.size() - begin));
    requests[k] = MPI_REQUEST_NULL;
    internal::ChooseAllreduceAlgorithm(count * sizeof(T));
    const int rc = MPI_Iallreduce(MPI_IN_PLACE, data.data() + begin, count, MpiType<T>(),
                                  MPI_SUM, comm_, &requests[k]);
    if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
  }
  return absl::OkStatus();
}

absl::Status ProcessGroup::StartAllReduce(absl::Span<float> data,
                                          absl::Span<MPI_Request> requests,
                                          absl::string_view what) {
  return StartAllReduceSpan(data, requests, Operation{"allreduce", nullptr, what});
}

absl::Status ProcessGroup::StartAllReduce(absl::Span<double> data,
                                          absl::Span<MPI_Request> requests,
                                          absl::string_view what) {
  return StartAllReduceSpan(data, requests, Operation{"allreduce", nullptr, what});
}

void ProcessGroup::Progress(absl::Span<MPI_Request> requests) {
  for (MPI_Request& request : requests) {
    if (request == MPI_REQUEST_NULL) continue;  // done (MPI_Test nulls it)
    int done = 0;
    // An error here comes back from Finish, which tests the same request.
    if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
  }
}

absl::Status ProcessGroup::Finish(absl::Span<MPI_Request> requests,
                                  absl::string_view what) {
  const Operation op{"allreduce", nullptr, what};
  for (MPI_Request& request : requests) {
    if (request == MPI_REQUEST_NULL) continue;
    absl::Status s = Wait(&request, op);
    if (absl::IsDeadlineExceeded(s)) {
      abandoned_ = request;
      abandoned_what_ = op.Name();
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ProcessGroup::AllReduce(absl::Span<float> data, Reduce op,
                                     absl::string_view what) {
  return AllReduceSpan(data, op, Operation{"allreduce", nullptr, what});
}

absl::Status ProcessGroup::AllReduce(absl::Span<double> data, Reduce op,
                                     absl::string_view what) {
  return AllReduceSpan(data, op, Operation{"allreduce", nullptr, what});
}

absl::Status ProcessGroup::AllReduce(Tensor& t, Reduce op) {
  if (absl::Status s = CheckOperand("allreduce", t); !s.ok()) return s;
  const size_t n = static_cast<size_t>(t.numel());
  const Operation what{"allreduce", &t};
  if (t.dtype() == DType::kF32) {
    return AllReduceSpan(absl::MakeSpan(t.impl()->data_as<float>(), n), op, what);
  }
  return AllReduceSpan(absl::MakeSpan(t.impl()->data_as<double>(), n), op, what);
}

absl::Status ProcessGroup::Broadcast(Tensor& t, int root) {
  if (absl::Status s = CheckOperand("broadcast", t); !s.ok()) return s;
  const Operation name{"broadcast", &t};
  if (root < 0 || root >= size_) {
    return Fail(absl::StatusCode::kInvalidArgument, name,
                absl::StrFormat("root %d is not a rank", root));
  }
  const int64_t bytes = t.numel() * (t.dtype() == DType::kF32 ? 4 : 8);
  if (bytes > std::numeric_limits<int>::max()) {
    return Fail(absl::StatusCode::kInvalidArgument, name, "more than 2 GiB in one call");
  }
  return Run(name, [&](MPI_Request* r) {
    return MPI_Ibcast(t.impl()->data(), static_cast<int>(bytes), MPI_BYTE, root, comm_,
                      r);
  });
}

absl::StatusOr<bool> ProcessGroup::AllAgree(uint64_t value, absl::string_view what) {
  uint64_t extremes[2] = {value, ~value};  // the max of value and of its complement
  absl::Status s = Run(Operation{"agreement", nullptr, what}, [&](MPI_Request* r) {
    internal::ChooseAllreduceAlgorithm(sizeof(extremes));
    return MPI_Iallreduce(MPI_IN_PLACE, extremes, 2, MPI_UINT64_T, MPI_MAX, comm_, r);
  });
  if (!s.ok()) return s;
  return extremes[0] == value && ~extremes[1] == value;  // max == min == value
}

absl::Status ProcessGroup::Barrier() {
  return Run(Operation{"barrier"},
             [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
}

}  // namespace tapegrad::dist
