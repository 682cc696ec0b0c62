// Status plumbing that abseil 20220623 (Debian 12) does not ship.
//
//   absl::StatusOr<Value> MakeLoss(Tape& tape) {
//     TG_RETURN_IF_ERROR(tape.status());
//     TG_ASSIGN_OR_RETURN(TapeMark mark, tape.Mark());
//     ...
//   }
//
// TG_CHECK is for broken internal invariants only: it prints the condition and
// aborts. User mistakes are absl::Status values, never a TG_CHECK.
//
// Thread safety: the macros have no state of their own.
#ifndef TAPEGRAD_CORE_STATUS_MACROS_H_
#define TAPEGRAD_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tapegrad::internal {

// Prints "file:line: TG_CHECK failed: condition" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);

}  // namespace tapegrad::internal

#define TG_INTERNAL_CONCAT_IMPL(a, b) a##b
#define TG_INTERNAL_CONCAT(a, b) TG_INTERNAL_CONCAT_IMPL(a, b)

// Evaluates `expr` (an absl::Status) once and returns it from the enclosing
// function if it is not OK.
#define TG_RETURN_IF_ERROR(expr)                        \
  do {                                                  \
    ::absl::Status tg_internal_status = (expr);         \
    if (ABSL_PREDICT_FALSE(!tg_internal_status.ok())) { \
      return tg_internal_status;                        \
    }                                                   \
  } while (0)

// Evaluates `expr` (an absl::StatusOr<T>) once; returns its status from the
// enclosing function if it is not OK, else moves its value into `lhs`, which may
// be a declaration (`TG_ASSIGN_OR_RETURN(auto x, F());`).
#define TG_ASSIGN_OR_RETURN(lhs, expr) \
  TG_INTERNAL_ASSIGN_OR_RETURN(TG_INTERNAL_CONCAT(tg_internal_or_, __LINE__), lhs, expr)

#define TG_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (ABSL_PREDICT_FALSE(!tmp.ok())) {               \
    return std::move(tmp).status();                  \
  }                                                  \
  lhs = std::move(tmp).value()

// Aborts with a message when an internal invariant is broken.
#define TG_CHECK(condition)                                              \
  do {                                                                   \
    if (ABSL_PREDICT_FALSE(!(condition))) {                              \
      ::tapegrad::internal::CheckFailed(__FILE__, __LINE__, #condition); \
    }                                                                    \
  } while (0)

#endif  // TAPEGRAD_CORE_STATUS_MACROS_H_
