#include "core/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/scalar_ops.h"
#include "core/tape.h"

namespace tapegrad {
namespace {

absl::Status DiagnoseDetached(const Value& v, const char* op) {
  if (v.index() == Value().index()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: operand is an empty Value (default-constructed, or the "
                        "result of an op whose operands were on no tape)",
                        op));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: operand was created with no current tape on this thread (use "
                      "tapegrad::TapeScope, or Tape::Leaf)",
                      op));
}

}  // namespace

Value::Value(double data) {
  Tape* tape = Tape::Current();
  if (tape == nullptr) {
    index_ = kNoCurrentTape;
    return;
  }
  *this = tape->Leaf(data);
}

Value Value::FromBits(HandleBits bits) {
  Value v;
  v.tape_ = bits.tape;
  v.index_ = bits.index;
  v.tag_ = bits.tag;
  if (v.ok()) v.data_ = bits.tape->value_[bits.index];
  return v;
}

absl::Status Value::Status(HandleBits bits) {
  const Value v = FromBits(bits);
  if (v.tape_ == nullptr) {
    if (v.index_ == kMovedFrom) {
      return absl::InvalidArgumentError(
          "Value: moved from (std::move into an op consumes it)");
    }
    return DiagnoseDetached(v, "Value");
  }
  return v.tape_->IsLive(v) ? absl::OkStatus() : v.tape_->Diagnose(v, "Value");
}

absl::StatusOr<double> Value::TryData(HandleBits bits) {
  if (absl::Status s = Status(bits); !s.ok()) return s;
  return bits.tape->value_[bits.index];
}

absl::StatusOr<double> Value::TryGrad(HandleBits bits) {
  if (absl::Status s = Status(bits); !s.ok()) return s;
  return bits.tape->adj_[bits.index];
}

void Value::SetDataAround(HandleBits bits, double data) {
  const Value v = FromBits(bits);
  if (v.ok()) {
    // Note [Data in the handle]: a write around the sole handle marks the slot, so
    // that the sole handle reads the slot from now on.
    v.tape_->value_[v.index_] = data;
    v.tape_->Unclean(v.index_);
  } else if (v.tape_ != nullptr) {
    v.tape_->Fail(v.tape_->Diagnose(v, "Value::set_data"));
  }
}

void Value::SetGrad(HandleBits bits, double grad) {
  const Value v = FromBits(bits);
  Tape* const tape = v.tape_;
  if (v.ok()) {
    tape->adj_[v.index_] = grad;
    tape->adjoints_end_ = std::max(tape->adjoints_end_, v.index_ + 1);
    // No op folds into this slot from now on: its result would take this grad.
    tape->Unclean(v.index_);
    // A non-zero grad may be propagated by a later Backward (Note [Dirty adjoints]).
    if (grad != 0.0 && v.index_ < tape->dirty_begin_) tape->dirty_begin_ = v.index_;
  } else if (tape != nullptr) {
    tape->Fail(tape->Diagnose(v, "Value::set_grad"));
  }
}

absl::Status Value::Backward(HandleBits bits) {
  if (bits.tape == nullptr) return Status(bits);
  return bits.tape->BackwardFrom(bits);
}

namespace {

// Python's repr of a float: the shortest string that reads back the same, with
// ".0" on integral values ("3.0", "0.1", "1e-07", "nan").
std::string PythonFloat(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), x);
  std::string s(buffer, end);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::ostream& internal::PrintValue(std::ostream& os, double data, double grad) {
  return os << "Value(data=" << PythonFloat(data) << ", grad=" << PythonFloat(grad)
            << ")";
}

Tape* ScalarOpsAccess::RecordFailure(const char* op, Operand a, const Operand* b) {
  // Blame the first operand that is not live; record on a tape if there is one.
  Tape* const tape = a.tape != nullptr ? a.tape : (b != nullptr ? b->tape : nullptr);
  if (tape == nullptr) return nullptr;
  for (const Operand* operand : {static_cast<const Operand*>(&a), b}) {
    if (operand == nullptr) continue;
    const Value v = Value::FromBits(*operand);
    if (v.tape_ == nullptr) {
      tape->RecordError(DiagnoseDetached(v, op));
      return tape;
    }
    // A poisoned operand already recorded why; do not overwrite the first error.
    if (v.index_ == Value::kPoisoned) return v.tape_;
    if (v.tape_ != tape || !tape->IsLive(v)) {
      tape->RecordError(tape->Diagnose(v, op));
      return tape;
    }
  }
  tape->RecordError(
      absl::InternalError(absl::StrFormat("%s: failed for no known reason", op)));
  return tape;
}

ABSL_ATTRIBUTE_NOINLINE Value ScalarOpsAccess::FailedAt(const char* op, const Value& a,
                                                        const Value& b) {
  return Failed(op, Bits(a), Bits(b));
}

Value ScalarOpsAccess::Sum(absl::Span<const Value> values) {
  if (values.empty()) {
    Tape* tape = Tape::Current();
    if (tape == nullptr) return Value();
    return tape->Fail(absl::InvalidArgumentError("sum: no operands"));
  }
  Tape* const t = values[0].tape_;
  double y = 0.0;
  for (const Value& v : values) {
    if (t == nullptr || !t->IsLive(v)) return FailedAt("sum", values[0], v);
    y += t->value_[v.index_];
  }
  return t->EmitGathered(y, values.size(), /*partials_are_one=*/true, [&](auto add) {
    for (const Value& v : values) add(v.index_, 1.0);
  });
}

Value ScalarOpsAccess::Dot(absl::Span<const Value> a, absl::Span<const Value> b) {
  Tape* const t = a.empty() ? Tape::Current() : a[0].tape_;
  if (a.size() != b.size() || a.empty()) {
    if (t == nullptr) return Value();
    return t->Fail(absl::InvalidArgumentError(absl::StrFormat(
        "dot: operands must be equally long and not empty (got %d and %d values)",
        a.size(), b.size())));
  }
  if (t == nullptr) return FailedAt("dot", a[0], b[0]);
  const double* const value = t->value_;
  double y = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ABSL_PREDICT_FALSE(!t->IsLive(a[i]) || !t->IsLive(b[i]))) {
      return FailedAt("dot", a[i], b[i]);
    }
    y += value[a[i].index_] * value[b[i].index_];
  }
  return t->EmitGathered(y, 2 * a.size(), /*partials_are_one=*/false, [&](auto add) {
    const double* const value = t->value_;  // after EmitGathered made room
    for (size_t i = 0; i < a.size(); ++i) {
      const uint32_t ia = a[i].index_, ib = b[i].index_;
      add(ia, value[ib]);
      add(ib, value[ia]);
    }
  });
}

}  // namespace tapegrad
