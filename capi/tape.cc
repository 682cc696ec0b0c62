// Tapes, marks, the no-grad scope and tape statistics.
#include <vector>

#include "absl/status/status.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/grad_mode.h"

namespace tapegrad::capi {
namespace {

// This thread's no-grad nesting: tg_no_grad_exit restores what enter saw.
thread_local std::vector<bool> no_grad_saved;
// The handle tg_tape_set_current was given, while its tape is the current one.
thread_local tg_tape* current = nullptr;

tg_status CheckMarkTape(const char* call, const tg_tape* tape, const tg_mark* mark) {
  if (mark->tape == nullptr) {
    return Fail(absl::StatusCode::kFailedPrecondition,
                absl::StrFormat("%s: the mark's tape was destroyed", call));
  }
  if (mark->tape != tape) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: the mark was taken on another tape", call));
  }
  return TG_OK;
}

}  // namespace
}  // namespace tapegrad::capi

using tapegrad::capi::Fail;
using tapegrad::capi::Guard;

extern "C" {

tg_status tg_tape_create(uint64_t byte_limit, tg_tape** out) {
  TG_CAPI_NOT_NULL("tg_tape_create", out);
  return Guard("tg_tape_create", [&] {
    tapegrad::TapeOptions options;
    options.byte_limit = byte_limit;
    auto tape =
        std::unique_ptr<tg_tape>(new tg_tape{tapegrad::Tape(options), TG_OK, {}, {}, {}});
    if (!tape->tape.status().ok()) return Fail(tape->tape.status());  // a limit too small
    tapegrad::capi::RegisterTape(tape.get());
    *out = tape.release();
    return TG_OK;
  });
}

void tg_tape_destroy(tg_tape* tape) {
  if (tape == nullptr) return;
  if (tapegrad::Tape::Current() == &tape->tape) tg_tape_set_current(nullptr);
  tapegrad::capi::UnregisterTape(tape);
  delete tape;
}

tg_status tg_tape_set_current(tg_tape* tape) {
  tapegrad::internal::current_tape = tape != nullptr ? &tape->tape : nullptr;
  tapegrad::capi::current = tape;
  return TG_OK;
}

tg_tape* tg_tape_current(void) {
  tg_tape* tape = tapegrad::capi::current;
  return tape != nullptr && tapegrad::Tape::Current() == &tape->tape ? tape : nullptr;
}

tg_status tg_tape_mark(tg_tape* tape, tg_mark** out) {
  TG_CAPI_NOT_NULL("tg_tape_mark", tape);
  TG_CAPI_NOT_NULL("tg_tape_mark", out);
  return Guard("tg_tape_mark", [&] {
    auto mark = std::make_unique<tg_mark>(tg_mark{tape->tape.Mark(), tape});
    tapegrad::capi::TrackMark(mark.get());
    *out = mark.release();
    return TG_OK;
  });
}

void tg_mark_destroy(tg_mark* mark) {
  if (mark == nullptr) return;
  tapegrad::capi::UntrackMark(mark);
  delete mark;
}

tg_status tg_mark_first_value(const tg_mark* mark, uint64_t* out) {
  TG_CAPI_NOT_NULL("tg_mark_first_value", mark);
  TG_CAPI_NOT_NULL("tg_mark_first_value", out);
  if (mark->tape == nullptr) {
    return Fail(absl::StatusCode::kFailedPrecondition,
                "tg_mark_first_value: the mark's tape was destroyed");
  }
  // Values made after a mark get the generation the tape had when it was taken,
  // or had after the Rewind or Compact that rewrote it.
  const tapegrad::Value next = mark->tape->tape.ValueAt(mark->mark.values);
  const uint64_t generation =
      next.ok() ? next.generation() : mark->tape->tape.generation();
  *out = (generation << 32) | mark->mark.values;
  return TG_OK;
}

tg_status tg_tape_rewind(tg_tape* tape, const tg_mark* mark) {
  TG_CAPI_NOT_NULL("tg_tape_rewind", tape);
  TG_CAPI_NOT_NULL("tg_tape_rewind", mark);
  if (tg_status s = tapegrad::capi::CheckMarkTape("tg_tape_rewind", tape, mark)) return s;
  return Fail(tape->tape.Rewind(mark->mark));
}

tg_status tg_tape_reset(tg_tape* tape) {
  TG_CAPI_NOT_NULL("tg_tape_reset", tape);
  tape->tape.Reset();
  tape->first_error = TG_OK;
  tape->first_error_message.clear();
  return TG_OK;
}

tg_status tg_tape_compact(tg_tape* tape, const tg_mark* gap, size_t n_keep,
                          tg_mark* const* keep) {
  constexpr char kCall[] = "tg_tape_compact";
  TG_CAPI_NOT_NULL(kCall, tape);
  TG_CAPI_NOT_NULL(kCall, gap);
  TG_CAPI_NOT_NULL(kCall, keep);
  if (tg_status s = tapegrad::capi::CheckMarkTape(kCall, tape, gap)) return s;
  return Guard(kCall, [&] {
    std::vector<tapegrad::TapeMark*> marks(n_keep);
    for (size_t i = 0; i < n_keep; ++i) {
      TG_CAPI_NOT_NULL(kCall, keep[i]);
      if (tg_status s = tapegrad::capi::CheckMarkTape(kCall, tape, keep[i])) return s;
      marks[i] = &keep[i]->mark;
    }
    return Fail(tape->tape.Compact(gap->mark, marks));
  });
}

tg_status tg_tape_retain(tg_tape* tape, const tg_mark* from, const uint8_t* keep,
                         size_t count, uint64_t* new_values) {
  constexpr char kCall[] = "tg_tape_retain";
  TG_CAPI_NOT_NULL(kCall, tape);
  TG_CAPI_NOT_NULL(kCall, from);
  if (count != 0) {
    TG_CAPI_NOT_NULL(kCall, keep);
    TG_CAPI_NOT_NULL(kCall, new_values);
  }
  if (tg_status s = tapegrad::capi::CheckMarkTape(kCall, tape, from)) return s;
  return Guard(kCall, [&] {
    std::vector<uint32_t> slots(count);
    tapegrad::Tape& t = tape->tape;
    if (tg_status s = Fail(t.Retain(from->mark, absl::MakeConstSpan(keep, count),
                                    absl::MakeSpan(slots)))) {
      return s;
    }
    const uint64_t generation = uint64_t{t.generation()} << 32;
    for (size_t i = 0; i < count; ++i) {
      new_values[i] = slots[i] == 0xffffffffu ? 0 : generation | slots[i];
    }
    return TG_OK;
  });
}

tg_status tg_tape_stats_get(const tg_tape* tape, tg_tape_stats* out) {
  TG_CAPI_NOT_NULL("tg_tape_stats_get", tape);
  TG_CAPI_NOT_NULL("tg_tape_stats_get", out);
  const tapegrad::TapeStats s = tape->tape.Stats();
  *out = tg_tape_stats{s.values,
                       s.slot_bytes,
                       s.arena.bytes_used,
                       s.arena.bytes_reserved,
                       s.arena.chunk_count,
                       s.arena.high_water_bytes};
  return TG_OK;
}

tg_status tg_tape_zero_grad(tg_tape* tape) {
  TG_CAPI_NOT_NULL("tg_tape_zero_grad", tape);
  tape->tape.ZeroGrad();
  return TG_OK;
}

tg_status tg_tape_error(const tg_tape* tape) {
  TG_CAPI_NOT_NULL("tg_tape_error", tape);
  if (!tape->tape.status().ok()) return Fail(tape->tape.status());  // C++ sugar's
  if (tape->first_error == TG_OK) return TG_OK;
  return Fail(static_cast<absl::StatusCode>(tape->first_error),
              tape->first_error_message);
}

tg_status tg_no_grad_enter(void) {
  return Guard("tg_no_grad_enter", [] {
    tapegrad::capi::no_grad_saved.push_back(tapegrad::internal::grad_disabled);
    tapegrad::internal::grad_disabled = true;
    return TG_OK;
  });
}

tg_status tg_no_grad_exit(void) {
  auto& saved = tapegrad::capi::no_grad_saved;
  if (saved.empty()) {
    return Fail(absl::StatusCode::kFailedPrecondition,
                "tg_no_grad_exit: no tg_no_grad_enter to close on this thread");
  }
  tapegrad::internal::grad_disabled = saved.back();
  saved.pop_back();
  return TG_OK;
}

int tg_is_grad_enabled(void) { return tapegrad::IsGradEnabled() ? 1 : 0; }

}  // extern "C"
