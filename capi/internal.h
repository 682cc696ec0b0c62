// What the C ABI's opaque handles are, and the helpers every capi/*.cc uses to turn
// statuses, null pointers and exceptions into tg_status codes with a message.
// Not installed; C users see only capi/tapegrad.h.
#ifndef TAPEGRAD_CAPI_INTERNAL_H_
#define TAPEGRAD_CAPI_INTERNAL_H_

#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "capi/tapegrad.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "nn/module.h"
#include "nn/optimizer.h"

struct tg_tape {
  tapegrad::Tape tape;
  // The first failed scalar call on this tape (tg_tape_error). Kept here, not as
  // the tape's sticky error, so that a failure a call has already returned does
  // not fail the tape's later calls; cleared by tg_tape_reset.
  tg_status first_error = TG_OK;
  std::string first_error_message;
  // The handles that point into this tape: tg_tape_destroy makes each one stale
  // (Note [Handles outliving their tape] in capi/handles.cc).
  absl::flat_hash_set<tg_tensor*> tensors;
  absl::flat_hash_set<tg_mark*> marks;
};
struct tg_mark {
  tapegrad::TapeMark mark;
  tg_tape* tape = nullptr;  // null once that tape is destroyed
};
struct tg_tensor {
  tapegrad::Tensor tensor;
  tg_tape* tape = nullptr;  // the C ABI tape it was recorded on, if any
};
struct tg_module {
  std::unique_ptr<tapegrad::nn::Module> module;
};
struct tg_optimizer {
  std::unique_ptr<tapegrad::nn::Optimizer> optimizer;
};

namespace tapegrad::capi {

// Stores `status`'s message as this thread's last error and returns its code.
tg_status Fail(const absl::Status& status);
// The same for an error made here.
tg_status Fail(absl::StatusCode code, const std::string& message);
// "<call>: <what> is NULL".
tg_status NullArgument(const char* call, const char* what);

// Runs `body` (returning tg_status) with every C++ exception turned into a status:
// nothing throws across the boundary.
template <class Body>
tg_status Guard(const char* call, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(absl::StatusCode::kResourceExhausted,
                absl::StrFormat("%s: out of memory", call));
  } catch (const std::exception& e) {
    return Fail(absl::StatusCode::kInternal, absl::StrFormat("%s: %s", call, e.what()));
  } catch (...) {
    return Fail(absl::StatusCode::kInternal,
                absl::StrFormat("%s: unknown C++ exception", call));
  }
}

// Copies `text` into buf (truncated, NUL-terminated) and its full length to *length.
tg_status WriteText(const char* call, const std::string& text, char* buf, size_t capacity,
                    size_t* length);

// The device a C call names by (type, index), or InvalidArgument naming `call`.
tg_status DeviceOf(const char* call, tg_device_type type, int index, Device* out);

// A new tg_tensor holding `t`, or its error status.
tg_status NewTensor(const char* call, Tensor t, tg_tensor** out);

// The tensors behind `params` (n of them), each checked to be a live heap tensor.
// Errors name the C argument (`argument`) and each tensor as "<kind> <i>".
tg_status CollectParameters(const char* call, tg_tensor* const* params, size_t n,
                            std::vector<Tensor>* out, const char* kind = "parameter",
                            const char* argument = "params");

// Handle tracking (capi/handles.cc). A tape made by tg_tape_create is registered
// until tg_tape_destroy; a tensor or mark on it is tracked by it until destroyed.
void RegisterTape(tg_tape* tape);
void UnregisterTape(tg_tape* tape);  // and makes every handle into it stale
void TrackTensor(tg_tensor* t);      // t->tensor's tape, if it is a tg_tape's
void UntrackTensor(tg_tensor* t);
void TrackMark(tg_mark* mark);
void UntrackMark(tg_mark* mark);

// TG_OK if `t` is a usable tensor, else the status that names `call` and `operand`
// ("tg_tensor_slice: x: ..."), with NULL as an error of its own.
tg_status Live(const char* call, const char* operand, const tg_tensor* t);

// A tensor argument of a C call, with its name in the header ("a", "indices").
struct TensorArg {
  const char* name;
  const tg_tensor* tensor;
};

// The shape of every call that makes one new tensor: checks `out`, then each of
// `args` in order (Live), then hands back make() as a new handle, or its error.
template <class Make>
tg_status ResultOf(const char* call, std::initializer_list<TensorArg> args,
                   tg_tensor** out, Make&& make) {
  if (out == nullptr) return NullArgument(call, "out");
  for (const TensorArg& arg : args) {
    if (tg_status s = Live(call, arg.name, arg.tensor)) return s;
  }
  return Guard(call, [&] { return NewTensor(call, make(), out); });
}

// ResultOf for the calls that map one tensor `x` to a new one: op(x->tensor).
template <class Op>
tg_status MapTensor(const char* call, const tg_tensor* x, tg_tensor** out, Op&& op) {
  return ResultOf(call, {{"x", x}}, out, [&] { return op(x->tensor); });
}

// A tg_value's parts.
inline uint32_t SlotOf(tg_value v) { return static_cast<uint32_t>(v); }
inline uint32_t GenerationOf(tg_value v) { return static_cast<uint32_t>(v >> 32); }
inline tg_value Pack(const Value& v) {
  return (static_cast<uint64_t>(v.generation()) << 32) | v.index();
}

}  // namespace tapegrad::capi

// Returns the NullArgument status from the enclosing C function when `ptr` is NULL.
#define TG_CAPI_NOT_NULL(call, ptr) \
  if ((ptr) == nullptr) return ::tapegrad::capi::NullArgument(call, #ptr)

#endif  // TAPEGRAD_CAPI_INTERNAL_H_
