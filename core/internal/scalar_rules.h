// The scalar ops' rules (one struct per op: its result and local partials) and
// ScalarOpsAccess, the record path every op of core/scalar_ops.h goes through.
// Part of core/scalar_ops.h, which includes it; to add a scalar op, add a rule
// here and a function that names it there.
//
// Thread safety: as Tape's; ops record on their operands' tape, on its thread.
#ifndef TAPEGRAD_CORE_INTERNAL_SCALAR_RULES_H_
#define TAPEGRAD_CORE_INTERNAL_SCALAR_RULES_H_

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/types/span.h"
#include "core/tape.h"
#include "core/value.h"

namespace tapegrad {
namespace internal {

template <class T>
inline constexpr bool kIsValue = std::is_same_v<std::decay_t<T>, Value>;
template <class T>
inline constexpr bool kIsNumber = std::is_arithmetic_v<std::remove_reference_t<T>>;
// An operand that may be folded into: a non-const rvalue Value.
template <class T>
inline constexpr bool kIsTemporary =
    !std::is_lvalue_reference_v<T> && !std::is_const_v<std::remove_reference_t<T>>;

template <class A, class B>
using EnableIfScalarOperands = std::enable_if_t<
    (kIsValue<A> && (kIsValue<B> || kIsNumber<B>)) || (kIsNumber<A> && kIsValue<B>), int>;
template <class A>
using EnableIfValue = std::enable_if_t<kIsValue<A>, int>;

// An op's result and its partials with respect to its two operands.
struct Local {
  double y, da, db;
};

// What a rule says of its partials whatever the operands: kDaIsOne, kDbIsOne if
// that partial is always +1 (Note [Shapes by rule] in core/internal/tape_record.h).
struct RuleDefaults {
  static constexpr bool kDaIsOne = false;
  static constexpr bool kDbIsOne = false;
};

// ---- The rules: one per op. ----
struct AddRule : RuleDefaults {
  static constexpr const char* kName = "add";
  static constexpr bool kDaIsOne = true;
  static constexpr bool kDbIsOne = true;
  static Local Eval(double a, double b) { return {a + b, 1.0, 1.0}; }
};
struct SubRule : RuleDefaults {
  static constexpr const char* kName = "sub";
  static constexpr bool kDaIsOne = true;
  static Local Eval(double a, double b) { return {a - b, 1.0, -1.0}; }
};
struct MulRule : RuleDefaults {
  static constexpr const char* kName = "mul";
  static Local Eval(double a, double b) { return {a * b, b, a}; }
};
struct DivRule : RuleDefaults {  // micrograd: a * b**-1
  static constexpr const char* kName = "div";
  static Local Eval(double a, double b) {
    const double inv = 1.0 / b;
    return {a * inv, inv, -inv * inv * a};
  }
};
struct NegRule : RuleDefaults {
  static constexpr const char* kName = "neg";
  static Local Eval(double a) { return {-a, -1.0, 0.0}; }
};
struct ReluRule : RuleDefaults {
  static constexpr const char* kName = "relu";
  static Local Eval(double a) {
    const double y = a < 0 ? 0.0 : a;
    return {y, y > 0 ? 1.0 : 0.0, 0.0};
  }
};
struct TanhRule : RuleDefaults {
  static constexpr const char* kName = "tanh";
  static Local Eval(double a) {
    const double t = Tanh(a);
    return {t, 1.0 - t * t, 0.0};
  }
  // glibc's tanh goes through expm1 and costs ~40 ns. Where |tanh(a)| > 1/2,
  // 1 - 2 / (exp(2|a|) + 1) has no cancellation and is within a few ulp at a
  // fraction of the cost; near 0, where that form cancels, use std::tanh.
  static double Tanh(double a) {
    const double m = std::abs(a);
    if (m < 0.5493061443340549) return std::tanh(a);  // atanh(1/2)
    const double t = 1.0 - 2.0 / (std::exp(2.0 * m) + 1.0);
    return std::copysign(t, a);
  }
};
struct ExpRule : RuleDefaults {
  static constexpr const char* kName = "exp";
  static Local Eval(double a) {
    const double e = std::exp(a);
    return {e, e, 0.0};
  }
};
struct LogRule : RuleDefaults {
  static constexpr const char* kName = "log";
  static Local Eval(double a) { return {std::log(a), 1.0 / a, 0.0}; }
};
struct SigmoidRule : RuleDefaults {
  static constexpr const char* kName = "sigmoid";
  static Local Eval(double a) {
    // exp of a non-positive number only: no overflow for large |a|.
    const double s =
        a >= 0 ? 1.0 / (1.0 + std::exp(-a)) : std::exp(a) / (1.0 + std::exp(a));
    return {s, s * (1.0 - s), 0.0};
  }
};
struct PowRule : RuleDefaults {  // exponent is a number, as in micrograd
  static constexpr const char* kName = "pow";
  double exponent;
  Local Eval(double a) const {
    return {std::pow(a, exponent), exponent * std::pow(a, exponent - 1.0), 0.0};
  }
};

}  // namespace internal

// The record path of every scalar op; reaches into Tape and Value.
struct ScalarOpsAccess {
  template <class Rule, class A, class B>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Binary(A&& a, B&& b) {
    using internal::kIsTemporary;
    using internal::kIsValue;
    if constexpr (kIsValue<A> && kIsValue<B>) {
      Tape* const t = a.tape_;
      if constexpr (kIsTemporary<A>) {
        // The common `temporary + other` first: CanFuse says a is live, and its
        // number is in the handle.
        double y;
        if (ABSL_PREDICT_TRUE(t != nullptr && t->CanFuse(a) && t->ReadLive(b, &y))) {
          const internal::Local l = Rule::Eval(a.data_, y);
          return t->FuseBinary(std::move(a), l.y, l.da, b.index_, l.db, Rule::kDaIsOne,
                               Rule::kDbIsOne);
        }
      }
      if constexpr (kIsTemporary<B>) {
        // `other + temporary` (`act + w * x`): CanFuse says b is live, and its
        // number is in the handle, so only a is read live.
        Tape* const tb = b.tape_;
        double x;
        if (ABSL_PREDICT_TRUE(tb != nullptr && tb->CanFuse(b) && tb->ReadLive(a, &x))) {
          const internal::Local l = Rule::Eval(x, b.data_);
          return tb->FuseBinary(std::move(b), l.y, l.db, a.index_, l.da, Rule::kDbIsOne,
                                Rule::kDaIsOne);
        }
      }
      double x, y;
      if (ABSL_PREDICT_FALSE(t == nullptr || !t->ReadLive(a, &x) ||
                             !t->ReadLive(b, &y))) {
        return Failed(Rule::kName, Bits(a), Bits(b));
      }
      const internal::Local l = Rule::Eval(x, y);
      return t->EmitBinary(l.y, a.index_, l.da, b.index_, l.db, Rule::kDaIsOne,
                           Rule::kDbIsOne);
    } else if constexpr (kIsValue<A>) {
      return OneOperand<Rule::kDaIsOne>(std::forward<A>(a), Rule::kName, [&](double x) {
        const internal::Local l = Rule::Eval(x, static_cast<double>(b));
        return Partial{l.y, l.da};
      });
    } else {
      return OneOperand<Rule::kDbIsOne>(std::forward<B>(b), Rule::kName, [&](double x) {
        const internal::Local l = Rule::Eval(static_cast<double>(a), x);
        return Partial{l.y, l.db};
      });
    }
  }

  template <class A, class Rule>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Unary(A&& a, const Rule& rule) {
    return OneOperand<Rule::kDaIsOne>(std::forward<A>(a), Rule::kName, [&](double x) {
      const internal::Local l = rule.Eval(x);
      return Partial{l.y, l.da};
    });
  }

  // sum_i values[i], one record.
  static Value Sum(absl::Span<const Value> values);
  // sum_i a[i] * b[i] (+ nothing else), one record with 2n inputs.
  static Value Dot(absl::Span<const Value> a, absl::Span<const Value> b);

 private:
  struct Partial {
    double y, dy_da;
  };
  // y = f(a) for an op with one Value operand; eval(a's number) gives y and dy/da.
  // `one`: dy/da is +1 by the op's rule.
  template <bool one, class A, class Eval>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value OneOperand(A&& a, const char* op,
                                                       const Eval& eval) {
    Tape* const t = a.tape_;
    if constexpr (internal::kIsTemporary<A>) {
      // CanFuse says a is live, and its number is in the handle.
      if (ABSL_PREDICT_TRUE(t != nullptr && t->CanFuse(a))) {
        const Partial p = eval(a.data_);
        return t->FuseUnary(std::move(a), p.y, p.dy_da, one);
      }
    }
    double x;
    if (ABSL_PREDICT_FALSE(t == nullptr || !t->ReadLive(a, &x)))
      return Failed(op, Bits(a));
    const Partial p = eval(x);
    return t->EmitUnary(p.y, a.index_, p.dy_da, one);
  }
  // The error path takes operands as their handles' fields, by value, so that no
  // op has to keep its result in memory for the sake of an address (Note [Data
  // in the handle] in core/internal/record_path.h).
  using Operand = Value::HandleBits;
  static Operand Bits(const Value& v) { return v.Bits(); }
  // Records why an op failed (on the operands' tape, when there is one) and
  // returns a poisoned or empty Value, built here so that it too reaches the
  // next op in registers.
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Failed(const char* op, Operand a, Operand b) {
    return Poisoned(RecordFailure(op, a, &b));
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Failed(const char* op, Operand a) {
    return Poisoned(RecordFailure(op, a, nullptr));
  }
  // The result is empty when no tape could hold the error. Built here, inline and
  // from constants, so that the result of every op stays in registers.
  static Value Poisoned(Tape* tape) {
    return tape == nullptr ? Value() : tape->Poisoned();
  }
  // Records the error of Failed (`b` null for ops of one Value); returns the tape
  // it went to, if any. In value.cc.
  static Tape* RecordFailure(const char* op, Operand a, const Operand* b);
  // Failed for operands in memory (the spans of Sum and Dot), out of line so that
  // their loops do not load the handles' bits for it. In value.cc.
  static Value FailedAt(const char* op, const Value& a, const Value& b);
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_SCALAR_RULES_H_
