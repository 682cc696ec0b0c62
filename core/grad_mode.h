// Thread-local gradient recording switch: inference without a tape record.
//
//   {
//     tapegrad::NoGradScope no_grad;     // this thread stops recording
//     Value y = model(x);                // computes values; records nothing
//   }                                    // recording resumes
//
// Inside a NoGradScope, every op still returns a Value holding its result, but the
// result is a constant on the tape: nothing flows back through it.
//
// Thread safety: the mode is per thread; scopes nest and restore what they found.
#ifndef TAPEGRAD_CORE_GRAD_MODE_H_
#define TAPEGRAD_CORE_GRAD_MODE_H_

namespace tapegrad {
namespace internal {

// initial-exec: one load off the thread pointer, also inside libtapegrad.so.
// __thread, not thread_local: constant-initialised, so no TLS wrapper call per read.
extern __thread bool grad_disabled __attribute__((tls_model("initial-exec")));

}  // namespace internal

// True unless a NoGradScope is active on this thread.
inline bool IsGradEnabled() { return !internal::grad_disabled; }

class NoGradScope {
 public:
  NoGradScope() : saved_(internal::grad_disabled) { internal::grad_disabled = true; }
  ~NoGradScope() { internal::grad_disabled = saved_; }
  NoGradScope(const NoGradScope&) = delete;
  NoGradScope& operator=(const NoGradScope&) = delete;

 private:
  bool saved_;
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_GRAD_MODE_H_
