// Sequences of C ABI calls picked by the fuzzer's bytes: tapes with small byte
// limits, scalar values (live, stale and made up), tensors of fuzzed shapes,
// dtypes and devices, every op, views, joins, losses, marks, rewinds, compaction,
// DLPack round trips, image ops, modules and optimizers, NULL handles. The contract under
// test is the C ABI's: any call returns a status, and nothing crashes, leaks or
// touches memory it should not (ASan + UBSan report those).
//
// Tapes are destroyed mid-sequence too: the tensors and marks on them must become
// stale handles, not dangling ones.
#include <cstdint>

#include "tests/fuzz/capi_fuzz_session.h"

namespace tapegrad::fuzz {

// ---- Tapes and scalar values.

void Session::NewTape() {
  if (!tapes_.empty() && (tapes_.size() >= 3 || in_.ConsumeBool())) {
    const size_t i = in_.ConsumeIntegralInRange<size_t>(0, tapes_.size() - 1);
    tg_tape_destroy(tapes_[i]);
    tapes_.erase(tapes_.begin() + static_cast<ptrdiff_t>(i));
    return;
  }
  static constexpr uint64_t kLimits[] = {0,      1000,    286783, 286784,
                                         300000, 1 << 20, 4 << 20};
  tg_tape* t = nullptr;
  if (tg_tape_create(in_.PickValueInArray(kLimits), &t) == TG_OK) tapes_.push_back(t);
}

void Session::ScalarOp() {
  tg_tape* tape = AnyTape();
  tg_value out = 0;
  const tg_value a = AnyValue(), b = AnyValue();
  tg_status s;
  switch (in_.ConsumeIntegralInRange<int>(0, 11)) {
    case 0:
      s = tg_value_leaf(tape, PickNumber(in_), &out);
      break;
    case 1:
      s = tg_value_add(tape, a, b, &out);
      break;
    case 2:
      s = tg_value_sub(tape, a, b, &out);
      break;
    case 3:
      s = tg_value_mul(tape, a, b, &out);
      break;
    case 4:
      s = tg_value_div(tape, a, b, &out);
      break;
    case 5:
      s = tg_value_pow(tape, a, PickNumber(in_), &out);
      break;
    case 6:
      s = tg_value_neg(tape, a, &out);
      break;
    case 7:
      s = tg_value_relu(tape, a, &out);
      break;
    case 8:
      s = tg_value_tanh(tape, a, &out);
      break;
    case 9:
      s = tg_value_exp(tape, a, &out);
      break;
    case 10:
      s = tg_value_log(tape, a, &out);
      break;
    default:
      s = tg_value_sigmoid(tape, a, in_.ConsumeBool() ? &out : nullptr);
      break;
  }
  KeepValue(s, out);
}

void Session::ScalarQueries() {
  tg_tape* tape = AnyTape();
  const tg_value v = AnyValue();
  double x = 0;
  tg_value inputs[4];
  double partials[4];
  size_t count = 0;
  switch (in_.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      tg_value_data(tape, v, &x);
      break;
    case 1:
      tg_value_grad(tape, v, &x);
      break;
    case 2:
      tg_value_set_data(tape, v, PickNumber(in_));
      break;
    case 3:
      tg_value_set_grad(tape, v, PickNumber(in_));
      break;
    case 4:
      tg_value_backward(tape, v);
      break;
    case 5:
      tg_value_inputs(tape, v, inputs, in_.ConsumeIntegralInRange<size_t>(0, 4), &count);
      tg_value_partials(tape, v, partials, in_.ConsumeIntegralInRange<size_t>(0, 4),
                        &count);
      break;
    case 6:
      tg_tape_zero_grad(tape);
      break;
    default: {
      tg_tape_stats stats;
      tg_tape_stats_get(tape, &stats);
      tg_tape_error(tape);
    }
  }
}

void Session::MarkRewindCompact() {
  tg_tape* tape = AnyTape();
  const int what = in_.ConsumeIntegralInRange<int>(0, 4);
  if (what == 0 || marks_.empty()) {
    tg_mark* m = nullptr;
    if (marks_.size() < 8 && tg_tape_mark(tape, &m) == TG_OK) marks_.push_back(m);
    return;
  }
  const size_t i = in_.ConsumeIntegralInRange<size_t>(0, marks_.size() - 1);
  uint64_t first = 0;
  switch (what) {
    case 1:
      tg_tape_rewind(tape, marks_[i]);
      break;
    case 2:
      tg_mark_first_value(marks_[i], &first);
      break;
    case 3: {
      std::vector<tg_mark*> keep(marks_.begin() + static_cast<ptrdiff_t>(i),
                                 marks_.end());
      tg_tape_compact(tape, marks_[in_.ConsumeIntegralInRange<size_t>(0, i)], keep.size(),
                      keep.data());
      break;
    }
    default:
      if (in_.ConsumeBool()) {
        tg_tape_reset(tape);
      } else {
        tg_mark_destroy(marks_[i]);
        marks_.erase(marks_.begin() + static_cast<ptrdiff_t>(i));
      }
  }
}

void Session::NoGrad() {
  if (in_.ConsumeBool()) {
    tg_no_grad_enter();
  } else {
    tg_no_grad_exit();
  }
}

}  // namespace tapegrad::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  tapegrad::fuzz::Session session(in);
  for (int steps = 0; steps < 64 && in.remaining_bytes() > 0; ++steps) session.Step();
  return 0;
}
