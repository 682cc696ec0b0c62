// The MPI process group (ProcessGroup::Mpi): collectives on host memory through
// Open MPI's non-blocking calls, each waited for within the group's timeout.
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/str_format.h"
#include "dist/internal/allreduce_algorithm.h"
#include "dist/process_group.h"

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

MPI_Datatype MpiType(DType dtype) {
  return dtype == DType::kF32 ? MPI_FLOAT : MPI_DOUBLE;
}

// Large allreduces go in chunks, which bounds the temporary buffer Open MPI
// takes for each (as large as the call) and keeps counts within an int. With
// the algorithm chosen by size (Note [Allreduce algorithm]), one call of 16 MB
// runs as fast as a blocking MPI_Allreduce.
constexpr size_t kChunkBytes = size_t{64} << 20;

// Posts an in-place allreduce of `count` elements at `data` (each `element_bytes`)
// on `comm`, with the algorithm for its size: every allreduce goes through here.
int PostAllReduce(void* data, int count, MPI_Datatype type, size_t element_bytes,
                  MPI_Op op, MPI_Comm comm, MPI_Request* request) {
  internal::ChooseAllreduceAlgorithm(count * element_bytes);
  return MPI_Iallreduce(MPI_IN_PLACE, data, count, type, op, comm, request);
}

}  // namespace

class MpiGroup final : public ProcessGroup {
 public:
  MpiGroup(MPI_Comm comm, int rank, int size, ProcessGroupOptions options)
      : ProcessGroup(rank, size, Device::Cpu(), options), comm_(comm) {}
  ~MpiGroup() override;

  const char* backend() const override { return "mpi"; }
  absl::StatusOr<bool> AllAgree(uint64_t value, absl::string_view what) override;
  absl::Status Barrier() override;

 protected:
  absl::Status AllReduceBuffer(Buffer data, Reduce op, const Operation& what) override;
  absl::Status BroadcastBuffer(Buffer data, int root, const Operation& what) override;
  std::unique_ptr<Pending> NewPending() override;
  absl::Status StartAllReduce(Buffer data, Reduce op, Pending& pending,
                              const Operation& what) override;
  void Progress(Pending& pending) override;
  absl::Status Finish(Pending& pending) override;

 private:
  // Chunks of one allreduce in flight, and what Finish does with them.
  struct MpiPending : Pending {
    std::vector<MPI_Request> requests;
    Buffer data{};
    Reduce op = Reduce::kSum;
    Operation what{"allreduce"};
  };

  // Usable: no collective of this group timed out.
  absl::Status CheckUsable(const Operation& what) const;
  // Checks that the group is usable, then runs `start` (which posts a
  // non-blocking collective into *request) and waits for it.
  template <class Start>
  absl::Status Run(const Operation& what, const Start& start);
  absl::Status Wait(MPI_Request* request, const Operation& what);
  // Waits for each of `requests`; a timeout leaves the group unusable.
  absl::Status WaitAll(absl::Span<MPI_Request> requests, const Operation& what);
  // The mean from the sum, in place.
  void Divide(Buffer data) const;

  MPI_Comm comm_;
  // A collective that timed out: still posted, so the group refuses new ones.
  MPI_Request abandoned_ = MPI_REQUEST_NULL;
  std::string abandoned_what_;
};

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
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return std::unique_ptr<ProcessGroup>(new MpiGroup(comm, rank, size, options));
}

MpiGroup::~MpiGroup() {
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

absl::Status MpiGroup::Wait(MPI_Request* request, const Operation& what) {
  const auto deadline = std::chrono::steady_clock::now() + options().timeout;
  for (int polls = 0;; ++polls) {
    int done = 0;
    const int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
    if (done) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) return TimedOut(what);
    // Open MPI advances a non-blocking collective only inside MPI_Test: a sleep
    // between tests stalls every round of it (a 4 MB allreduce ran at half the
    // speed of a blocking MPI_Allreduce). So test continuously, as a blocking
    // call would, but let other runnable threads have the core in between.
    if (polls > 1000) std::this_thread::yield();
  }
}

absl::Status MpiGroup::WaitAll(absl::Span<MPI_Request> requests, const Operation& what) {
  for (MPI_Request& request : requests) {
    if (request == MPI_REQUEST_NULL) continue;  // done (MPI_Test nulls it)
    absl::Status s = Wait(&request, what);
    if (absl::IsDeadlineExceeded(s)) {
      abandoned_ = request;
      abandoned_what_ = what.Name();
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MpiGroup::CheckUsable(const Operation& what) const {
  if (abandoned_ == MPI_REQUEST_NULL) return absl::OkStatus();
  return Fail(absl::StatusCode::kFailedPrecondition, what,
              "an earlier " + abandoned_what_ + " timed out; the group is unusable");
}

template <class Start>
absl::Status MpiGroup::Run(const Operation& what, const Start& start) {
  if (absl::Status s = CheckUsable(what); !s.ok()) return s;
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = start(&request);
  if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
  return WaitAll(absl::MakeSpan(&request, 1), what);
}

void MpiGroup::Divide(Buffer data) const {
  const auto divide = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    const T scale = T(1) / static_cast<T>(size());
    for (int64_t i = 0; i < data.count; ++i) p[i] *= scale;
  };
  if (data.dtype == DType::kF32) {
    divide(static_cast<float*>(data.data));
  } else {
    divide(static_cast<double*>(data.data));
  }
}

absl::Status MpiGroup::AllReduceBuffer(Buffer data, Reduce op, const Operation& what) {
  const size_t element = DTypeSize(data.dtype);
  const size_t chunk = kChunkBytes / element;
  const size_t count = static_cast<size_t>(data.count);
  char* const base = static_cast<char*>(data.data);
  for (size_t begin = 0; begin < count; begin += chunk) {
    const int n = static_cast<int>(std::min(chunk, count - begin));
    absl::Status s = Run(what, [&](MPI_Request* r) {
      return PostAllReduce(base + begin * element, n, MpiType(data.dtype), element,
                           MPI_SUM, comm_, r);
    });
    if (!s.ok()) return s;
  }
  if (op == Reduce::kMean) Divide(data);
  return absl::OkStatus();
}

absl::Status MpiGroup::BroadcastBuffer(Buffer data, int root, const Operation& what) {
  const int64_t bytes = data.count * static_cast<int64_t>(DTypeSize(data.dtype));
  if (bytes > std::numeric_limits<int>::max()) {
    return Fail(absl::StatusCode::kInvalidArgument, what, "more than 2 GiB in one call");
  }
  return Run(what, [&](MPI_Request* r) {
    return MPI_Ibcast(data.data, static_cast<int>(bytes), MPI_BYTE, root, comm_, r);
  });
}

std::unique_ptr<ProcessGroup::Pending> MpiGroup::NewPending() {
  return std::make_unique<MpiPending>();
}

absl::Status MpiGroup::StartAllReduce(Buffer data, Reduce op, Pending& pending,
                                      const Operation& what) {
  if (absl::Status s = CheckUsable(what); !s.ok()) return s;
  auto& p = static_cast<MpiPending&>(pending);
  const size_t element = DTypeSize(data.dtype);
  const size_t chunk = kChunkBytes / element;
  const size_t count = static_cast<size_t>(data.count);
  p.requests.assign((count + chunk - 1) / chunk, MPI_REQUEST_NULL);
  p.data = data;
  p.op = op;
  p.what = what;
  char* const base = static_cast<char*>(data.data);
  for (size_t begin = 0, k = 0; begin < count; begin += chunk, ++k) {
    const int n = static_cast<int>(std::min(chunk, count - begin));
    const int rc = PostAllReduce(base + begin * element, n, MpiType(data.dtype), element,
                                 MPI_SUM, comm_, &p.requests[k]);
    if (rc != MPI_SUCCESS) return Fail(absl::StatusCode::kInternal, what, MpiError(rc));
  }
  return absl::OkStatus();
}

void MpiGroup::Progress(Pending& pending) {
  for (MPI_Request& request : static_cast<MpiPending&>(pending).requests) {
    if (request == MPI_REQUEST_NULL) continue;
    int done = 0;
    // An error here comes back from Finish, which tests the same request.
    if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
  }
}

absl::Status MpiGroup::Finish(Pending& pending) {
  auto& p = static_cast<MpiPending&>(pending);
  absl::Status s = WaitAll(absl::MakeSpan(p.requests), p.what);
  if (s.ok() && p.op == Reduce::kMean) Divide(p.data);
  return s;
}

absl::StatusOr<bool> MpiGroup::AllAgree(uint64_t value, absl::string_view what) {
  uint64_t extremes[2] = {value, ~value};  // the max of value and of its complement
  absl::Status s = Run(Operation{"agreement", nullptr, what}, [&](MPI_Request* r) {
    return PostAllReduce(extremes, 2, MPI_UINT64_T, sizeof(extremes[0]), MPI_MAX, comm_,
                         r);
  });
  if (!s.ok()) return s;
  return extremes[0] == value && ~extremes[1] == value;  // max == min == value
}

absl::Status MpiGroup::Barrier() {
  return Run(Operation{"barrier"},
             [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
}

}  // namespace tapegrad::dist
