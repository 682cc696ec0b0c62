#include "kernels/cpu/onednn.h"

#include <omp.h>

#include "absl/strings/str_format.h"
#include "kernels/cpu/parallel.h"

namespace tapegrad::cpu::onednn {
namespace {

const char* StatusName(dnnl_status_t s) {
  switch (s) {
    case dnnl_success:
      return "success";
    case dnnl_out_of_memory:
      return "out of memory";
    case dnnl_invalid_arguments:
      return "invalid arguments";
    case dnnl_unimplemented:
      return "unimplemented";
    case dnnl_iterator_ends:
      return "iterator ends";
    case dnnl_runtime_error:
      return "runtime error";
    case dnnl_not_required:
      return "not required";
  }
  return "unknown status";
}

}  // namespace

dnnl_engine_t Engine() {
  static dnnl_engine_t engine = [] {
    dnnl_engine_t e = nullptr;
    if (dnnl_engine_create(&e, dnnl_cpu, 0) != dnnl_success)
      return dnnl_engine_t{nullptr};
    return e;
  }();
  return engine;
}

dnnl_stream_t Stream() {
  // One per thread, kept for the thread's life: a stream is not meant to be
  // shared between threads that submit at once.
  thread_local struct Owned {
    dnnl_stream_t stream = nullptr;
    Owned() {
      if (Engine() != nullptr)
        dnnl_stream_create(&stream, Engine(), dnnl_stream_default_flags);
    }
    ~Owned() {
      if (stream != nullptr) dnnl_stream_destroy(stream);
    }
  } owned;
  return owned.stream;
}

absl::Status Check(dnnl_status_t status, const char* what) {
  if (status == dnnl_success) return absl::OkStatus();
  const auto code = status == dnnl_out_of_memory ? absl::StatusCode::kResourceExhausted
                                                 : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrFormat("%s: oneDNN: %s", what, StatusName(status)));
}

CallScope::CallScope(int64_t work)
    : owner_(work >= kParallelWork && NumThreads() > 1 && HoldThreads()) {
#ifdef __SANITIZE_THREAD__
  // The OpenMP runtime is not instrumented: ThreadSanitizer would take its
  // barriers' hand-offs for races. Its own threads are tested without it.
  threads_ = 1;
#else
  threads_ = owner_ ? NumThreads() : 1;
#endif
  omp_set_num_threads(threads_);
}

CallScope::~CallScope() {
  if (owner_) ReleaseThreads();
}

}  // namespace tapegrad::cpu::onednn
