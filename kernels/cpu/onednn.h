// What the CPU kernels that run on oneDNN share: the engine and a stream per
// thread, oneDNN statuses as absl::Status, and the thread count a call may use.
//
//   TG_RETURN_IF_ERROR(onednn::Check(dnnl_primitive_execute(...), "conv2d"));
//
// oneDNN (Debian's libdnnl, OpenMP runtime) runs a primitive on an OpenMP team of
// the calling thread. ThreadsForCall() keeps the kernels' thread count
// (cpu::NumThreads) authoritative and shares ParallelFor's hold on the threads: a
// call that starts while another call holds them runs on one thread.
//
// Thread safety: every function may be called from any thread.
#ifndef TAPEGRAD_KERNELS_CPU_ONEDNN_H_
#define TAPEGRAD_KERNELS_CPU_ONEDNN_H_

#include <oneapi/dnnl/dnnl.h>

#include <cstdint>

#include "absl/status/status.h"

namespace tapegrad::cpu::onednn {

// The process's CPU engine (created on first use).
dnnl_engine_t Engine();
// The calling thread's stream on Engine().
dnnl_stream_t Stream();

// Ok, or an Internal error naming `what` and oneDNN's status.
absl::Status Check(dnnl_status_t status, const char* what);

// Multiply-adds below which a oneDNN call runs on the calling thread alone: about
// 3 us of one AVX-512 core, where an OpenMP team's fork and join cost about what
// they save. Above all, a team's barriers wait for every member: on cores that other
// work keeps busy (parallel tests, a loaded server), many small calls each wait
// for a descheduled thread, measured here as a request loop slowed 60-fold.
inline constexpr int64_t kParallelWork = int64_t{1} << 18;

// Holds the CPU for one oneDNN call of `work` multiply-adds: sets the calling
// thread's OpenMP team size to cpu::NumThreads(), or to 1 for work below
// kParallelWork or while another thread's call holds the threads.
class CallScope {
 public:
  explicit CallScope(int64_t work);
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

  // The team size this scope set: what a primitive made inside it is made for.
  int threads() const { return threads_; }

 private:
  bool owner_;
  int threads_;
};

}  // namespace tapegrad::cpu::onednn

#endif  // TAPEGRAD_KERNELS_CPU_ONEDNN_H_
