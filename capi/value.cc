// Scalar values: micrograd's Value through 64-bit (generation, slot) handles.
#include <vector>

#include "absl/status/status.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/scalar_ops.h"

namespace tapegrad::capi {
namespace {

// The live Value `v` names on `tape`, or a status naming `call` and `operand`.
tg_status Resolve(const char* call, const char* operand, const tg_tape* tape, tg_value v,
                  Value* out) {
  if (tape == nullptr) return NullArgument(call, "tape");
  const Value value = tape->tape.ValueAt(SlotOf(v));
  if (!value.ok() || value.generation() != GenerationOf(v)) {
    return Fail(
        absl::StatusCode::kFailedPrecondition,
        absl::StrFormat("%s: %s is a stale value (#%d of generation %d): the tape "
                        "was rewound, reset or compacted after it was made (the "
                        "tape holds %d values now, generation %d)",
                        call, operand, SlotOf(v), GenerationOf(v), tape->tape.size(),
                        tape->tape.generation()));
  }
  *out = value;
  return TG_OK;
}

// Hands `result` to the caller, or the error the tape recorded for it (which the
// call reports, so it is cleared from the tape: it must not fail later calls).
tg_status Emit(tg_tape* tape, const Value& result, tg_value* out) {
  if (!result.ok()) {
    const tg_status s = Fail(tape->tape.status());
    tape->tape.ClearError();
    return s != TG_OK ? s : Fail(result.status());
  }
  *out = Pack(result);
  return TG_OK;
}

// tg_value_inputs and tg_value_partials: calls write(n, input slot, partial) for the
// first `capacity` inputs of v's record and counts them all.
template <class Write>
tg_status VisitInputs(const char* call, const tg_tape* tape, tg_value v, const void* out,
                      size_t capacity, size_t* count, const Write& write) {
  TG_CAPI_NOT_NULL(call, count);
  if (out == nullptr && capacity != 0) return NullArgument(call, "out");
  Value value;
  if (tg_status s = Resolve(call, "v", tape, v, &value)) return s;
  return Guard(call, [&] {
    size_t n = 0;
    const absl::Status s = tape->tape.ForEachInput(
        value.index(), value.index(), [&](uint32_t, uint32_t index, double partial) {
          if (n < capacity) write(n, index, partial);
          ++n;
        });
    *count = n;
    return Fail(s);
  });
}

// Passes `s` on, noting it as the tape's first failure if it is one.
tg_status Noted(tg_tape* tape, tg_status s) {
  if (s != TG_OK && tape != nullptr && tape->first_error == TG_OK) {
    tape->first_error = s;
    tape->first_error_message = tg_last_error_message();
  }
  return s;
}

template <class Op>
tg_status Unary(const char* call, tg_tape* tape, tg_value a, tg_value* out, Op op) {
  TG_CAPI_NOT_NULL(call, out);
  return Noted(tape, [&] {
    Value va;
    if (tg_status s = Resolve(call, "a", tape, a, &va)) return s;
    return Guard(call, [&] { return Emit(tape, op(va), out); });
  }());
}

template <class Op>
tg_status Binary(const char* call, tg_tape* tape, tg_value a, tg_value b, tg_value* out,
                 Op op) {
  TG_CAPI_NOT_NULL(call, out);
  return Noted(tape, [&] {
    Value va, vb;
    if (tg_status s = Resolve(call, "a", tape, a, &va)) return s;
    if (tg_status s = Resolve(call, "b", tape, b, &vb)) return s;
    return Guard(call, [&] { return Emit(tape, op(va, vb), out); });
  }());
}

}  // namespace
}  // namespace tapegrad::capi

using tapegrad::Value;
using tapegrad::capi::Binary;
using tapegrad::capi::Fail;
using tapegrad::capi::Resolve;
using tapegrad::capi::Unary;

extern "C" {

tg_status tg_value_leaf(tg_tape* tape, double data, tg_value* out) {
  TG_CAPI_NOT_NULL("tg_value_leaf", tape);
  TG_CAPI_NOT_NULL("tg_value_leaf", out);
  return tapegrad::capi::Noted(tape,
                               tapegrad::capi::Emit(tape, tape->tape.Leaf(data), out));
}

tg_status tg_value_add(tg_tape* tape, tg_value a, tg_value b, tg_value* out) {
  return Binary("tg_value_add", tape, a, b, out,
                [](const Value& x, const Value& y) { return x + y; });
}
tg_status tg_value_sub(tg_tape* tape, tg_value a, tg_value b, tg_value* out) {
  return Binary("tg_value_sub", tape, a, b, out,
                [](const Value& x, const Value& y) { return x - y; });
}
tg_status tg_value_mul(tg_tape* tape, tg_value a, tg_value b, tg_value* out) {
  return Binary("tg_value_mul", tape, a, b, out,
                [](const Value& x, const Value& y) { return x * y; });
}
tg_status tg_value_div(tg_tape* tape, tg_value a, tg_value b, tg_value* out) {
  return Binary("tg_value_div", tape, a, b, out,
                [](const Value& x, const Value& y) { return x / y; });
}
tg_status tg_value_pow(tg_tape* tape, tg_value a, double exponent, tg_value* out) {
  return Unary("tg_value_pow", tape, a, out,
               [exponent](const Value& x) { return x.pow(exponent); });
}
tg_status tg_value_neg(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_neg", tape, a, out, [](const Value& x) { return -x; });
}
tg_status tg_value_relu(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_relu", tape, a, out, [](const Value& x) { return x.relu(); });
}
tg_status tg_value_tanh(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_tanh", tape, a, out, [](const Value& x) { return x.tanh(); });
}
tg_status tg_value_exp(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_exp", tape, a, out, [](const Value& x) { return x.exp(); });
}
tg_status tg_value_log(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_log", tape, a, out, [](const Value& x) { return x.log(); });
}
tg_status tg_value_sigmoid(tg_tape* tape, tg_value a, tg_value* out) {
  return Unary("tg_value_sigmoid", tape, a, out,
               [](const Value& x) { return x.sigmoid(); });
}

tg_status tg_value_data(const tg_tape* tape, tg_value v, double* out) {
  TG_CAPI_NOT_NULL("tg_value_data", out);
  Value value;
  if (tg_status s = Resolve("tg_value_data", "v", tape, v, &value)) return s;
  *out = value.data();
  return TG_OK;
}

tg_status tg_value_grad(const tg_tape* tape, tg_value v, double* out) {
  TG_CAPI_NOT_NULL("tg_value_grad", out);
  Value value;
  if (tg_status s = Resolve("tg_value_grad", "v", tape, v, &value)) return s;
  *out = value.grad();
  return TG_OK;
}

tg_status tg_value_set_data(tg_tape* tape, tg_value v, double data) {
  Value value;
  if (tg_status s = Resolve("tg_value_set_data", "v", tape, v, &value)) return s;
  value.set_data(data);
  return TG_OK;
}

tg_status tg_value_set_grad(tg_tape* tape, tg_value v, double grad) {
  Value value;
  if (tg_status s = Resolve("tg_value_set_grad", "v", tape, v, &value)) return s;
  value.set_grad(grad);
  return TG_OK;
}

tg_status tg_value_backward(tg_tape* tape, tg_value v) {
  return tapegrad::capi::Noted(tape, [&] {
    Value value;
    if (tg_status s = Resolve("tg_value_backward", "v", tape, v, &value)) return s;
    return tapegrad::capi::Guard("tg_value_backward", [&] {
      const absl::Status s = value.Backward();
      tape->tape.ClearError();
      return Fail(s);
    });
  }());
}

tg_status tg_value_inputs(const tg_tape* tape, tg_value v, tg_value* out, size_t capacity,
                          size_t* count) {
  return tapegrad::capi::VisitInputs(
      "tg_value_inputs", tape, v, out, capacity, count,
      [&](size_t n, uint32_t index, double) {
        out[n] = tapegrad::capi::Pack(tape->tape.ValueAt(index));
      });
}

tg_status tg_value_partials(const tg_tape* tape, tg_value v, double* out, size_t capacity,
                            size_t* count) {
  return tapegrad::capi::VisitInputs(
      "tg_value_partials", tape, v, out, capacity, count,
      [&](size_t n, uint32_t, double partial) { out[n] = partial; });
}

}  // extern "C"
